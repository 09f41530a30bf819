/**
 * The intake answers within its time budget: against a dependency that accepts connections and
 * never answers, the deployed intake bundle — run as Lambda runs it, stopped at the function's
 * timeout — must answer `503` with `Retry-After` (the designed answer), not run into its timeout
 * (which API Gateway turns into a bare 5xx).
 */
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleHandlers } from '../../lib/build/handler-bundle.ts';
import { API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS } from '../../lib/contract/index.ts';
import { toApiGatewayEvent } from '../../lib/local/lambda-events.ts';
import { LocalFunction, type InvokeResult } from '../../lib/local/local-function.ts';
import { sdkTimeouts } from '../../lib/aws/clients.ts';
import {
  ANSWER_WITHIN_VARIABLE,
  ConfigurationError,
  intakeEnvironment,
  sdkTimeoutsOf,
  stageEnvironment,
} from '../../lib/runtime/environment.ts';
import { loadTopology, type Topology } from '../../lib/topology/index.ts';
import { REGION, startLocalAws, type LocalAws } from '../support/local-aws.ts';

// A short timeout keeps the test quick; the budget is derived from whatever the timeout is.
const TOPOLOGY_INPUT = { intake: { timeoutSeconds: 5 } };
const topology: Topology = loadTopology(TOPOLOGY_INPUT);
const OUT = fileURLToPath(new URL(`../../node_modules/.cache/conveyor/intake-budget-${process.pid}/`, import.meta.url));

let hung: { server: Server; url: string; sockets: Set<Socket> };
let intakeBundle: string;
let local: LocalAws;

beforeAll(async () => {
  const sockets = new Set<Socket>();
  // Accepts every connection, reads what is sent, never answers: a dependency that hangs.
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hung = { server, sockets, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  [intakeBundle, local] = await Promise.all([
    bundleHandlers(['intake'], OUT).then((b) => b.get('intake')!),
    startLocalAws(TOPOLOGY_INPUT),
  ]);
});

afterAll(async () => {
  for (const socket of hung.sockets) socket.destroy();
  await new Promise((resolve) => hung.server.close(resolve));
  await local.stop();
  rmSync(OUT, { recursive: true, force: true });
});

/** Runs one request through the intake as Lambda would: its environment, its timeout, a fresh environment. */
async function invokeIntake(environment: Record<string, string>, body: unknown): Promise<InvokeResult> {
  const fn = new LocalFunction(
    {
      name: 'intake',
      handlerModule: intakeBundle,
      environment,
      timeoutSeconds: topology.intake.timeoutSeconds,
      memoryMb: topology.intake.memoryMb,
      maxConcurrency: 1,
      region: REGION,
    },
    () => undefined,
  );
  try {
    return await fn.invoke(
      toApiGatewayEvent({
        method: 'POST',
        resource: '/orders',
        path: '/orders',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    );
  } finally {
    await fn.close();
  }
}

function expectServiceUnavailable(result: InvokeResult): void {
  // Not `{ ok: false, kind: 'timeout' }`: the function answered before its timeout.
  expect(result).toMatchObject({ ok: true });
  const response = (result as { response: { statusCode: number; headers: Record<string, string>; body: string } })
    .response;
  expect(response.statusCode).toBe(503);
  expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
  expect(JSON.parse(response.body)).toMatchObject({ error: 'service unavailable' });
}

const entryQueues = () =>
  Object.fromEntries(topology.pipelines.map((p) => [p.id, `${hung.url}/000000000000/${p.id}-entry`]));
const order = (orderId: string, warehouseId: string) => ({
  orderId,
  warehouseId,
  items: [{ sku: 'SKU-1', quantity: 1 }],
});

describe('intake against a hung dependency', () => {
  it('answers 503 with Retry-After when SQS and DynamoDB both hang', async () => {
    const environment = {
      ...intakeEnvironment(topology, { tableName: 'orders', entryQueueUrls: entryQueues() }),
      ...local.awsEnvironment,
      AWS_ENDPOINT_URL_SQS: hung.url,
      AWS_ENDPOINT_URL_DYNAMODB: hung.url,
    };
    expectServiceUnavailable(await invokeIntake(environment, order('budget-1', topology.pipelines[0]!.id)));
  });

  it('answers 503 with Retry-After when only SQS hangs, for a bulk request to every warehouse', async () => {
    const environment = {
      ...local.intakeEnvironment(),
      ...local.awsEnvironment,
      AWS_ENDPOINT_URL_SQS: hung.url,
      CONVEYOR_ENTRY_QUEUES: JSON.stringify(entryQueues()),
    };
    expectServiceUnavailable(
      await invokeIntake(environment, { orders: topology.pipelines.map((p, i) => order(`budget-bulk-${i}`, p.id)) }),
    );
  });
});

describe('sdkTimeouts', () => {
  // The SDK's standard retry strategy waits at most 100 ms × 2^n before retry n (full jitter).
  const worstCallMs = (t: { maxAttempts: number; requestTimeoutMs: number }) =>
    t.maxAttempts * t.requestTimeoutMs + 100 * (2 ** t.maxAttempts - 2);

  // Two: one call per service timing out on every attempt (after that, calls to it fail at once — the bulk test above).
  it('fits a timed-out call to each service in a row inside any intake timeout from 5 s to API Gateway’s 29 s', () => {
    fc.assert(
      fc.property(fc.integer({ min: 5, max: API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS }), (seconds) => {
        const timeouts = sdkTimeouts(seconds);
        expect(2 * worstCallMs(timeouts)).toBeLessThan(seconds * 1000);
        expect(timeouts.connectionTimeoutMs).toBeLessThanOrEqual(timeouts.requestTimeoutMs);
        expect(timeouts.maxAttempts).toBeGreaterThanOrEqual(1);
      }),
    );
  });

  it('gives the intake the budget of its timeout, and leaves stage functions the SDK’s own attempts', () => {
    const intake = intakeEnvironment(topology, {
      tableName: 'orders',
      entryQueueUrls: { 'wh-1': 'https://sqs.example/q' },
    });
    expect(sdkTimeoutsOf(intake)).toEqual(sdkTimeouts(topology.intake.timeoutSeconds));
    const picking = topology.pipelines[0]!.stages[0]!;
    const stage = stageEnvironment(topology, picking, {
      queueUrl: 'https://sqs.example/q',
      deadLetterQueueUrl: 'https://sqs.example/d',
      nextQueueUrl: 'https://sqs.example/n',
      tableName: 'orders',
    });
    expect(stage[ANSWER_WITHIN_VARIABLE]).toBeUndefined();
    expect(sdkTimeoutsOf(stage).maxAttempts).toBe(3);
  });

  it('refuses a malformed time to answer within, naming the variable', () => {
    for (const bad of ['soon', '0', '2.5']) {
      expect(() => sdkTimeoutsOf({ [ANSWER_WITHIN_VARIABLE]: bad })).toThrow(ConfigurationError);
      expect(() => sdkTimeoutsOf({ [ANSWER_WITHIN_VARIABLE]: bad })).toThrow(ANSWER_WITHIN_VARIABLE);
    }
  });
});
