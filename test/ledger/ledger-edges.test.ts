/**
 * The order ledger at its edges, on the in-memory table: what `lookup`, `inspect`, `waitingIn`,
 * `notedDeadLetters` and the totals show; dead letters that move forward, close and revive; orders
 * first seen by a stage; a table that fails or serves stale reads; and the head as it is stored.
 */
import { describe, expect, it } from 'vitest';
import { ORDER_STATUS_LABELS } from '../../lib/domain/status.ts';
import { OrderLedger } from '../../lib/ledger/ledger.ts';
import { LISTING_ATTRIBUTES, listOrders } from '../../lib/ledger/listing.ts';
import { HEAD, type HeadItem } from '../../lib/ledger/records.ts';
import { type Item, type Key, type Table, TableThrottledError, type Update } from '../../lib/ledger/table.ts';
import { at, claim, closing, completion, death, LABELS, step } from '../support/ledger-facts.ts';
import { MemoryTable } from '../support/memory-table.ts';

/** An order claimed by the intake and confirmed queued: it waits in picking. */
async function accepted(l: OrderLedger, id: string, warehouseId = 'wh-1'): Promise<void> {
  await l.claim(claim(id, { warehouseId }));
  await l.confirmQueued([{ id, partition: warehouseId, entryStage: 'picking', at: at(1) }]);
}

/** The order's head as the table holds it (consistent). */
async function storedHead(table: Table, id: string): Promise<Record<string, unknown> | undefined> {
  const [head] = await table.getAll([{ orderId: id, sk: HEAD }], { consistent: true });
  return head;
}

/** A table whose conditional writes fail (throttled) and whose batch writes leave some orders unwritten. */
class FailingTable extends MemoryTable {
  failWrites = false;
  readonly unwritable = new Set<string>();

  override async update(key: Key, update: Update, condition?: Parameters<Table['update']>[2]) {
    if (this.failWrites) throw new TableThrottledError('throughput exceeded for the ledger table');
    return super.update(key, update, condition);
  }

  override async putAll(items: readonly Item[]): Promise<Item[]> {
    const failed = items.filter((i) => this.unwritable.has(i.orderId as string));
    await super.putAll(items.filter((i) => !this.unwritable.has(i.orderId as string)));
    return failed;
  }
}

describe('a table that fails', () => {
  it('reports each write it could not make as an error with the table’s message, to be tried again', async () => {
    const table = new FailingTable();
    const l = new OrderLedger(table, LABELS);
    await accepted(l, 'e-1');
    table.failWrites = true;
    const error = { kind: 'error', message: 'throughput exceeded for the ledger table' };
    expect(await l.complete([completion('e-1', 2)])).toEqual([error]);
    expect(await l.deadLetter([death('e-1', 'picking', 1, 2)])).toEqual([error]);
    expect(await l.revive([{ id: 'e-1', position: 1, at: at(2) }])).toEqual([error]);
    expect(await l.close([closing('e-1', 'cancelled', 2)])).toEqual([error]);
    table.failWrites = false;
    expect((await l.read('e-1'))?.status).toBe('received');
  });

  it('returns the ids whose steps the batch could not write, and records the others', async () => {
    const table = new FailingTable();
    const l = new OrderLedger(table, LABELS);
    table.unwritable.add('b-2');
    const queued = ['b-1', 'b-2'].map((id) => ({ id, partition: 'wh-1', entryStage: 'picking', at: at(1) }));
    expect(await l.confirmQueued(queued)).toEqual(['b-2']);
    expect(
      await l.recordSteps([step('b-1', 'picking', 1, 'packing', 2), step('b-2', 'picking', 1, 'packing', 2)]),
    ).toEqual(['b-2']);
    expect((await l.read('b-1'))?.status).toBe('waiting in packing');
    expect(await l.read('b-2')).toBeUndefined();
  });
});

describe('decisions read consistently, even when the table serves stale reads', () => {
  /** Every eventually consistent read sees the table as it was long ago (before any write). */
  const stale = () => new MemoryTable({ probability: 1, maxLag: 1_000, random: () => 0.5 });

  it('knows a dead letter it has just noted', async () => {
    const l = new OrderLedger(stale(), LABELS);
    await l.deadLetter([death('c-1', 'picking', 1, 1, { messageId: 'm-1' })]);
    expect(await l.recordedDeath('c-1', 'm-1')).toBe(true);
  });

  it('calls a repeated completion a duplicate, not a closed order', async () => {
    const l = new OrderLedger(stale(), LABELS);
    await accepted(l, 'c-2');
    await l.complete([completion('c-2', 2)]);
    expect(await l.complete([completion('c-2', 3)])).toEqual([{ kind: 'duplicate' }]);
  });
});

describe('inspect', () => {
  it('shows an order a stage saw before any claim as queued, with no claim details', async () => {
    const l = new OrderLedger(new MemoryTable(), LABELS);
    await l.recordSteps([step('i-1', 'picking', 1, 'packing', 1)]);
    await l.deadLetter([death('i-2', 'picking', 1, 1)]);
    for (const id of ['i-1', 'i-2']) {
      const view = await l.inspect(id);
      expect(Object.keys(view ?? {}).sort()).toEqual(['queued', 'record']);
      expect(view?.queued).toBe(true);
    }
    expect((await l.inspect('i-1'))?.record?.status).toBe('waiting in packing');
    expect((await l.inspect('i-2'))?.record?.status).toBe('dead-lettered');
  });
});

describe('lookup', () => {
  it('tells each order’s head state, where it died, and whether the stage asked about recorded its step', async () => {
    const l = new OrderLedger(new MemoryTable(), LABELS);
    await accepted(l, 'l-1');
    await l.recordSteps([step('l-1', 'picking', 1, 'packing', 2)]);
    await accepted(l, 'l-2');
    await l.deadLetter([death('l-2', 'picking', 1, 2)]);
    await l.recordSteps([step('l-3', 'picking', 1, 'packing', 2)]); // a step before its head exists
    const seen = await l.lookup(['l-1', 'l-2', 'l-1', 'l-3', 'l-unknown'], 'picking');
    // As plain objects: a Map's values are not compared strictly (an `undefined` field would pass).
    expect(Object.fromEntries(seen)).toStrictEqual({
      'l-1': { state: 'open', done: true },
      'l-2': { state: 'dead-lettered', deadPosition: 1, done: false },
      'l-3': { done: true },
    });
    expect(Object.fromEntries(await l.lookup(['l-1']))).toStrictEqual({ 'l-1': { state: 'open', done: false } });
  });
});

describe('dead letters', () => {
  it('move an order forward to a later stage’s dead letter, with that stage and reason', async () => {
    const l = new OrderLedger(new MemoryTable(), LABELS);
    await accepted(l, 'd-1');
    await l.deadLetter([death('d-1', 'picking', 1, 2, { reason: 'no stock' })]);
    expect(await l.deadLetter([death('d-1', 'packing', 2, 3, { reason: 'no box' })])).toEqual([
      { kind: 'applied', previous: 'dead-lettered' },
    ]);
    expect(await l.read('d-1')).toMatchObject({ status: 'dead-lettered', stage: 'packing', reason: 'no box' });
    expect((await l.lookup(['d-1'])).get('d-1')?.deadPosition).toBe(2);
  });

  it('of an order never claimed take its warehouse and time from the dead letter (or have no warehouse)', async () => {
    const l = new OrderLedger(new MemoryTable(), LABELS);
    await l.deadLetter([death('d-2', 'picking', 1, 4)]);
    expect(await l.read('d-2')).toMatchObject({ warehouseId: 'wh-1', createdAt: at(4), stage: 'picking' });
    const { partition: _, ...unknownWarehouse } = death('d-3', 'picking', 1, 4);
    await l.deadLetter([unknownWarehouse]);
    expect(Object.keys((await l.read('d-3')) ?? {})).not.toContain('warehouseId');
  });

  it('note the message id even when the order has gone further, so the auditor does not try it again', async () => {
    const l = new OrderLedger(new MemoryTable(), LABELS);
    await accepted(l, 'd-4');
    await l.complete([completion('d-4', 2)]);
    expect(await l.deadLetter([death('d-4', 'delivery', 3, 3, { messageId: 'm-4' })])).toEqual([{ kind: 'ignored' }]);
    expect(await l.recordedDeath('d-4', 'm-4')).toBe(true);
    expect((await l.read('d-4'))?.history.some((h) => h.status === 'dead-lettered')).toBe(false);
  });

  it('without a message id, when ignored, note nothing', async () => {
    const l = new OrderLedger(new MemoryTable(), LABELS);
    await accepted(l, 'd-5');
    await l.complete([completion('d-5', 2)]);
    expect(await l.deadLetter([death('d-5', 'delivery', 3, 3)])).toEqual([{ kind: 'ignored' }]);
    expect((await l.notedDeadLetters(['d-5'])).get('d-5')?.size).toBe(0);
  });

  it('are listed per order as noted (an order with none noted has an empty set; unknown ones are absent)', async () => {
    const l = new OrderLedger(new MemoryTable(), LABELS);
    await l.deadLetter([death('n-1', 'picking', 1, 1, { messageId: 'm-1' })]);
    await l.deadLetter([death('n-1', 'packing', 2, 2, { messageId: 'm-2' })]);
    await l.deadLetter([death('n-2', 'picking', 1, 1)]);
    const noted = await l.notedDeadLetters(['n-1', 'n-2', 'n-1', 'n-unknown']);
    expect([...noted.keys()].sort()).toEqual(['n-1', 'n-2']);
    expect([...(noted.get('n-1') ?? [])].sort()).toEqual(['m-1', 'm-2']);
    expect(noted.get('n-2')).toEqual(new Set());
  });
});

describe('leaving dead-lettered', () => {
  /** What the dead-letter list and `lookup` show of an order. */
  async function deadView(table: Table, l: OrderLedger, id: string) {
    const listed = await listOrders(table, LABELS, { states: ['dead-lettered'], limit: 10 });
    return {
      listed: listed.orders.map((o) => o.orderId),
      skipped: listed.skipped,
      deadPosition: (await l.lookup([id])).get(id)?.deadPosition,
    };
  }
  const gone = { listed: [], skipped: 0, deadPosition: undefined };

  it('by a delivery: off the dead-letter list, no dead position left', async () => {
    const table = new MemoryTable();
    const l = new OrderLedger(table, LABELS);
    await accepted(l, 'v-1');
    await l.deadLetter([death('v-1', 'delivery', 3, 2)]);
    expect(await deadView(table, l, 'v-1')).toEqual({ listed: ['v-1'], skipped: 0, deadPosition: 3 });
    await l.complete([completion('v-1', 3)]);
    expect(await deadView(table, l, 'v-1')).toEqual(gone);
  });

  it('by a revival: off the dead-letter list, no dead position left, in flight again', async () => {
    const table = new MemoryTable();
    const l = new OrderLedger(table, LABELS);
    await accepted(l, 'v-2');
    await l.deadLetter([death('v-2', 'picking', 1, 2)]);
    expect(await l.revive([{ id: 'v-2', position: 1, at: at(3) }])).toEqual([
      { kind: 'applied', previous: 'dead-lettered' },
    ]);
    expect(await deadView(table, l, 'v-2')).toEqual(gone);
    expect(await l.read('v-2')).toMatchObject({ status: 'received', updatedAt: at(3) });
  });

  it('by a cancel: on the cancelled list instead, no dead position left', async () => {
    const table = new MemoryTable();
    const l = new OrderLedger(table, LABELS);
    await accepted(l, 'v-3');
    await l.deadLetter([death('v-3', 'packing', 2, 2)]);
    expect(await l.close([closing('v-3', 'cancelled', 3)])).toEqual([{ kind: 'applied', previous: 'dead-lettered' }]);
    expect(await deadView(table, l, 'v-3')).toEqual(gone);
    const cancelled = await listOrders(table, LABELS, { states: ['cancelled'], limit: 10 });
    expect(cancelled.orders).toEqual([
      { orderId: 'v-3', warehouseId: 'wh-1', status: 'cancelled', stage: 'packing', since: at(3), by: 'operator' },
    ]);
  });
});

describe('closed orders', () => {
  it('are never closed again, nor a delivered one closed', async () => {
    const l = new OrderLedger(new MemoryTable(), LABELS);
    await accepted(l, 'x-1');
    await l.close([closing('x-1', 'cancelled', 2)]);
    await accepted(l, 'x-2');
    await l.complete([completion('x-2', 2)]);
    expect(await l.close([closing('x-1', 'purged', 3), closing('x-2', 'cancelled', 3)])).toEqual([
      { kind: 'ignored' },
      { kind: 'ignored' },
    ]);
    expect((await l.read('x-1'))?.status).toBe('cancelled');
    expect((await l.read('x-2'))?.status).toBe('done');
  });

  it('refuse a completion, which reports the state that closed them', async () => {
    const l = new OrderLedger(new MemoryTable(), LABELS);
    await accepted(l, 'x-3');
    await accepted(l, 'x-4');
    await l.close([closing('x-3', 'cancelled', 2), closing('x-4', 'purged', 2)]);
    expect(await l.complete([completion('x-3', 3), completion('x-4', 3)])).toEqual([
      { kind: 'closed', state: 'cancelled' },
      { kind: 'closed', state: 'purged' },
    ]);
  });
});

describe('orders first seen by the last stage', () => {
  it('take their warehouse from the completion and show who completed them', async () => {
    const l = new OrderLedger(new MemoryTable(), LABELS);
    await l.complete([completion('f-1', 5)]);
    expect(await l.read('f-1')).toMatchObject({
      warehouseId: 'wh-1',
      status: 'done',
      stage: 'delivery',
      createdAt: at(5),
      delivery: { carrier: 'paketfix' },
    });
  });
});

describe('steps', () => {
  it('keep their detail in the order’s history', async () => {
    const l = new OrderLedger(new MemoryTable(), LABELS);
    await accepted(l, 'h-1');
    await l.recordSteps([{ ...step('h-1', 'picking', 1, 'packing', 2), detail: { picker: 'p-7' } }]);
    expect((await l.read('h-1'))?.history).toEqual([
      { at: at(1), status: 'received', by: 'intake' },
      { at: at(2), status: 'waiting in packing', by: 'picking', detail: { picker: 'p-7' } },
    ]);
  });
});

describe('waitingIn', () => {
  it('finds a pipeline’s orders waiting in or dead-lettered at a stage, never final ones or pending claims', async () => {
    const l = new OrderLedger(new MemoryTable(), LABELS);
    const atPacking = async (id: string, warehouseId = 'wh-1') => {
      await accepted(l, id, warehouseId);
      await l.recordSteps([step(id, 'picking', 1, 'packing', 2, warehouseId)]);
    };
    await atPacking('w-waiting');
    await atPacking('w-dead');
    await l.deadLetter([death('w-dead', 'packing', 2, 3)]);
    await atPacking('w-other-warehouse', 'wh-2');
    await accepted(l, 'w-in-picking');
    await atPacking('w-completed'); // packing is the last stage of this pipeline
    await l.complete([completion('w-completed', 3, 'packing')]);
    await atPacking('w-cancelled');
    await atPacking('w-purged');
    await l.close([closing('w-cancelled', 'cancelled', 3), closing('w-purged', 'purged', 3)]);
    await l.claim(claim('w-pending', { entryStage: 'packing' }));
    expect((await l.waitingIn('wh-1', 'packing')).sort()).toEqual(['w-dead', 'w-waiting']);
    expect(await l.waitingIn('wh-2', 'packing')).toEqual(['w-other-warehouse']);
  });
});

describe('totals', () => {
  it('count cancelled and purged orders apart from those in flight', async () => {
    const l = new OrderLedger(new MemoryTable(), ORDER_STATUS_LABELS);
    for (const id of ['t-1', 't-2', 't-3']) await accepted(l, id);
    await l.close([closing('t-1', 'cancelled', 2), closing('t-2', 'purged', 2), closing('t-2', 'purged', 3)]);
    expect(await l.totals()).toEqual({
      accepted: 3,
      delivered: 0,
      deadLettered: 0,
      cancelled: 1,
      purged: 1,
      inFlight: 1,
    });
  });
});

describe('the head as stored', () => {
  it('keeps each noted dead-letter id in `deadLetterIds` and with its death, the format existing tables hold', async () => {
    const table = new MemoryTable();
    const l = new OrderLedger(table, LABELS);
    await l.deadLetter([death('s-1', 'picking', 1, 1, { messageId: 'm-1' })]);
    const head = (await storedHead(table, 's-1')) as unknown as HeadItem & { deadLetterIds?: Set<string> };
    expect(head.deadLetterIds).toEqual(new Set(['m-1']));
    expect(head.deaths?.map((d) => d.messageId)).toEqual(['m-1']);
  });

  it('holds where and why an order died only while it is dead-lettered', async () => {
    const table = new MemoryTable();
    const l = new OrderLedger(table, LABELS);
    const deadFields = ['deadStage', 'deadPosition', 'reason', ...LISTING_ATTRIBUTES];
    const left = async (id: string) => {
      const head = (await storedHead(table, id)) ?? {};
      return deadFields.filter((f) => head[f] !== undefined);
    };
    for (const id of ['s-2', 's-3', 's-4']) {
      await accepted(l, id);
      await l.deadLetter([death(id, 'picking', 1, 2)]);
    }
    expect(await left('s-2')).toEqual(deadFields);
    await l.complete([completion('s-2', 3)]);
    await l.revive([{ id: 's-3', position: 1, at: at(3) }]);
    await l.close([closing('s-4', 'purged', 3)]);
    expect(await left('s-2')).toEqual([]);
    expect(await left('s-3')).toEqual([]);
    // A closed order is listed under its closing state instead.
    expect(await left('s-4')).toEqual(LISTING_ATTRIBUTES);
  });
});
