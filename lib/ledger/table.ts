/**
 * The storage port of the order ledger: the few table operations it needs, in DynamoDB's own terms
 * (items in collections keyed by partition and sort key, conditional writes, batch reads and writes,
 * eventually or strongly consistent reads), so that the ledger's logic is written once and runs on
 * DynamoDB (dynamodb-table.ts) or on an in-memory table in unit and model-based tests.
 *
 * Conditions and updates are small data structures, not expression strings: the DynamoDB adapter
 * turns them into expressions, an in-memory table evaluates them.
 */

/** An item: plain JSON-like values (and string sets, as `Set<string>`). Every item has the partition key `orderId` and the sort key `sk`. */
export type Item = Readonly<Record<string, unknown>>;

export interface Key {
  readonly orderId: string;
  readonly sk: string;
}

/** A condition on the item a write targets (as it is before the write). */
export type Condition =
  /** No item with this key exists. */
  | { readonly kind: 'absent' }
  /** `attribute = value` (false when the item or the attribute is missing). */
  | { readonly kind: 'equals'; readonly attribute: string; readonly value: string | number | boolean }
  /** `attribute IN (values)`. */
  | { readonly kind: 'in'; readonly attribute: string; readonly values: readonly (string | number)[] }
  /** `attribute <= value` (numbers). */
  | { readonly kind: 'atMost'; readonly attribute: string; readonly value: number }
  /** The string set `attribute` does not hold `value` (true when the item or the set is missing). */
  | { readonly kind: 'lacks'; readonly attribute: string; readonly value: string }
  | { readonly kind: 'and'; readonly conditions: readonly Condition[] }
  | { readonly kind: 'or'; readonly conditions: readonly Condition[] };

/** What an update does to one item; it creates the item when it does not exist. */
export interface Update {
  /** Attributes to set. */
  readonly set?: Readonly<Record<string, unknown>>;
  /** Attributes to set only where they are missing (`if_not_exists`). */
  readonly setIfMissing?: Readonly<Record<string, unknown>>;
  /** Lists to append to (created when missing). */
  readonly append?: Readonly<Record<string, readonly unknown[]>>;
  /** Strings to add to string sets (created when missing). */
  readonly addToSet?: Readonly<Record<string, readonly string[]>>;
  /** Attributes to remove. */
  readonly remove?: readonly string[];
}

/** A conditional write's result: `old` is the item before the write (absent when it did not exist). */
export type WriteOutcome = { readonly applied: true; readonly old?: Item } | { readonly applied: false };

/**
 * A global secondary index as the ledger declares it: its name, key attributes (strings) and the
 * non-key attributes it projects. Items lacking either key attribute are not in it (a sparse index).
 */
export interface IndexDefinition {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  /** Non-key attributes the index holds besides the table's and its own keys (projection INCLUDE). */
  readonly projected: readonly string[];
}

/** One page of an index query (Query on a GSI: eventually consistent, as every GSI read is). */
export interface IndexQuery {
  /** The partition key's value. */
  readonly partition: string;
  /** Only items whose sort key is at least this (compared as strings). */
  readonly sortFrom?: string;
  /** Applied after the key condition, to the projected attributes (FilterExpression). */
  readonly filter?: Condition;
  /** Highest sort key first. @default false */
  readonly descending?: boolean;
  /** Items evaluated (before the filter) at most, as DynamoDB's `Limit`. */
  readonly limit: number;
  /** Where the previous page stopped (its `next`). */
  readonly startAfter?: Readonly<Record<string, unknown>>;
}

export interface IndexPage {
  /** The projected items (table keys, index keys, projected attributes) that passed the filter. */
  readonly items: Item[];
  /** Present when more items may follow: pass it as `startAfter`. */
  readonly next?: Readonly<Record<string, unknown>>;
}

export interface ReadOptions {
  /** Strongly consistent: sees every write acknowledged before the read. Default: eventually consistent. */
  readonly consistent?: boolean;
}

/**
 * The table operations the ledger uses. Conditional calls answer `applied: false` when the condition
 * does not hold; every other failure is thrown (and, for batch writes, reported per item).
 */
export interface Table {
  put(item: Item, condition?: Condition): Promise<WriteOutcome>;
  update(key: Key, update: Update, condition?: Condition): Promise<WriteOutcome>;
  delete(key: Key, condition?: Condition): Promise<WriteOutcome>;
  /** Unconditional puts, batched (BatchWriteItem: 25 per request); returns the items that could not be written. */
  putAll(items: readonly Item[]): Promise<Item[]>;
  /** Items by key, batched (BatchGetItem: 100 keys per request); missing ones are absent. */
  getAll(keys: readonly Key[], options?: ReadOptions): Promise<Item[]>;
  /** Every item of one collection (Query on the partition key). */
  collection(orderId: string, options?: ReadOptions): Promise<Item[]>;
  /** Every item of the table (Scan): for counting at start-up and in tests, never on a hot path. */
  scan(): AsyncIterable<Item>;
  /** One page of a query on a global secondary index (eventually consistent). */
  queryIndex(index: IndexDefinition, query: IndexQuery): Promise<IndexPage>;
}

/** Thrown by a table whose batch call kept items unprocessed (throttling) beyond its retries. */
export class TableThrottledError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TableThrottledError';
  }
}

export const absent = (): Condition => ({ kind: 'absent' });
export const equals = (attribute: string, value: string | number | boolean): Condition => ({
  kind: 'equals',
  attribute,
  value,
});
export const isOneOf = (attribute: string, values: readonly (string | number)[]): Condition => ({
  kind: 'in',
  attribute,
  values,
});
export const atMost = (attribute: string, value: number): Condition => ({ kind: 'atMost', attribute, value });
export const lacks = (attribute: string, value: string): Condition => ({ kind: 'lacks', attribute, value });
export const allOf = (...conditions: Condition[]): Condition => ({ kind: 'and', conditions });
export const anyOf = (...conditions: Condition[]): Condition => ({ kind: 'or', conditions });
