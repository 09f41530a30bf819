/**
 * Every order settles somewhere, and the totals always say where (issue 12, item 3): orders purged by
 * an operator read `purged` — who, when, which stage — and leave nothing in flight; the totals,
 * read again and again while orders flow, are never off by one.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  getJson,
  makeOrders,
  startRuntime,
  submitAll,
  waitFor,
  type RuntimeProcess,
} from '../support/runtime-process.ts';

let runtime: RuntimeProcess;
beforeAll(async () => {
  runtime = await startRuntime({ args: ['--in-memory'] });
});
afterAll(() => runtime?.stop());

const post = async (path: string, body: unknown) => {
  const response = await fetch(`${runtime.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
};
type Totals = {
  accepted: number;
  delivered: number;
  deadLettered: number;
  cancelled: number;
  purged: number;
  inFlight: number;
};
const reconciles = (t: Totals) => t.accepted === t.delivered + t.deadLettered + t.cancelled + t.purged + t.inFlight;

it('reads purged orders as purged, with who, when and where, and leaves nothing in flight', async () => {
  await post('/api/stages/wh-1/packing/pause', {});
  const orders = makeOrders('purge', 20, ['wh-1']);
  await submitAll(runtime.url, orders);
  await waitFor(
    async () =>
      (await getJson(`${runtime.url}/api/stats`)).body.pipelines['wh-1'].packing.ready === 20 ? true : undefined,
    30_000,
    'orders waiting in packing',
  );

  const purged = await post('/api/stages/wh-1/packing/purge', { confirm: true });

  expect(purged).toMatchObject({ status: 200, body: { stage: 'wh-1/packing', purged: true, orders: 20 } });
  for (const { orderId } of orders) {
    const { body } = await getJson(`${runtime.url}/orders/${orderId}`);
    expect(body).toMatchObject({ status: 'purged', stage: 'packing' });
    expect(body.history.at(-1)).toMatchObject({
      status: 'purged',
      by: expect.stringMatching(/^operator@/),
      at: expect.any(String),
    });
  }
  const { body: stats } = await getJson(`${runtime.url}/api/stats`);
  expect(stats.totals).toMatchObject({ accepted: 20, purged: 20, inFlight: 0 });
  expect(reconciles(stats.totals)).toBe(true);
  // The stage was paused before the purge, and stays so.
  expect(stats.pipelines['wh-1'].packing.paused).toBe(true);
  await post('/api/stages/wh-1/packing/resume', {});
});

it('keeps the totals exact while orders flow: never more accepted than sent, always reconciled', async () => {
  const before = (await getJson(`${runtime.url}/api/stats`)).body.totals;
  const orders = makeOrders('flow', 500);
  let sampling = true;
  const samples: Totals[] = [];
  const sampler = (async () => {
    while (sampling) {
      samples.push((await getJson(`${runtime.url}/api/stats`)).body.totals);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  await submitAll(runtime.url, orders);
  await waitFor(
    async () =>
      (await getJson(`${runtime.url}/api/stats`)).body.totals.delivered - before.delivered === orders.length
        ? true
        : undefined,
    60_000,
    'every order delivered',
  );
  sampling = false;
  await sampler;

  expect(samples.length).toBeGreaterThan(10);
  for (const t of samples) {
    expect(t.accepted - before.accepted, JSON.stringify(t)).toBeLessThanOrEqual(orders.length);
    expect(reconciles(t), JSON.stringify(t)).toBe(true);
    expect(t.delivered + t.deadLettered + t.cancelled + t.purged, JSON.stringify(t)).toBeLessThanOrEqual(t.accepted);
  }
  const { body } = await getJson(`${runtime.url}/api/stats`);
  expect(body.totals).toMatchObject({
    accepted: before.accepted + orders.length,
    delivered: before.delivered + orders.length,
    inFlight: 0,
  });
});
