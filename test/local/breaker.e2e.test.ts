/**
 * A circuit breaker per stage, as a user meets it (issue 14, item 2): with `CONVEYOR_CHAOS=packing:1`
 * the packing breaker opens within a minute and nothing reaches packing's DLQ while it is open; after
 * a restart without the fault it probes, closes, and every order is delivered.
 */
import { afterEach, expect, it } from 'vitest';
import { expectDeliveredOnce } from '../support/orders-check.ts';
import {
  getJson,
  makeOrders,
  startRuntime,
  submitAll,
  tempDir,
  waitFor,
  type RuntimeProcess,
} from '../support/runtime-process.ts';

const running: RuntimeProcess[] = [];
const dirs: Array<{ remove(): void }> = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
  for (const d of dirs.splice(0)) d.remove();
});

// A short open time keeps the test short; everything else is the default breaker.
const TOPOLOGY = JSON.stringify({ warehouses: ['wh-1'], stages: { packing: { breaker: { openSeconds: 10 } } } });
const packing = async (url: string) => (await getJson(`${url}/api/stats`)).body.pipelines['wh-1'].packing;

it('opens the breaker of a failing stage, holds its orders in the queue, and closes after a restart without the fault', async () => {
  const data = tempDir();
  dirs.push(data);
  const first = await startRuntime({
    env: { CONVEYOR_DATA_DIR: data.path, CONVEYOR_TOPOLOGY: TOPOLOGY, CONVEYOR_CHAOS: 'packing:1' },
  });
  running.push(first);
  const orders = makeOrders('breaker', 60, ['wh-1']);
  await submitAll(first.url, orders);

  const opened = Date.now();
  const open = await waitFor(
    async () => ((await packing(first.url)).breaker === 'open' ? packing(first.url) : undefined),
    60_000,
    'the packing breaker to open',
  );
  expect(open.breakerReason).toMatch(/records failed in the last 60 s/);
  // While it is open: nothing consumed, nothing dead-lettered; the orders wait in the queue.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const held = await packing(first.url);
  expect(held).toMatchObject({ breaker: 'open', dlq: 0 });
  expect(held.ready + held.delayed + held.inFlight).toBe(orders.length);
  expect(Date.now() - opened).toBeLessThan(60_000);
  await first.stop();
  running.pop();

  const second = await startRuntime({ env: { CONVEYOR_DATA_DIR: data.path, CONVEYOR_TOPOLOGY: TOPOLOGY } });
  running.push(second);
  expect((await packing(second.url)).breaker).toBe('open');
  await waitFor(
    async () => ((await packing(second.url)).breaker === 'closed' ? true : undefined),
    60_000,
    'the breaker to probe and close',
  );
  await waitFor(
    async () => ((await getJson(`${second.url}/api/stats`)).body.totals.delivered === orders.length ? true : undefined),
    60_000,
    'every order delivered',
  );
  await expectDeliveredOnce(second.url, orders, { fullHistory: false });
  expect((await packing(second.url)).dlq).toBe(0);
}, 180_000);
