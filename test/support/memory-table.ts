/**
 * An in-memory `Table` with DynamoDB's semantics where the ledger depends on them — conditional
 * writes on one item are atomic, batch writes are unconditional, strongly consistent reads see every
 * acknowledged write — and one it must survive: **eventually consistent reads may be stale**. Every
 * write is kept as a version; a read that does not ask for consistency is served, with the given
 * probability, the item as it was some versions ago (possibly before it existed).
 *
 * The same contract tests run against this table and against dynalite (test/ledger/table.test.ts),
 * so the ledger's logic can be tested here in milliseconds, with stale reads dynalite never serves.
 */
import type {
  Condition,
  IndexDefinition,
  IndexPage,
  IndexQuery,
  Item,
  Key,
  ReadOptions,
  Table,
  Update,
  WriteOutcome,
} from '../../lib/ledger/table.ts';

export interface StaleReads {
  /** Probability that an eventually consistent read of an item is stale. */
  readonly probability: number;
  /** How many writes back a stale read may look (at most). */
  readonly maxLag: number;
  /** Source of randomness (seeded in property tests). */
  readonly random: () => number;
}

interface Version {
  readonly clock: number;
  readonly item: Item | undefined;
}

/** As DynamoDB does, refuses a key that is not the table's (orderId, sk) pair of non-empty strings. */
function keyOf(k: Key | Item): string {
  const { orderId, sk } = (typeof k === 'object' && k !== null ? k : {}) as Partial<Key>;
  if (typeof orderId !== 'string' || typeof sk !== 'string' || orderId === '' || sk === '') {
    throw new Error(`ValidationException: the provided key element does not match the schema: ${JSON.stringify(k)}`);
  }
  return `${orderId}\u0000${sk}`;
}

export class MemoryTable implements Table {
  readonly #versions = new Map<string, Version[]>();
  #clock = 0;
  #stale: StaleReads | undefined;
  /** Requests served, by operation (to compare request counts with DynamoDB's). */
  readonly requests: Record<string, number> = {};

  constructor(stale?: StaleReads) {
    this.#stale = stale;
  }

  /** Turns stale reads on or off (e.g. off while a test checks the final state). */
  setStaleReads(stale: StaleReads | undefined): void {
    this.#stale = stale;
  }

  async put(item: Item, condition?: Condition): Promise<WriteOutcome> {
    this.#count('PutItem');
    const old = this.#current(keyOf(item));
    if (condition && !holds(condition, old)) return { applied: false };
    this.#write(keyOf(item), clone(item));
    return old ? { applied: true, old } : { applied: true };
  }

  async update(key: Key, update: Update, condition?: Condition): Promise<WriteOutcome> {
    this.#count('UpdateItem');
    const old = this.#current(keyOf(key));
    if (condition && !holds(condition, old)) return { applied: false };
    const next: Record<string, unknown> = { ...(old ?? {}), orderId: key.orderId, sk: key.sk };
    for (const [a, v] of Object.entries(update.set ?? {})) next[a] = clone(v);
    for (const [a, v] of Object.entries(update.setIfMissing ?? {})) if (next[a] === undefined) next[a] = clone(v);
    for (const [a, v] of Object.entries(update.append ?? {}))
      next[a] = [...((next[a] as unknown[] | undefined) ?? []), ...clone(v)];
    for (const [a, v] of Object.entries(update.addToSet ?? {}))
      next[a] = new Set([...((next[a] as Set<string> | undefined) ?? []), ...v]);
    for (const a of update.remove ?? []) delete next[a];
    this.#write(keyOf(key), next);
    return old ? { applied: true, old } : { applied: true };
  }

  async delete(key: Key, condition?: Condition): Promise<WriteOutcome> {
    this.#count('DeleteItem');
    const old = this.#current(keyOf(key));
    if (condition && !holds(condition, old)) return { applied: false };
    if (old) this.#write(keyOf(key), undefined);
    return old ? { applied: true, old } : { applied: true };
  }

  async putAll(items: readonly Item[]): Promise<Item[]> {
    for (let i = 0; i < items.length; i += 25) this.#count('BatchWriteItem');
    for (const item of items) this.#write(keyOf(item), clone(item));
    return [];
  }

  async getAll(keys: readonly Key[], options: ReadOptions = {}): Promise<Item[]> {
    for (let i = 0; i < keys.length; i += 100) this.#count('BatchGetItem');
    return keys.map((k) => this.#read(keyOf(k), options)).filter((i): i is Item => i !== undefined);
  }

  async collection(orderId: string, options: ReadOptions = {}): Promise<Item[]> {
    this.#count('Query');
    const prefix = `${orderId}\u0000`;
    return [...this.#versions.keys()]
      .filter((k) => k.startsWith(prefix))
      .sort()
      .map((k) => this.#read(k, options))
      .filter((i): i is Item => i !== undefined);
  }

  async *scan(): AsyncIterable<Item> {
    this.#count('Scan');
    for (const k of [...this.#versions.keys()].sort()) {
      const item = this.#current(k);
      if (item) yield item;
    }
  }

  /**
   * A global secondary index as DynamoDB keeps one: only items with both key attributes (as strings)
   * are in it, ordered by sort key (then by the table's keys), each projected to its keys and the
   * index's projected attributes; `limit` counts the items evaluated before the filter, and a page
   * cut short by it says where to go on.
   */
  async queryIndex(index: IndexDefinition, query: IndexQuery): Promise<IndexPage> {
    this.#count('Query');
    const position = (item: Item | Readonly<Record<string, unknown>>) =>
      [String(item[index.sortKey]), String(item.orderId), String(item.sk)] as const;
    const compare = (a: readonly string[], b: readonly string[]) => {
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (a[i] as string) < (b[i] as string) ? -1 : 1;
      return 0;
    };
    const direction = query.descending ? -1 : 1;
    const inIndex = this.items()
      .filter((item) => item[index.partitionKey] === query.partition && typeof item[index.sortKey] === 'string')
      .filter((item) => query.sortFrom === undefined || (item[index.sortKey] as string) >= query.sortFrom)
      .sort((a, b) => direction * compare(position(a), position(b)))
      .filter(
        (item) => query.startAfter === undefined || direction * compare(position(item), position(query.startAfter)) > 0,
      );
    const evaluated = inIndex.slice(0, query.limit);
    const keep = new Set(['orderId', 'sk', index.partitionKey, index.sortKey, ...index.projected]);
    const projected = evaluated.map(
      (item) => Object.fromEntries(Object.entries(item).filter(([attribute]) => keep.has(attribute))) as Item,
    );
    const items = projected.filter((item) => !query.filter || holds(query.filter, item));
    const last = evaluated.at(-1);
    const next =
      inIndex.length > query.limit && last
        ? {
            orderId: last.orderId,
            sk: last.sk,
            [index.partitionKey]: last[index.partitionKey],
            [index.sortKey]: last[index.sortKey],
          }
        : undefined;
    return next ? { items, next } : { items };
  }

  /** Every current item (for test assertions). */
  items(): Item[] {
    return [...this.#versions.keys()]
      .sort()
      .map((k) => this.#current(k))
      .filter((i): i is Item => i !== undefined);
  }

  #count(operation: string): void {
    this.requests[operation] = (this.requests[operation] ?? 0) + 1;
  }

  #current(k: string): Item | undefined {
    return this.#versions.get(k)?.at(-1)?.item;
  }

  #read(k: string, options: ReadOptions): Item | undefined {
    const versions = this.#versions.get(k) ?? [];
    const stale = this.#stale;
    if (options.consistent || !stale || stale.random() >= stale.probability) return clone(versions.at(-1)?.item);
    const asOf = this.#clock - Math.ceil(stale.random() * stale.maxLag);
    const seen = versions.filter((v) => v.clock <= asOf).at(-1);
    return clone(seen?.item);
  }

  #write(k: string, item: Item | undefined): void {
    const versions = this.#versions.get(k) ?? [];
    versions.push({ clock: ++this.#clock, item });
    this.#versions.set(k, versions);
  }
}

/** Whether `condition` holds for `item` (undefined: no such item), as DynamoDB evaluates it. */
function holds(condition: Condition, item: Item | undefined): boolean {
  switch (condition.kind) {
    case 'absent':
      return item === undefined;
    case 'equals':
      return item !== undefined && item[condition.attribute] === condition.value;
    case 'in':
      return item !== undefined && condition.values.includes(item[condition.attribute] as string | number);
    case 'atMost': {
      const value = item?.[condition.attribute];
      return typeof value === 'number' && value <= condition.value;
    }
    case 'lacks': {
      const set = item?.[condition.attribute];
      return !(set instanceof Set && set.has(condition.value));
    }
    case 'and':
      return condition.conditions.every((c) => holds(c, item));
    case 'or':
      return condition.conditions.some((c) => holds(c, item));
  }
}

function clone<T>(value: T): T {
  return value === undefined ? value : structuredClone(value);
}
