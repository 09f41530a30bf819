/**
 * Finding orders by state: a sparse global secondary index of the ledger's table that holds only the
 * orders an operator looks for — dead-lettered, cancelled, purged — and never one in flight or
 * delivered. Only the head item of an order in one of those states carries the index's key
 * attributes (the ledger sets them in the very conditional writes that enter those states, and
 * removes them when an order leaves `dead-lettered`), so a healthy pipeline writes nothing to it.
 *
 *   partition key  listedState = "<state>#<shard>"   e.g. "dead-lettered#7"
 *   sort key       listedAt    = when the order entered the state (ISO time)
 *   projected      warehouseId (for --warehouse)
 *
 * Why shards: one index partition takes about 1,000 writes a second, and an index that cannot keep
 * up throttles the table writes feeding it. A purge of a large queue or a sick downstream
 * dead-letters orders faster than that into one state, so each state is spread over
 * `LISTING_SHARDS` partition values by a hash of the order id; a list queries every shard and merges.
 */
import { mapConcurrent } from '../aws/concurrency.ts';
import { deriveRecord, type HeadState, type StatusLabels } from './records.ts';
import { equals, type IndexDefinition, type Item, type Table } from './table.ts';

/** The head states the index lists. */
export const LISTED_STATES = ['dead-lettered', 'cancelled', 'purged'] as const satisfies readonly HeadState[];
export type ListedState = (typeof LISTED_STATES)[number];

/** Partition key values per listed state. */
export const LISTING_SHARDS = 10;

/** The index as the table (lib/infra/status-table.ts, the local emulator's table) declares it. */
export const LISTING_INDEX: IndexDefinition = {
  name: 'by-listed-state',
  partitionKey: 'listedState',
  sortKey: 'listedAt',
  projected: ['warehouseId'],
};

/** The attributes an order leaves the index by losing (its head's update removes them). */
export const LISTING_ATTRIBUTES: readonly string[] = [LISTING_INDEX.partitionKey, LISTING_INDEX.sortKey];

/** How many orders one list returns at most (each is then read, to report its current record). */
export const MAX_LISTED = 1_000;
/** Orders read at once while a list is checked against their records. */
const READ_CONCURRENCY = 8;

/**
 * The shard of an order id: FNV-1a, written out (a dozen lines) rather than a crypto hash — it runs
 * in every dead-lettering write and needs only to spread ids evenly, not to be secret.
 */
export function listingShard(orderId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < orderId.length; i++) {
    hash ^= orderId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % LISTING_SHARDS;
}

/**
 * The index attributes of a head entering `state` at `at`: set them in the write that enters it.
 *
 * @example
 * listingAttributes('o-1', 'cancelled', '2026-12-01T10:00:00.000Z'); // { listedState: 'cancelled#4', listedAt: '2026-12-01T10:00:00.000Z' }
 */
export function listingAttributes(orderId: string, state: ListedState, at: string): Record<string, string> {
  return { [LISTING_INDEX.partitionKey]: `${state}#${listingShard(orderId)}`, [LISTING_INDEX.sortKey]: at };
}

export interface ListQuery {
  readonly states: readonly ListedState[];
  readonly warehouseId?: string;
  /** Only orders that entered their state at or after this ISO time. */
  readonly since?: string;
  /** At most this many, newest first (1 to MAX_LISTED). */
  readonly limit: number;
}

/** One listed order, as its record shows it now. */
export interface ListedOrder {
  readonly orderId: string;
  readonly warehouseId?: string;
  readonly status: ListedState;
  /** Where it died, or where it was when it was cancelled or purged. */
  readonly stage: string;
  /** When it entered its state. */
  readonly since: string;
  /** Why it was dead-lettered. */
  readonly reason?: string;
  /** Who cancelled or purged it. */
  readonly by?: string;
}

export interface ListedOrders {
  readonly orders: readonly ListedOrder[];
  /** More orders may match than `limit` (ask for a higher limit or a shorter --since). */
  readonly truncated: boolean;
  /**
   * Index entries left out because the order's record shows it moved on: a dead-lettered order
   * that a redrive took further before the ledger noted its revival (the index catches up on it).
   */
  readonly skipped: number;
}

/**
 * The orders in the given states, newest first: one Query per state and shard on the index, then a
 * consistent read of each order found, so the list shows each order's record as it is now.
 *
 * @example
 * const { orders } = await listOrders(table, ORDER_STATUS_LABELS, { states: ['dead-lettered'], warehouseId: 'wh-1', limit: 50 });
 */
export async function listOrders(table: Table, labels: StatusLabels, query: ListQuery): Promise<ListedOrders> {
  const partitions = query.states.flatMap((state) =>
    Array.from({ length: LISTING_SHARDS }, (_, shard) => `${state}#${shard}`),
  );
  const found = await mapConcurrent(partitions, READ_CONCURRENCY, (partition) => newestIn(table, partition, query));
  const entries = found
    .flatMap((f) => f.items)
    .sort((a, b) => compareNewestFirst(a, b))
    .slice(0, query.limit);
  const truncated = found.some((f) => f.more) || found.reduce((n, f) => n + f.items.length, 0) > query.limit;
  const listed = await mapConcurrent(entries, READ_CONCURRENCY, (entry) => currentListing(table, labels, entry));
  const orders = listed.filter((o): o is ListedOrder => o !== undefined);
  return { orders, truncated, skipped: listed.length - orders.length };
}

/** Up to `limit` index entries of one partition, newest first, with whether more match. */
async function newestIn(table: Table, partition: string, query: ListQuery): Promise<{ items: Item[]; more: boolean }> {
  const items: Item[] = [];
  let startAfter: Readonly<Record<string, unknown>> | undefined;
  do {
    const page = await table.queryIndex(LISTING_INDEX, {
      partition,
      descending: true,
      limit: query.limit,
      ...(query.since ? { sortFrom: query.since } : {}),
      ...(query.warehouseId ? { filter: equals('warehouseId', query.warehouseId) } : {}),
      ...(startAfter ? { startAfter } : {}),
    });
    items.push(...page.items);
    startAfter = page.next;
  } while (startAfter && items.length < query.limit);
  return {
    items: items.slice(0, query.limit),
    more: items.length > query.limit || (startAfter !== undefined && items.length >= query.limit),
  };
}

function compareNewestFirst(a: Item, b: Item): number {
  const [x, y] = [String(a[LISTING_INDEX.sortKey]), String(b[LISTING_INDEX.sortKey])];
  return x === y ? String(a.orderId).localeCompare(String(b.orderId)) : x < y ? 1 : -1;
}

/** The order of an index entry as its record shows it now; undefined when it is no longer in the entry's state. */
async function currentListing(table: Table, labels: StatusLabels, entry: Item): Promise<ListedOrder | undefined> {
  const state = String(entry[LISTING_INDEX.partitionKey]).split('#')[0] as ListedState;
  const record = deriveRecord(await table.collection(String(entry.orderId), { consistent: true }), labels);
  if (!record || record.status !== state) return undefined;
  const closing = state === 'dead-lettered' ? undefined : record.history.findLast((h) => h.status === state);
  return {
    orderId: record.orderId,
    ...(record.warehouseId ? { warehouseId: record.warehouseId } : {}),
    status: state,
    stage: record.stage,
    since: String(entry[LISTING_INDEX.sortKey]),
    ...(record.reason ? { reason: record.reason } : {}),
    ...(closing?.by ? { by: closing.by } : {}),
  };
}
