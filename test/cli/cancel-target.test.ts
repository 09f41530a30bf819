/**
 * `cancelOrder` of both CLI targets, against the real intake (the order pipeline in memory) behind
 * the local API server: locally a plain `DELETE /orders/{id}`; on AWS a SigV4-signed DELETE of the
 * stack's `ApiUrl` (the stage path in front, as API Gateway serves it — the signature is checked) —
 * what `conveyor orders cancel` builds on. Cancelled while in flight (again, idempotently), too late
 * once delivered, unknown, and an API that refuses the caller.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsTarget } from '../../lib/cli/aws-target.ts';
import type { CliContext } from '../../lib/cli/context.ts';
import { CliError } from '../../lib/cli/errors.ts';
import { LocalTarget } from '../../lib/cli/local-target.ts';
import type { Target } from '../../lib/cli/target.ts';
import { orderApiRoutes, startApiServer, type ApiServer } from '../../lib/local/api-server.ts';
import { MemoryPipeline } from '../support/memory-pipeline.ts';
import { stackOutputs, verifySignature, type ReceivedRequest } from './support.ts';

const seeded = (seed: number) => () => (seed = (seed * 16807) % 2147483647) / 2147483647;
const SECRET = 'secret';
const REGION = 'us-east-1';
const STAGE_PATH = '/prod';

const cfn = mockClient(CloudFormationClient);
let pipeline: MemoryPipeline;
let local: ApiServer;
let gateway: Server;
const signed: ReceivedRequest[] = [];
/** What the "API Gateway" answers instead of the intake, when set (e.g. a caller it does not authorize). */
let refuse: { status: number; body: unknown } | undefined;

const context: CliContext = {
  stdout: { write: () => true },
  stderr: { write: () => true },
  env: {},
  fetch: globalThis.fetch,
  now: Date.now,
  sleep: async () => undefined,
  awsCredentials: async () => ({ accessKeyId: 'AKIDTEST', secretAccessKey: SECRET, sessionToken: 'session-token' }),
};

beforeAll(async () => {
  pipeline = new MemoryPipeline({ random: seeded(31) });
  local = await startApiServer(
    0,
    orderApiRoutes(async (event) => ({
      ok: true,
      response: await pipeline.request(event as never),
      durationMs: 0,
      coldStart: false,
    })),
    (error) => {
      throw error;
    },
  );
  // API Gateway in front of the same intake: the stage path first; every request recorded as signed.
  gateway = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', async () => {
      signed.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers, body });
      const answer =
        refuse ?? (await forward(request.method ?? 'GET', (request.url ?? '').slice(STAGE_PATH.length), body));
      response.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await local.close();
  await new Promise((resolve) => gateway.close(resolve));
  cfn.restore();
});

beforeEach(() => {
  signed.length = 0;
  refuse = undefined;
  cfn.reset();
  const apiUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}${STAGE_PATH}/`;
  cfn.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'Conveyor',
        StackStatus: 'UPDATE_COMPLETE',
        CreationTime: new Date(),
        Outputs: stackOutputs(apiUrl),
      },
    ],
  });
});

async function forward(method: string, path: string, body: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${local.url}${path}`, {
    method,
    ...(body === '' ? {} : { body, headers: { 'content-type': 'application/json' } }),
  });
  return { status: response.status, body: await response.json() };
}

/** An order accepted and moved past its first stage (in flight), and one delivered. */
async function ordersInFlightAndDelivered(prefix: string): Promise<{ inFlight: string; delivered: string }> {
  const warehouseId = pipeline.topology.pipelines[0]!.id;
  const delivered = `${prefix}-delivered`;
  await pipeline.post({ orderId: delivered, warehouseId, items: [{ sku: 'SKU-1', quantity: 1 }] });
  await pipeline.drain();
  const inFlight = `${prefix}-in-flight`;
  await pipeline.post({ orderId: inFlight, warehouseId, items: [{ sku: 'SKU-2', quantity: 1 }] });
  await pipeline.poll(pipeline.topology.pipelines[0]!.stages[0]!.key);
  return { inFlight, delivered };
}

const targets: Record<string, () => Promise<Target>> = {
  local: async () => new LocalTarget(local.url, context),
  aws: () => AwsTarget.open({ stack: 'Conveyor', region: REGION }, context),
};

describe.each(Object.keys(targets))('cancelOrder on the %s target', (name) => {
  it('cancels an order in flight (and again, idempotently), refuses a delivered one with its delivery, and knows no unknown one', async () => {
    const target = await targets[name]!();
    const { inFlight, delivered } = await ordersInFlightAndDelivered(`c-${name}`);

    const cancelled = await target.cancelOrder(inFlight);
    expect(cancelled).toMatchObject({ outcome: 'cancelled', order: { orderId: inFlight, status: 'cancelled' } });
    expect(await target.cancelOrder(inFlight)).toMatchObject({
      outcome: 'cancelled',
      order: { orderId: inFlight, status: 'cancelled' },
    });
    expect((await pipeline.ledger.read(inFlight))?.status).toBe('cancelled');

    const tooLate = await target.cancelOrder(delivered);
    expect(tooLate).toMatchObject({
      outcome: 'too-late',
      order: { orderId: delivered, status: 'delivered', delivery: expect.any(Object) },
    });
    expect(tooLate?.outcome === 'too-late' && tooLate.reason).toContain(delivered);

    expect(await target.cancelOrder(`c-${name}-unknown`)).toBeUndefined();
    target.close();
  });
});

describe('cancelOrder on the AWS target', () => {
  it('sends a DELETE of ApiUrl/orders/{id}, signed with SigV4 for execute-api (the signature verifies)', async () => {
    const target = await targets.aws!();
    await target.cancelOrder('c-signed');
    expect(signed.map((r) => `${r.method} ${r.path}`)).toEqual([`DELETE ${STAGE_PATH}/orders/c-signed`]);
    expect(signed[0]!.headers['x-amz-security-token']).toBe('session-token');
    expect(verifySignature(signed[0]!, SECRET, REGION)).toBe(true);
    target.close();
  });

  it('says in one line when the API refuses the caller, and what the identity needs', async () => {
    const target = await targets.aws!();
    refuse = {
      status: 403,
      body: { message: 'User: arn:aws:iam::123456789012:user/ops is not authorized to perform: execute-api:Invoke' },
    };
    const error = await target.cancelOrder('c-refused').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toMatch(/^the order API answered 403.*execute-api:Invoke on the API$/);
    expect((error as Error).message).not.toContain('\n');
    target.close();
  });
});
