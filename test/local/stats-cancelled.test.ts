/**
 * The local stats count cancellations from what the intake emits, as they count everything else
 * from the functions' EMF documents: an order cancelled in flight moves to `cancelled`, one cancelled
 * while dead-lettered leaves `deadLettered`; a repeated cancel, or one refused (delivered), counts
 * nothing. The totals must equal the ledger's own count — the truth — with nothing left in flight.
 */
import { describe, expect, it } from 'vitest';
import { RuntimeStats } from '../../lib/local/stats.ts';
import { MemoryPipeline } from '../support/memory-pipeline.ts';

const seeded = (seed: number) => () => (seed = (seed * 16807) % 2147483647) / 2147483647;

describe('local stats and cancelled orders', () => {
  it('count each cancellation once, out of in flight or out of dead-lettered, as the ledger does', async () => {
    const documents: Record<string, unknown>[] = [];
    const p = new MemoryPipeline({ random: seeded(21), rejectSuffix: '-no-box', onMetrics: (d) => documents.push(d) });
    const pipeline = p.topology.pipelines[0]!;
    const order = (orderId: string) => ({ orderId, warehouseId: pipeline.id, items: [{ sku: 'SKU-1', quantity: 1 }] });
    await p.post({ orders: ['s-delivered', 's-in-flight', 's-dead-no-box'].map(order) });
    expect(await p.poll(pipeline.stages[0]!.key)).toEqual({ crashed: false, value: 3 });

    expect((await p.cancel('s-in-flight')).status).toBe(200);
    await p.drain();
    expect((await p.ledger.read('s-dead-no-box'))?.status).toBe('dead-lettered');
    expect((await p.cancel('s-dead-no-box')).status).toBe(200);
    expect((await p.cancel('s-in-flight')).status).toBe(200); // again: idempotent, nothing new
    expect((await p.cancel('s-delivered')).status).toBe(409);

    const stats = new RuntimeStats(p.topology);
    for (const document of documents) stats.observeMetrics(document);
    const truth = await p.ledger.totals();
    expect(truth).toMatchObject({ accepted: 3, delivered: 1, deadLettered: 0, cancelled: 2, inFlight: 0 });
    expect(stats.snapshot(new Map(), new Map()).totals).toEqual(truth);
    expect(stats.unsettled).toBe(0);
  });
});
