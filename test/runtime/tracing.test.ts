/**
 * Tracing as it runs in Lambda with active tracing: the environment Lambda sets (the runtime marker,
 * the task root, a trace header, the X-Ray daemon's address — here a UDP socket of this test on
 * 127.0.0.1), then what reaches the "daemon": each invocation a `## name` subsegment with its
 * annotations, and every SQS and DynamoDB call of the shared clients a subsegment under it, in the
 * invocation's trace. Nothing is asserted that this code writes itself: names and operations come
 * from the SDK's own classes, the trace from the header Lambda would set.
 */
import { createSocket, type Socket } from 'node:dgram';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort } from '../support/runtime-process.ts';

const TRACE_ROOT = '1-67a0b0c0-0123456789abcdef01234567';
const LAMBDA_TRACING = {
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  LAMBDA_TASK_ROOT: '/var/task',
  AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
  _X_AMZN_TRACE_ID: `Root=${TRACE_ROOT};Parent=0123456789abcdef;Sampled=1`,
  POWERTOOLS_SERVICE_NAME: 'tracing-test',
};

interface XRayDocument {
  readonly name: string;
  readonly id: string;
  readonly trace_id: string;
  readonly parent_id?: string;
  readonly namespace?: string;
  readonly annotations?: Record<string, unknown>;
  readonly aws?: { readonly operation?: string };
}

let daemon: Socket;
const documents: XRayDocument[] = [];
let telemetry: typeof import('../../lib/runtime/telemetry.ts');
let clients: typeof import('../../lib/aws/clients.ts');

beforeAll(async () => {
  daemon = createSocket('udp4');
  // Each datagram: a JSON header line, then one segment document.
  daemon.on('message', (message) =>
    documents.push(JSON.parse(message.toString('utf8').split('\n')[1] as string) as XRayDocument),
  );
  await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
  // A port nobody listens on: every call fails at once, after the tracer has opened its subsegment.
  const nowhere = `http://127.0.0.1:${await freePort()}`;
  for (const [name, value] of Object.entries({
    ...LAMBDA_TRACING,
    AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
    AWS_ENDPOINT_URL_SQS: nowhere,
    AWS_ENDPOINT_URL_DYNAMODB: nowhere,
  })) {
    vi.stubEnv(name, value);
  }
  // Loaded after the environment is Lambda's: the tracer decides at load whether it traces.
  telemetry = await import('../../lib/runtime/telemetry.ts');
  clients = await import('../../lib/aws/clients.ts');
});

afterAll(() => {
  daemon.close();
  vi.unstubAllEnvs();
});

/** Waits (bounded) until `count` documents satisfy `match`. */
async function received(match: (d: XRayDocument) => boolean, count = 1): Promise<XRayDocument[]> {
  const deadline = Date.now() + 5_000;
  while (documents.filter(match).length < count && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 20));
  return documents.filter(match);
}

const serviceOf = (client: { name: string }) => client.name.replace(/Client$/, '');
const operationOf = (command: { name: string }) => command.name.replace(/Command$/, '');

describe('tracing in Lambda', () => {
  it('is on', () => {
    expect(telemetry.tracer()?.isTracingEnabled()).toBe(true);
  });

  it("records each SQS and DynamoDB call of the shared clients as a subsegment of the invocation's", async () => {
    const sqs = clients.sqsClient(clients.UNBUDGETED, telemetry.tracer());
    const table = clients.documentClient(clients.UNBUDGETED, telemetry.tracer());
    const handler = telemetry.traceInvocations(
      'picking',
      async () => {
        await sqs
          .send(
            new SendMessageBatchCommand({
              QueueUrl: 'http://127.0.0.1:9/0/q',
              Entries: [{ Id: '0', MessageBody: '{}' }],
            }),
          )
          .catch(() => undefined);
        await table
          .send(new GetCommand({ TableName: 'orders', Key: { orderId: 'o-1', sk: 'order' } }))
          .catch(() => undefined);
        return 'done';
      },
      { pipeline: 'wh-7', stage: 'picking' },
    );
    expect(await handler()).toBe('done');

    const [invocation] = await received((d) => d.name === '## picking');
    expect(invocation).toMatchObject({
      trace_id: TRACE_ROOT,
      annotations: {
        pipeline: 'wh-7',
        stage: 'picking',
        ColdStart: true,
        Service: LAMBDA_TRACING.POWERTOOLS_SERVICE_NAME,
      },
    });

    const calls = await received((d) => d.namespace === 'aws', 2);
    const byService = new Map(calls.map((c) => [c.name, c]));
    expect(byService.get(serviceOf(SQSClient))).toMatchObject({ trace_id: TRACE_ROOT, parent_id: invocation!.id });
    expect(byService.get(serviceOf(SQSClient))?.aws?.operation).toBe(operationOf(SendMessageBatchCommand));
    expect(byService.get(serviceOf(DynamoDBClient))).toMatchObject({ trace_id: TRACE_ROOT, parent_id: invocation!.id });
    // The document client's Get is DynamoDB's GetItem underneath.
    expect(byService.get(serviceOf(DynamoDBClient))?.aws?.operation).toBe(operationOf(GetItemCommand));
  });

  it('records an error thrown by the invocation, and rethrows it', async () => {
    const failure = new Error('the batch could not be read');
    const handler = telemetry.traceInvocations('packing', async () => {
      throw failure;
    });
    await expect(handler()).rejects.toBe(failure);
    const [invocation] = await received((d) => d.name === '## packing');
    expect(invocation).toMatchObject({ trace_id: TRACE_ROOT, annotations: { ColdStart: false } });
    expect(JSON.stringify(invocation)).toContain(failure.message);
  });

  it("gives the invocation's trace header for the messages it sends", () => {
    expect(telemetry.currentTraceHeader()).toBe(LAMBDA_TRACING._X_AMZN_TRACE_ID);
  });
});

describe('tracing switched off in Lambda (POWERTOOLS_TRACE_ENABLED=false)', () => {
  it('leaves the clients as they are and invocations unwrapped', async () => {
    // What capturing adds to a client's middleware, as the enabled tracer does it.
    const plain = new SQSClient({});
    const added = telemetry
      .tracer()!
      .captureAWSv3Client(new SQSClient({}))
      .middlewareStack.identify()
      .filter((m) => !plain.middlewareStack.identify().includes(m));
    expect(added.length).toBeGreaterThan(0);
    expect(clients.sqsClient(clients.UNBUDGETED, telemetry.tracer()).middlewareStack.identify()).toEqual(
      expect.arrayContaining(added),
    );

    vi.resetModules();
    vi.stubEnv('POWERTOOLS_TRACE_ENABLED', 'false');
    const off = await import('../../lib/runtime/telemetry.ts');
    const offClients = await import('../../lib/aws/clients.ts');
    expect(off.tracer()).toBeUndefined();
    for (const name of added)
      expect(
        offClients.createSqsClient(offClients.sdkTimeouts(10), off.tracer()).middlewareStack.identify(),
      ).not.toContain(name);
    const handler = async () => 'done';
    expect(off.traceInvocations('picking', handler)).toBe(handler);
  });
});
