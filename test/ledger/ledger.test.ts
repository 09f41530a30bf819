/**
 * The order ledger's rules, on the in-memory table (the same contract as DynamoDB's, see
 * table.test.ts): claims, steps, the exactly-once completion, dead letters that never move an order
 * back, revival by a redrive, and the record and totals read back from the facts.
 */
import { describe, expect, it } from 'vitest';
import { ORDER_STATUS_LABELS } from '../../lib/domain/status.ts';
import { OrderLedger } from '../../lib/ledger/ledger.ts';
import { at, claim, completion, death, step } from '../support/ledger-facts.ts';
import { MemoryTable } from '../support/memory-table.ts';

const ledger = () => new OrderLedger(new MemoryTable(), ORDER_STATUS_LABELS);

/** An order claimed, queued and taken through picking (1) and packing (2): it waits in delivery (3). */
async function inDelivery(l: OrderLedger, id: string): Promise<void> {
  await l.claim(claim(id));
  await l.confirmQueued([{ id, partition: 'wh-1', entryStage: 'picking', at: at(1) }]);
  await l.recordSteps([step(id, 'picking', 1, 'packing', 2)]);
  await l.recordSteps([step(id, 'packing', 2, 'delivery', 3)]);
}

describe('claims', () => {
  it('lets one claim win; the loser sees the winner’s fingerprint and whether it is queued', async () => {
    const l = ledger();
    expect(await l.claim(claim('c-1'))).toBe(true);
    expect(await l.claim(claim('c-1', { requestId: 'r-2', fingerprint: 'f-2' }))).toBe(false);
    expect(await l.inspect('c-1')).toEqual({ fingerprint: 'f-1', requestId: 'r-1', leaseUntil: 10_000, queued: false });
    // Not an accepted order until its claimant confirms it is queued.
    expect(await l.read('c-1')).toBeUndefined();
    await l.confirmQueued([{ id: 'c-1', partition: 'wh-1', entryStage: 'picking', at: at(1) }]);
    expect(await l.inspect('c-1')).toMatchObject({ queued: true, record: { status: 'accepted', stage: 'picking' } });
  });

  it('is taken over only from the claimant it names, and released only by its claimant', async () => {
    const l = ledger();
    await l.claim(claim('c-2'));
    expect(
      await l.takeOver('c-2', { requestId: 'r-9', leaseUntil: 10_000 }, { requestId: 'r-2', leaseUntil: 20_000 }),
    ).toBe(false);
    expect(
      await l.takeOver('c-2', { requestId: 'r-1', leaseUntil: 10_000 }, { requestId: 'r-2', leaseUntil: 20_000 }),
    ).toBe(true);
    await l.release('c-2', 'r-1');
    expect(await l.inspect('c-2')).toBeDefined();
    await l.release('c-2', 'r-2');
    expect(await l.inspect('c-2')).toBeUndefined();
  });
});

describe('status from the facts', () => {
  it('moves forward with each step, with one history entry per step, in time order', async () => {
    const l = ledger();
    await inDelivery(l, 's-1');
    const record = await l.read('s-1');
    expect(record).toMatchObject({
      orderId: 's-1',
      warehouseId: 'wh-1',
      status: ORDER_STATUS_LABELS.waitingIn('delivery'),
      stage: 'delivery',
    });
    expect(record?.history.map((h) => `${h.by}:${h.status}`)).toEqual([
      'intake:accepted',
      'picking:packing',
      `packing:${ORDER_STATUS_LABELS.waitingIn('delivery')}`,
    ]);
  });

  it('keeps a stage’s step recorded after the next stage’s, without moving back', async () => {
    const l = ledger();
    await l.claim(claim('s-2'));
    await l.recordSteps([step('s-2', 'packing', 2, 'delivery', 3)]);
    await l.recordSteps([step('s-2', 'picking', 1, 'packing', 2)]);
    expect((await l.read('s-2'))?.stage).toBe('delivery');
  });

  it('records a completion once: a repeat is a duplicate, and the order stays delivered', async () => {
    const l = ledger();
    await inDelivery(l, 's-3');
    expect(await l.complete([completion('s-3', 4)])).toEqual([{ kind: 'applied', previous: 'open' }]);
    expect(await l.complete([completion('s-3', 5)])).toEqual([{ kind: 'duplicate' }]);
    await l.recordSteps([step('s-3', 'picking', 1, 'packing', 6)]);
    expect(await l.read('s-3')).toMatchObject({
      status: 'delivered',
      stage: 'delivery',
      delivery: { carrier: 'paketfix' },
    });
    expect((await l.read('s-3'))?.history.filter((h) => h.status === 'delivered')).toHaveLength(1);
  });

  it('creates the record of an order it never saw claimed (put straight on a queue)', async () => {
    const l = ledger();
    expect(await l.complete([completion('s-4', 1)])).toEqual([{ kind: 'applied' }]);
    expect(await l.deadLetter([death('s-5', 'picking', 1, 1)])).toEqual([{ kind: 'applied' }]);
    expect((await l.read('s-4'))?.status).toBe('delivered');
    expect((await l.read('s-5'))?.status).toBe('dead-lettered');
  });
});

describe('dead letters', () => {
  it('mark an order dead-lettered with the reason and where, and keep the reason in the history', async () => {
    const l = ledger();
    await inDelivery(l, 'd-1');
    expect(await l.deadLetter([death('d-1', 'delivery', 3, 4, { reason: 'no carrier' })])).toEqual([
      { kind: 'applied', previous: 'open' },
    ]);
    expect(await l.read('d-1')).toMatchObject({ status: 'dead-lettered', stage: 'delivery', reason: 'no carrier' });
    expect((await l.read('d-1'))?.history.at(-1)).toMatchObject({
      status: 'dead-lettered',
      by: 'delivery',
      reason: 'no carrier',
    });
  });

  it('are never undone by a stale duplicate of an earlier stage (issue 10, item 3)', async () => {
    const l = ledger();
    await inDelivery(l, 'd-2');
    await l.deadLetter([death('d-2', 'delivery', 3, 4, { reason: 'no carrier' })]);
    await l.recordSteps([step('d-2', 'picking', 1, 'packing', 5)]);
    expect(await l.deadLetter([death('d-2', 'picking', 1, 6, { reason: 'stale copy failed' })])).toEqual([
      { kind: 'ignored' },
    ]);
    expect(await l.revive([{ id: 'd-2', position: 1, at: at(7) }])).toEqual([{ kind: 'ignored' }]);
    expect(await l.read('d-2')).toMatchObject({ status: 'dead-lettered', stage: 'delivery', reason: 'no carrier' });
  });

  it('of a stale copy do not move an order back from a later stage', async () => {
    const l = ledger();
    await inDelivery(l, 'd-3');
    // A duplicate picking message ran out of retries while the order itself waits in delivery.
    await l.deadLetter([death('d-3', 'picking', 1, 4)]);
    expect(await l.read('d-3')).toMatchObject({ status: ORDER_STATUS_LABELS.waitingIn('delivery'), stage: 'delivery' });
    expect((await l.read('d-3'))?.reason).toBeUndefined();
  });

  it('are left when the stage that held the order processes it again (a redrive)', async () => {
    const l = ledger();
    await l.claim(claim('d-4'));
    await l.recordSteps([step('d-4', 'picking', 1, 'packing', 1)]);
    await l.deadLetter([death('d-4', 'packing', 2, 2)]);
    await l.recordSteps([step('d-4', 'packing', 2, 'delivery', 3)]);
    expect((await l.read('d-4'))?.status).toBe(ORDER_STATUS_LABELS.waitingIn('delivery'));
    expect(await l.revive([{ id: 'd-4', position: 2, at: at(3) }])).toEqual([
      { kind: 'applied', previous: 'dead-lettered' },
    ]);
    expect(await l.complete([completion('d-4', 4)])).toEqual([{ kind: 'applied', previous: 'open' }]);
  });

  it('never touch a delivered order, and a delivery after a dead letter revives it', async () => {
    const l = ledger();
    await inDelivery(l, 'd-5');
    await l.complete([completion('d-5', 4)]);
    expect(await l.deadLetter([death('d-5', 'delivery', 3, 5)])).toEqual([{ kind: 'ignored' }]);
    await inDelivery(l, 'd-6');
    await l.deadLetter([death('d-6', 'delivery', 3, 4)]);
    expect(await l.complete([completion('d-6', 5)])).toEqual([{ kind: 'applied', previous: 'dead-lettered' }]);
    expect(await l.read('d-6')).toMatchObject({ status: 'delivered' });
    expect((await l.read('d-6'))?.reason).toBeUndefined();
  });

  it('are recognised by message id, so the auditor records each dead letter once', async () => {
    const l = ledger();
    await l.deadLetter([{ ...death('d-7', 'picking', 1, 1), messageId: 'm-1' }]);
    expect(await l.recordedDeath('d-7', 'm-1')).toBe(true);
    expect(await l.recordedDeath('d-7', 'm-2')).toBe(false);
  });
});

describe('totals', () => {
  it('count every order once, by where it is, and reconcile', async () => {
    const l = ledger();
    await inDelivery(l, 't-1');
    await inDelivery(l, 't-2');
    await l.complete([completion('t-2', 4)]);
    await l.deadLetter([death('t-3', 'picking', 1, 1)]);
    await l.claim(claim('t-4'));
    await l.confirmQueued([{ id: 't-4', partition: 'wh-1', entryStage: 'picking', at: at(1) }]);
    await l.claim(claim('t-5')); // being accepted: not counted until confirmed
    const totals = await l.totals();
    expect(totals).toEqual({ accepted: 4, delivered: 1, deadLettered: 1, cancelled: 0, purged: 0, inFlight: 2 });
    expect(totals.accepted).toBe(
      totals.delivered + totals.deadLettered + totals.cancelled + totals.purged + totals.inFlight,
    );
  });
});
