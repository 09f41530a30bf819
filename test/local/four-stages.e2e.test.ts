/**
 * Stages are data (issue 13): `examples/four-stages.json` run as a user runs it —
 * `CONVEYOR_TOPOLOGY="$(cat examples/four-stages.json)" npm start` — wh-2 runs picking → packing →
 * labelling → delivery while wh-1 keeps three stages; every order is delivered once, with a history
 * entry from every stage of its own warehouse's chain.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadTopology } from '../../lib/topology/index.ts';
import { expectDeliveredOnce } from '../support/orders-check.ts';
import {
  getJson,
  makeOrders,
  startRuntime,
  submitAll,
  waitFor,
  type RuntimeProcess,
} from '../support/runtime-process.ts';

const example = readFileSync(new URL('../../examples/four-stages.json', import.meta.url), 'utf8');
const topology = loadTopology(example, 'examples/four-stages.json');
let runtime: RuntimeProcess;
beforeAll(async () => {
  runtime = await startRuntime({ args: ['--in-memory'], env: { CONVEYOR_TOPOLOGY: example } });
});
afterAll(() => runtime?.stop());

it('delivers every order through its own warehouse’s chain, with an entry from each of its stages', async () => {
  const orders = makeOrders('chains', 40);
  await submitAll(runtime.url, orders);
  await waitFor(
    async () =>
      (await getJson(`${runtime.url}/api/stats`)).body.totals.delivered === orders.length ? true : undefined,
    60_000,
    'every order delivered',
  );

  await expectDeliveredOnce(runtime.url, orders, { fullHistory: false });
  for (const order of orders) {
    const { body } = await getJson(`${runtime.url}/orders/${order.orderId}`);
    const chain = topology.pipelines.find((p) => p.id === order.warehouseId)!.stages.map((s) => s.name);
    expect(
      body.history.map((h: { by: string }) => h.by).filter((by: string) => by !== 'intake'),
      order.orderId,
    ).toEqual(chain);
  }
  expect(topology.pipelines.find((p) => p.id === 'wh-2')!.stages.map((s) => s.name)).toContain('labelling');
  const { body: stats } = await getJson(`${runtime.url}/api/stats`);
  expect(Object.keys(stats.pipelines['wh-2'])).toEqual(['picking', 'packing', 'labelling', 'delivery']);
  expect(Object.keys(stats.pipelines['wh-1'])).toEqual(['picking', 'packing', 'delivery']);
});
