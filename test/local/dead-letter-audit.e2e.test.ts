/**
 * Every road to a DLQ ends in `dead-lettered` (issue 10, item 2): an order whose function stalls
 * past its timeout on its last receive is moved by SQS's redrive policy — not by the stage — and
 * the dead-letter auditor records it, with a reason, and the totals settle.
 */
import { afterEach, expect, it } from 'vitest';
import { getJson, postOrders, startRuntime, waitFor, type RuntimeProcess } from '../support/runtime-process.ts';

let runtime: RuntimeProcess | undefined;
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
});

it('records an order the redrive policy moved to the DLQ as dead-lettered, with a reason, and settles the totals', async () => {
  runtime = await startRuntime({
    args: ['--in-memory'],
    env: {
      CONVEYOR_TOPOLOGY: JSON.stringify({ stages: { picking: { timeoutSeconds: 1, maxReceiveCount: 1 } } }),
      CONVEYOR_CHAOS: 'picking:1:stall',
    },
  });
  const url = runtime.url;
  expect(
    (await postOrders(url, [{ orderId: 'moved-1', warehouseId: 'wh-1', items: [{ sku: 'SKU-1', quantity: 1 }] }]))
      .status,
  ).toBe(202);

  const record = await waitFor(
    async () => {
      const { body } = await getJson(`${url}/orders/moved-1`);
      return body.status === 'dead-lettered' ? body : undefined;
    },
    45_000,
    'the order to be dead-lettered',
  );
  expect(record).toMatchObject({ stage: 'picking', reason: expect.stringMatching(/redrive policy after 1 receives/) });
  const stats = await waitFor(
    async () => {
      const { body } = await getJson(`${url}/api/stats`);
      return body.totals.inFlight === 0 && body.pipelines['wh-1'].picking.dlq === 1 ? body : undefined;
    },
    15_000,
    'the totals to settle',
  );
  expect(stats.totals).toMatchObject({ accepted: 1, delivered: 0, deadLettered: 1, inFlight: 0 });
});
