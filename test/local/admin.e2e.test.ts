/** The local runtime's operator endpoints (what `conveyor` calls), over HTTP against a running runtime. */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getJson,
  makeOrders,
  startRuntime,
  submitAll,
  tempDir,
  waitFor,
  type RuntimeProcess,
} from '../support/runtime-process.ts';

const fast = { timeoutSeconds: 2, maxReceiveCount: 2, backoff: { baseSeconds: 1, capSeconds: 1 } };
const TOPOLOGY = JSON.stringify({ stages: { picking: fast, packing: fast, delivery: fast } });
const data = tempDir();
let runtime: RuntimeProcess;

beforeAll(async () => {
  runtime = await startRuntime({
    env: { CONVEYOR_DATA_DIR: data.path, CONVEYOR_TOPOLOGY: TOPOLOGY, CONVEYOR_CHAOS: 'picking:1' },
  });
});
afterAll(async () => {
  await runtime?.stop();
  data.remove();
});

async function post(
  path: string,
  body: unknown = {},
  headers: Record<string, string> = { 'content-type': 'application/json' },
) {
  const response = await fetch(`${runtime.url}${path}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

const stats = async () => (await getJson(`${runtime.url}/api/stats`)).body;

describe('operator endpoints', () => {
  it('name what is wrong: unknown warehouse or stage, bad values, missing confirmation', async () => {
    expect(await post('/api/stages/wh-9/picking/pause')).toMatchObject({
      status: 404,
      body: { details: [{ field: 'warehouse', message: expect.stringContaining('warehouses are wh-1, wh-2') }] },
    });
    expect(await post('/api/stages/wh-1/boxing/pause')).toMatchObject({
      status: 404,
      body: {
        details: [{ field: 'stage', message: expect.stringContaining('stages are picking, packing, delivery') }],
      },
    });
    expect(await post('/api/stages/wh-1/picking/scale', { maxConcurrency: 1 })).toMatchObject({
      status: 400,
      body: { details: [{ field: 'maxConcurrency' }] },
    });
    expect(await post('/api/stages/wh-1/picking/scale', '{"maxConcurrency": ')).toMatchObject({
      status: 400,
      body: { details: [{ field: 'body' }] },
    });
    expect(await post('/api/stages/wh-1/picking/purge', {})).toMatchObject({
      status: 400,
      body: { details: [{ field: 'confirm' }] },
    });
    expect(await post('/api/stages/wh-1/picking/dlq/redrive', { ratePerSecond: 0 })).toMatchObject({
      status: 400,
      body: { details: [{ field: 'ratePerSecond' }] },
    });
    expect((await getJson(`${runtime.url}/api/stages/wh-1/picking/dlq?limit=0`)).status).toBe(400);
  });

  it('refuse browsers: a non-JSON write, and a foreign Host header', async () => {
    expect((await post('/api/stages/wh-1/picking/pause', 'x', { 'content-type': 'text/plain' })).status).toBe(415);
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${runtime.url}/api/stages/wh-1/picking/pause`);
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { host: 'evil.example:3000', 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
    expect(status).toBe(403);
  });

  it('scale a stage, and report it', async () => {
    expect(await post('/api/stages/wh-2/packing/scale', { maxConcurrency: 8 })).toEqual({
      status: 200,
      body: { stage: 'wh-2/packing', paused: false, maxConcurrency: 8 },
    });
    const { body } = await getJson(`${runtime.url}/api/topology`);
    expect(body.pipelines[1].stages[1].maxConcurrency).toBe(8);
    expect((await stats()).pipelines['wh-2'].packing.concurrency.max).toBe(8);
  });

  it('dead-letter orders that always fail, show them with their reasons without consuming them, and redrive them once fixed', async () => {
    const orders = makeOrders('sos', 6, ['wh-1']);
    await submitAll(runtime.url, orders);
    await waitFor(
      async () => ((await stats()).pipelines['wh-1'].picking.dlq === 6 ? true : undefined),
      30_000,
      'six dead letters',
    );

    const peek = await getJson(`${runtime.url}/api/stages/wh-1/picking/dlq?limit=4`);
    expect(peek.body.messages).toHaveLength(4);
    expect(peek.body.messages[0]).toMatchObject({
      orderId: expect.stringMatching(/^sos-/),
      kind: 'exhausted',
      stage: 'wh-1/picking',
      reason: expect.stringContaining('CONVEYOR_CHAOS'),
    });
    const all = await getJson(`${runtime.url}/api/stages/wh-1/picking/dlq?limit=100`);
    expect(all.body.messages).toHaveLength(6);
    // The DLQ fills before the invocation ends; the order totals count its metrics when it ends.
    await waitFor(
      async () => ((await stats()).totals.deadLettered === 6 ? true : undefined),
      10_000,
      'six orders counted dead-lettered',
    );

    // Fix: restart without the fault, on the same data, then redrive.
    await runtime.stop();
    runtime = await startRuntime({ env: { CONVEYOR_DATA_DIR: data.path, CONVEYOR_TOPOLOGY: TOPOLOGY } });
    expect(await post('/api/stages/wh-1/picking/dlq/redrive', { ratePerSecond: 100 })).toMatchObject({
      status: 200,
      body: { stage: 'wh-1/picking', moved: 6, matched: 6, resent: 0, interrupted: false },
    });
    await waitFor(
      async () => ((await stats()).totals.delivered >= 6 ? true : undefined),
      30_000,
      'the redriven orders to be delivered',
    );
    const s = await stats();
    expect(s.totals).toMatchObject({
      accepted: 6,
      delivered: 6,
      deadLettered: 0,
      cancelled: 0,
      purged: 0,
      inFlight: 0,
    });
    expect(s.pipelines['wh-1'].picking.dlq).toBe(0);
  });

  it('pause a stage (its queue grows, nothing is lost, it stays paused across a restart) and resume it (it drains)', async () => {
    expect(await post('/api/stages/wh-1/packing/pause')).toMatchObject({ status: 200, body: { paused: true } });
    const orders = makeOrders('held', 20, ['wh-1']);
    await submitAll(runtime.url, orders);
    await waitFor(
      async () => ((await stats()).pipelines['wh-1'].packing.ready === 20 ? true : undefined),
      20_000,
      'the paused queue to hold 20',
    );

    await runtime.stop();
    runtime = await startRuntime({ env: { CONVEYOR_DATA_DIR: data.path, CONVEYOR_TOPOLOGY: TOPOLOGY } });
    await new Promise((r) => setTimeout(r, 1500));
    const held = (await stats()).pipelines['wh-1'].packing;
    expect(held).toMatchObject({ paused: true, ready: 20 });

    expect(await post('/api/stages/wh-1/packing/resume')).toMatchObject({ status: 200, body: { paused: false } });
    await waitFor(async () => ((await stats()).totals.delivered >= 26 ? true : undefined), 30_000, 'the drain');
  });
}, 150_000);
