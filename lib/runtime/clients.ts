/**
 * AWS SDK clients of the handlers, created once per execution environment and reused across
 * invocations (connection reuse is most of an SDK call's cost). Endpoints are never set here:
 * in Lambda the SDK finds AWS; locally the runtime sets AWS_ENDPOINT_URL_SQS /
 * AWS_ENDPOINT_URL_DYNAMODB, which the SDK reads — the handlers cannot tell the difference.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';

const requestHandler = {
  // Fail fast on a dead endpoint; the SDK's own retries (maxAttempts) then try again.
  connectionTimeout: 2_000,
  requestTimeout: 10_000,
  httpAgent: { keepAlive: true, maxSockets: 64 },
  httpsAgent: { keepAlive: true, maxSockets: 64 },
};

let sqs: SQSClient | undefined;
let documents: DynamoDBDocumentClient | undefined;

/** The shared SQS client. */
export function sqsClient(): SQSClient {
  sqs ??= new SQSClient({ maxAttempts: 3, requestHandler });
  return sqs;
}

/** The shared DynamoDB document client (plain JS values in and out). */
export function documentClient(): DynamoDBDocumentClient {
  documents ??= DynamoDBDocumentClient.from(new DynamoDBClient({ maxAttempts: 3, requestHandler }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return documents;
}
