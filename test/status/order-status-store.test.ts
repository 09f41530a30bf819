/** The order status table's conditional writes, against the DynamoDB emulator. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAws, type LocalAws } from '../support/local-aws.ts';

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws();
});
afterAll(() => aws?.stop());

const at = (second: number) => `2026-11-24T10:00:${String(second).padStart(2, '0')}.000Z`;
const accept = (orderId: string) => aws.store.accept({ orderId, warehouseId: 'wh-1', payloadHash: 'h', traceId: 't', at: at(0) });

describe('order status store', () => {
  it('accepts an order once', async () => {
    expect(await accept('s-1')).toBe('created');
    expect(await accept('s-1')).toBe('exists');
  });

  it('moves status only forward: a repeated transition is already done', async () => {
    await accept('s-2');
    expect(await aws.store.advance([{ orderId: 's-2', warehouseId: 'wh-1', by: 'picking', at: at(1) }])).toEqual([{ kind: 'applied', previous: 'accepted' }]);
    expect(await aws.store.advance([{ orderId: 's-2', warehouseId: 'wh-1', by: 'picking', at: at(2) }])).toEqual([{ kind: 'already-done' }]);
    expect((await aws.store.get('s-2'))?.history.map((h) => h.by)).toEqual(['intake', 'picking']);
  });

  it('keeps a stage’s history entry when the next stage recorded first, without moving status back', async () => {
    await accept('s-3');
    await aws.store.advance([{ orderId: 's-3', warehouseId: 'wh-1', by: 'picking', at: at(1) }]);
    // Delivery lands before packing's write (packing forwarded, then was slow to record).
    await aws.store.advance([{ orderId: 's-3', warehouseId: 'wh-1', by: 'delivery', at: at(3), delivery: { carrier: 'paketfix' } }]);
    expect(await aws.store.advance([{ orderId: 's-3', warehouseId: 'wh-1', by: 'packing', at: at(2) }])).toEqual([{ kind: 'applied', late: true }]);
    // Once only.
    expect(await aws.store.advance([{ orderId: 's-3', warehouseId: 'wh-1', by: 'packing', at: at(4) }])).toEqual([{ kind: 'already-done' }]);

    const record = await aws.store.get('s-3');
    expect(record?.status).toBe('delivered');
    expect(record?.history.map((h) => `${h.by}:${h.status}`)).toEqual(['intake:accepted', 'picking:packing', 'packing:delivering', 'delivery:delivered']);
  });

  it('records a delivery once: the last stage never writes late', async () => {
    await accept('s-4');
    await aws.store.advance([{ orderId: 's-4', warehouseId: 'wh-1', by: 'delivery', at: at(1) }]);
    expect(await aws.store.advance([{ orderId: 's-4', warehouseId: 'wh-1', by: 'delivery', at: at(2) }])).toEqual([{ kind: 'already-done' }]);
    expect((await aws.store.get('s-4'))?.history.filter((h) => h.status === 'delivered')).toHaveLength(1);
  });

  it('dead-letters with the reason, never over a delivered order, and moves on after a redrive', async () => {
    await accept('s-5');
    expect(await aws.store.deadLetter([{ orderId: 's-5', warehouseId: 'wh-1', stage: 'packing', reason: 'scanner offline', at: at(1) }])).toEqual([{ kind: 'applied', previous: 'accepted' }]);
    expect(await aws.store.get('s-5')).toMatchObject({ status: 'dead-lettered', stage: 'packing', reason: 'scanner offline' });
    // Redriven: it moves on; the reason goes; the write reports where it came from.
    expect(await aws.store.advance([{ orderId: 's-5', warehouseId: 'wh-1', by: 'picking', at: at(2) }])).toEqual([{ kind: 'applied', previous: 'dead-lettered' }]);
    expect((await aws.store.get('s-5'))?.reason).toBeUndefined();
    await aws.store.advance([{ orderId: 's-5', warehouseId: 'wh-1', by: 'delivery', at: at(3) }]);
    expect(await aws.store.deadLetter([{ orderId: 's-5', stage: 'picking', reason: 'stale copy', at: at(4) }])).toEqual([{ kind: 'already-done' }]);
    expect((await aws.store.get('s-5'))?.status).toBe('delivered');
  });

  it('creates the record when the first it hears of an order is a stage (terminal tracking, or a lost intake write)', async () => {
    expect(await aws.store.advance([{ orderId: 's-6', warehouseId: 'wh-2', by: 'delivery', at: at(1) }])).toEqual([{ kind: 'applied' }]);
    expect(await aws.store.get('s-6')).toMatchObject({ status: 'delivered', warehouseId: 'wh-2', createdAt: at(1) });
  });

  it('reads many statuses at once, and nothing for unknown orders', async () => {
    const known = await aws.store.summaries(['s-2', 's-5', 'nobody', 's-2']);
    expect([...known.keys()].sort()).toEqual(['s-2', 's-5']);
    expect(known.get('s-2')).toEqual({ status: 'packing', payloadHash: 'h' });
  });
});
