/**
 * One contract, two tables: the in-memory table the unit and model-based tests use must behave as
 * the DynamoDB table does for every operation and condition the ledger relies on. The cases are
 * here; table.memory.test.ts runs them on the in-memory table (unit tier), table.test.ts on dynalite.
 */
import { expect, it } from 'vitest';
import {
  absent,
  allOf,
  anyOf,
  atMost,
  equals,
  isOneOf,
  lacks,
  type IndexDefinition,
  type Item,
  type Table,
} from '../../lib/ledger/table.ts';
import { LISTING_INDEX } from '../../lib/ledger/listing.ts';

/** Declares the contract's cases (inside a describe) for tables `makeTable` creates. */
export function tableContract(makeTable: () => Promise<Table>): void {
  const key = { orderId: 'o-1', sk: 'order' };

  it('puts an item only where none exists, when asked, and returns what it replaced', async () => {
    const table = await makeTable();
    expect(await table.put({ ...key, state: 'open' }, absent())).toEqual({ applied: true });
    expect(await table.put({ ...key, state: 'other' }, absent())).toEqual({ applied: false });
    expect(await table.put({ ...key, state: 'next' })).toEqual({ applied: true, old: { ...key, state: 'open' } });
  });

  it('updates with set, set-if-missing, append and remove, creating the item when absent', async () => {
    const table = await makeTable();
    expect(
      await table.update(key, { set: { a: 1 }, setIfMissing: { created: 'x' }, append: { list: [{ n: 1 }] } }),
    ).toEqual({ applied: true });
    const second = await table.update(key, {
      set: { a: 2 },
      setIfMissing: { created: 'y' },
      append: { list: [{ n: 2 }] },
      remove: ['gone'],
    });
    expect(second).toEqual({ applied: true, old: { ...key, a: 1, created: 'x', list: [{ n: 1 }] } });
    await table.update(key, { remove: ['a'] });
    expect(await table.getAll([key], { consistent: true })).toEqual([
      { ...key, created: 'x', list: [{ n: 1 }, { n: 2 }] },
    ]);
  });

  it('evaluates equals, in, at-most, and, or — and absent items fail every attribute condition', async () => {
    const table = await makeTable();
    const other = { orderId: 'o-2', sk: 'order' };
    expect((await table.update(other, { set: { x: 1 } }, equals('state', 'open'))).applied).toBe(false);
    expect((await table.update(other, { set: { x: 1 } }, isOneOf('state', ['open']))).applied).toBe(false);
    expect((await table.update(other, { set: { x: 1 } }, atMost('position', 5))).applied).toBe(false);
    await table.put({ ...key, state: 'dead', position: 2 });
    expect((await table.update(key, { set: { x: 1 } }, equals('state', 'open'))).applied).toBe(false);
    expect((await table.update(key, { set: { x: 1 } }, isOneOf('state', ['open', 'dead']))).applied).toBe(true);
    expect((await table.update(key, { set: { x: 2 } }, atMost('position', 1))).applied).toBe(false);
    expect((await table.update(key, { set: { x: 3 } }, atMost('position', 2))).applied).toBe(true);
    expect(
      (await table.update(key, { set: { x: 4 } }, allOf(equals('state', 'dead'), atMost('position', 1)))).applied,
    ).toBe(false);
    expect(
      (
        await table.update(
          key,
          { set: { x: 5 } },
          anyOf(absent(), allOf(equals('state', 'dead'), atMost('position', 3))),
        )
      ).applied,
    ).toBe(true);
    expect((await table.update(other, { set: { x: 6 } }, anyOf(absent(), equals('state', 'open')))).applied).toBe(true);
    expect((await table.getAll([key], { consistent: true }))[0]?.x).toBe(5);
  });

  it('adds to string sets, and tests that a set lacks a value (true for a missing set or item)', async () => {
    const table = await makeTable();
    expect((await table.update(key, { addToSet: { ids: ['m-1'] } }, lacks('ids', 'm-1'))).applied).toBe(true);
    expect((await table.update(key, { addToSet: { ids: ['m-1'] } }, lacks('ids', 'm-1'))).applied).toBe(false);
    expect((await table.update(key, { addToSet: { ids: ['m-2'] } }, lacks('ids', 'm-2'))).applied).toBe(true);
    const [item] = await table.getAll([key], { consistent: true });
    expect([...((item?.ids ?? new Set()) as Set<string>)].sort()).toEqual(['m-1', 'm-2']);
  });

  it('deletes conditionally', async () => {
    const table = await makeTable();
    await table.put({ ...key, owner: 'a' });
    expect((await table.delete(key, equals('owner', 'b'))).applied).toBe(false);
    expect(await table.delete(key, equals('owner', 'a'))).toEqual({ applied: true, old: { ...key, owner: 'a' } });
    expect(await table.getAll([key], { consistent: true })).toEqual([]);
  });

  it('writes and reads in batches beyond one request, and lists a collection and the table', async () => {
    const table = await makeTable();
    const items = Array.from({ length: 60 }, (_, i) => ({ orderId: `b-${i % 7}`, sk: `step#${i}`, i }));
    expect(await table.putAll(items)).toEqual([]);
    const keys = items.map(({ orderId, sk }) => ({ orderId, sk }));
    const found = await table.getAll([...keys, ...keys.map((k) => ({ ...k, orderId: `${k.orderId}-missing` }))], {
      consistent: true,
    });
    expect(found.map((f) => f.i).sort((a, b) => (a as number) - (b as number))).toEqual(items.map((i) => i.i));
    const collection = await table.collection('b-3', { consistent: true });
    expect(collection.map((c) => c.i).sort((a, b) => (a as number) - (b as number))).toEqual(
      items.filter((i) => i.orderId === 'b-3').map((i) => i.i),
    );
    const all: unknown[] = [];
    for await (const item of table.scan()) all.push(item);
    expect(all).toHaveLength(60);
  });

  it('queries a sparse index: only items with both index keys, projected, by sort key either way, from a sort key on, filtered, in pages', async () => {
    const table = await makeTable();
    const index: IndexDefinition = LISTING_INDEX;
    const head = (orderId: string, part: string | undefined, at: string | undefined, warehouseId: string) => ({
      orderId,
      sk: 'order',
      warehouseId,
      secret: 'not projected',
      ...(part !== undefined ? { [index.partitionKey]: part } : {}),
      ...(at !== undefined ? { [index.sortKey]: at } : {}),
    });
    await table.putAll([
      head('a', 'p#1', '2026-01-01T00:00:01Z', 'wh-1'),
      head('b', 'p#1', '2026-01-01T00:00:03Z', 'wh-2'),
      head('c', 'p#1', '2026-01-01T00:00:02Z', 'wh-1'),
      head('d', 'p#2', '2026-01-01T00:00:04Z', 'wh-1'),
      head('e', 'p#1', undefined, 'wh-1'),
      head('f', undefined, '2026-01-01T00:00:05Z', 'wh-1'),
      {
        orderId: 'a',
        sk: 'step#x',
        [index.partitionKey]: 'p#1',
        [index.sortKey]: '2026-01-01T00:00:00Z',
        warehouseId: 'wh-1',
      },
    ]);
    const ids = (items: readonly Item[]) => items.map((i) => `${String(i.orderId)}/${String(i.sk)}`);
    const all = await table.queryIndex(index, { partition: 'p#1', limit: 10 });
    expect(ids(all.items)).toEqual(['a/step#x', 'a/order', 'c/order', 'b/order']);
    expect(all.next).toBeUndefined();
    expect(all.items[1]).toEqual({
      orderId: 'a',
      sk: 'order',
      [index.partitionKey]: 'p#1',
      [index.sortKey]: '2026-01-01T00:00:01Z',
      warehouseId: 'wh-1',
    });
    expect(ids((await table.queryIndex(index, { partition: 'p#1', descending: true, limit: 10 })).items)).toEqual([
      'b/order',
      'c/order',
      'a/order',
      'a/step#x',
    ]);
    expect(
      ids((await table.queryIndex(index, { partition: 'p#1', sortFrom: '2026-01-01T00:00:02Z', limit: 10 })).items),
    ).toEqual(['c/order', 'b/order']);
    expect(
      ids(
        (await table.queryIndex(index, { partition: 'p#1', filter: equals('warehouseId', 'wh-2'), limit: 10 })).items,
      ),
    ).toEqual(['b/order']);

    // Pages: `limit` counts what was evaluated before the filter; `next` goes on where a page stopped.
    const first = await table.queryIndex(index, {
      partition: 'p#1',
      descending: true,
      filter: equals('warehouseId', 'wh-1'),
      limit: 2,
    });
    expect(ids(first.items)).toEqual(['c/order']);
    expect(first.next).toBeDefined();
    const second = await table.queryIndex(index, {
      partition: 'p#1',
      descending: true,
      filter: equals('warehouseId', 'wh-1'),
      limit: 2,
      startAfter: first.next!,
    });
    expect(ids(second.items)).toEqual(['a/order', 'a/step#x']);

    // An item leaves the index when it loses a key attribute, and moves when its sort key changes.
    await table.update({ orderId: 'b', sk: 'order' }, { remove: [index.partitionKey] });
    await table.update({ orderId: 'c', sk: 'order' }, { set: { [index.sortKey]: '2026-01-01T00:00:09Z' } });
    expect(ids((await table.queryIndex(index, { partition: 'p#1', descending: true, limit: 10 })).items)).toEqual([
      'c/order',
      'a/order',
      'a/step#x',
    ]);
  });
}
