/**
 * Cancelling an order (`DELETE /orders/{orderId}`), on the whole pipeline in memory: while it is not
 * final it becomes `cancelled` (idempotently), and every later stage acknowledges its messages
 * without running business logic or forwarding them; once delivered it is a 409 with its delivery;
 * a cancel and a delivery racing each other end with exactly one winner.
 */
import { describe, expect, it } from 'vitest';
import { MemoryPipeline } from '../support/memory-pipeline.ts';

const seeded = (seed: number) => () => (seed = (seed * 16807) % 2147483647) / 2147483647;
const order = (orderId: string) => ({ orderId, warehouseId: 'wh-1', items: [{ sku: 'SKU-1', quantity: 2 }] });
const queuedFor = (p: MemoryPipeline, stage: string, orderId: string) =>
  p.sqs.sent.filter((s) => s.queueUrl === p.urls.get(`wh-1/${stage}`)?.queueUrl && s.body.includes(`"${orderId}"`))
    .length;

describe('DELETE /orders/{orderId}', () => {
  it('cancels an order in flight, idempotently; later stages acknowledge it without work or forwarding', async () => {
    const p = new MemoryPipeline({ random: seeded(3) });
    await p.post(order('c-1'));
    expect(await p.poll('wh-1/picking')).toEqual({ crashed: false, value: 1 });

    const first = await p.cancel('c-1');
    expect(first).toMatchObject({ status: 200, body: { orderId: 'c-1', status: 'cancelled', stage: 'packing' } });
    expect((first.body.history as { status: string }[]).at(-1)).toMatchObject({
      status: 'cancelled',
      by: expect.stringMatching(/^request /),
    });
    expect(await p.cancel('c-1')).toMatchObject({ status: 200, body: { status: 'cancelled' } });

    await p.drain();
    expect(queuedFor(p, 'delivery', 'c-1')).toBe(0);
    expect(p.completions.get('c-1')).toBeUndefined();
    expect((await p.ledger.read('c-1'))?.status).toBe('cancelled');
    expect(await p.ledger.totals()).toMatchObject({ accepted: 1, cancelled: 1, inFlight: 0 });
  });

  it('answers 409 with the delivery once the order is delivered, and 404 for an unknown order', async () => {
    const p = new MemoryPipeline({ random: seeded(5) });
    await p.post(order('c-2'));
    await p.drain();
    const refused = await p.cancel('c-2');
    expect(refused).toMatchObject({
      status: 409,
      body: {
        error: 'order already delivered',
        order: { status: 'delivered', delivery: { carrier: expect.any(String) } },
      },
    });
    expect(await p.cancel('c-unknown')).toMatchObject({ status: 404, body: { details: [{ field: 'orderId' }] } });
    expect((await p.cancel('bad/id')).status).toBe(400);
  });

  it('lets exactly one of a cancel and a delivery win when they race', async () => {
    const winners = { delivered: 0, cancelled: 0 };
    for (let round = 0; round < 40; round++) {
      const p = new MemoryPipeline({ random: seeded(round + 11), sqs: { duplicate: 0, reorder: 0.5 } });
      const ids = Array.from({ length: 5 }, (_, i) => `race-${round}-${i}`);
      await p.post({ orders: ids.map(order) });
      await p.poll('wh-1/picking');
      await p.poll('wh-1/packing');
      const random = seeded(round + 101);
      // Each cancel starts after its own number of turns of the event loop: every interleaving occurs.
      const later = async (turns: number) => {
        for (let t = 0; t < turns; t++) await new Promise((resolve) => setImmediate(resolve));
      };
      const [, ...answers] = await Promise.all([
        p.poll('wh-1/delivery'),
        ...ids.map(async (id) => (await later(Math.floor(random() * 12)), p.cancel(id))),
      ]);
      for (const [i, id] of ids.entries()) {
        const record = await p.ledger.read(id);
        const delivered = p.completions.get(id) === 1;
        expect(delivered ? 'delivered' : 'cancelled', id).toBe(record?.status);
        expect(answers[i]?.status, id).toBe(delivered ? 409 : 200);
        winners[delivered ? 'delivered' : 'cancelled']++;
      }
    }
    // The race really went both ways.
    expect(winners.delivered).toBeGreaterThan(0);
    expect(winners.cancelled).toBeGreaterThan(0);
  });
});
