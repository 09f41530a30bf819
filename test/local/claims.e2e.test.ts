/**
 * Claims end to end (issue 10, item 1): pairs of concurrent `POST /orders` with one order id, on the
 * local runtime over HTTP, as a client retrying too early (same contents) or two clients reusing an
 * id (other contents) would send them. Never two plain 202s; the accepted contents are delivered
 * exactly once; the other answer is a duplicate or a 409.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { expectDeliveredOnce, type SentOrder } from '../support/orders-check.ts';
import { getJson, postOrders, startRuntime, waitFor, type RuntimeProcess } from '../support/runtime-process.ts';

let runtime: RuntimeProcess;
beforeAll(async () => {
  runtime = await startRuntime({ args: ['--in-memory'] });
});
afterAll(() => runtime?.stop());

it('answers concurrent submissions of one id with one 202 — the other a duplicate or a 409 — and delivers the accepted contents once', async () => {
  const pairs = Array.from({ length: 60 }, (_, i) => {
    const a = {
      orderId: `pair-${i}`,
      warehouseId: i % 2 ? 'wh-1' : 'wh-2',
      items: [{ sku: 'SKU-1', quantity: 1 + (i % 3) }],
    };
    const b =
      i % 2 === 0
        ? a
        : {
            ...a,
            items: [
              { sku: 'SKU-9', quantity: 4 },
              { sku: 'SKU-8', quantity: 1 },
            ],
          };
    return [a, b] as const;
  });

  const answers = await Promise.all(
    pairs.map((pair) => Promise.all(pair.map((order) => postOrders(runtime.url, [order])))),
  );

  const accepted: SentOrder[] = [];
  answers.forEach((answer, i) => {
    const [a, b] = pairs[i]!;
    const plain = answer.filter((r) => r.status === 202 && !r.body.duplicate);
    expect(plain, `pair ${i}: ${JSON.stringify(answer.map((r) => [r.status, r.body.duplicate]))}`).toHaveLength(1);
    const won = answer.findIndex((r) => r.status === 202 && !r.body.duplicate);
    const winner = won === 0 ? a : b;
    const other = answer[1 - won]!;
    if (a === b) expect(other).toMatchObject({ status: 202, body: { duplicate: true } });
    else expect(other.status).toBe(409);
    accepted.push(winner);
  });

  await waitFor(
    async () => ((await getJson(`${runtime.url}/api/stats`)).body.totals.delivered >= pairs.length ? true : undefined),
    60_000,
    'every pair delivered',
  );
  await expectDeliveredOnce(runtime.url, accepted);
  const { body } = await getJson(`${runtime.url}/api/stats`);
  expect(body.totals).toMatchObject({ accepted: pairs.length, delivered: pairs.length, inFlight: 0 });
});
