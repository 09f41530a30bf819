/**
 * Events and contexts shaped exactly as AWS Lambda delivers them, for invoking the deployed
 * handler modules locally: SQS event source records, API Gateway REST proxy events, and the
 * invocation context (with a real `getRemainingTimeInMillis`).
 */
import { randomUUID } from 'node:crypto';
import type { Message } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, Context, SQSMessageAttributes, SQSRecord } from 'aws-lambda';

/** Dummy account id used in local ARNs. */
export const LOCAL_ACCOUNT_ID = '000000000000';

/**
 * Converts a message from `ReceiveMessage` (asked with `MessageSystemAttributeNames: ['All']` and
 * `MessageAttributeNames: ['All']`) into the record Lambda's SQS event source would deliver.
 */
export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: value.DataType ?? 'String',
      stringListValues: [],
      binaryListValues: [],
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') } : {}),
    };
  }
  const system = message.Attributes ?? {};
  return {
    messageId: message.MessageId as string,
    receiptHandle: message.ReceiptHandle as string,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: system.ApproximateReceiveCount ?? '1',
      SentTimestamp: system.SentTimestamp ?? String(Date.now()),
      SenderId: system.SenderId ?? 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: system.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(system.AWSTraceHeader ? { AWSTraceHeader: system.AWSTraceHeader } : {}),
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  } as SQSRecord;
}

export interface InvocationSettings {
  readonly functionName: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly region: string;
}

/** The Lambda context of one invocation; it times out at `deadline` (epoch ms), by default the timeout from now. */
export function createLambdaContext(
  settings: InvocationSettings,
  requestId: string = randomUUID(),
  deadline = Date.now() + settings.timeoutSeconds * 1000,
): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: settings.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${settings.region}:${LOCAL_ACCOUNT_ID}:function:${settings.functionName}`,
    memoryLimitInMB: String(settings.memoryMb),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${settings.functionName}`,
    logStreamName: `local/${requestId}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export interface HttpRequest {
  readonly method: string;
  /** The request path, e.g. `/orders/o-1`. */
  readonly path: string;
  /** The matched API Gateway resource, e.g. `/orders/{orderId}`. */
  readonly resource: string;
  readonly pathParameters?: Record<string, string>;
  readonly query?: URLSearchParams;
  readonly headers?: Record<string, string>;
  readonly body?: string | null;
  readonly sourceIp?: string;
}

/** An API Gateway REST API (v1) Lambda proxy event, as API Gateway builds it. */
export function toApiGatewayEvent(request: HttpRequest, stage = 'local'): APIGatewayProxyEvent {
  const headers = request.headers ?? {};
  const multiValueHeaders = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]]));
  const query = request.query && [...request.query.keys()].length > 0 ? request.query : undefined;
  const requestId = randomUUID();
  const now = new Date();
  return {
    resource: request.resource,
    path: request.path,
    httpMethod: request.method,
    headers,
    multiValueHeaders,
    queryStringParameters: query ? Object.fromEntries(query.entries()) : null,
    multiValueQueryStringParameters: query
      ? Object.fromEntries([...query.keys()].map((k) => [k, query.getAll(k)]))
      : null,
    pathParameters: request.pathParameters ?? null,
    stageVariables: null,
    body: request.body ?? null,
    isBase64Encoded: false,
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: 'local',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: request.method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: request.sourceIp ?? '127.0.0.1',
        user: null,
        userAgent: headers['user-agent'] ?? null,
        userArn: null,
      },
      path: `/${stage}${request.path}`,
      stage,
      requestId,
      requestTimeEpoch: now.getTime(),
      requestTime: now.toUTCString(),
      resourceId: 'local',
      resourcePath: request.resource,
    },
  };
}
