/**
 * The ledger's table on DynamoDB: each port operation is one DynamoDB call (batch calls chunked to
 * their limits, unprocessed items retried with backoff), conditions and updates turned into
 * expressions with placeholder names and values.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { chunkByCount } from '../aws/chunking.ts';
import { mapConcurrent, sleep } from '../aws/concurrency.ts';
import {
  TableThrottledError,
  type Condition,
  type IndexDefinition,
  type IndexPage,
  type IndexQuery,
  type Item,
  type Key,
  type ReadOptions,
  type Table,
  type Update,
  type WriteOutcome,
} from './table.ts';

/** DynamoDB's per-request limits. */
const BATCH_WRITE_ITEMS = 25;
const BATCH_GET_KEYS = 100;
/** Attempts of a batch call while DynamoDB leaves items unprocessed (throttling). */
const BATCH_ATTEMPTS = 6;
const BATCH_CONCURRENCY = 4;

/** Collects placeholder names (`#n0`) and values (`:v0`) while expressions are built. */
class Placeholders {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  #n = 0;
  #v = 0;
  readonly #byName = new Map<string, string>();

  name(attribute: string): string {
    let placeholder = this.#byName.get(attribute);
    if (!placeholder) {
      placeholder = `#n${this.#n++}`;
      this.#byName.set(attribute, placeholder);
      this.names[placeholder] = attribute;
    }
    return placeholder;
  }

  value(value: unknown): string {
    const placeholder = `:v${this.#v++}`;
    this.values[placeholder] = value;
    return placeholder;
  }

  /** The names and values for a command, leaving out empty maps (DynamoDB refuses them). */
  attributes(): {
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues?: Record<string, unknown>;
  } {
    return {
      ...(this.#n > 0 ? { ExpressionAttributeNames: this.names } : {}),
      ...(this.#v > 0 ? { ExpressionAttributeValues: this.values } : {}),
    };
  }
}

/** A condition as a DynamoDB condition expression. */
function conditionExpression(condition: Condition, p: Placeholders): string {
  switch (condition.kind) {
    case 'absent':
      return `attribute_not_exists(${p.name('orderId')})`;
    case 'equals':
      return `${p.name(condition.attribute)} = ${p.value(condition.value)}`;
    case 'in':
      return `${p.name(condition.attribute)} IN (${condition.values.map((v) => p.value(v)).join(', ')})`;
    case 'atMost':
      return `${p.name(condition.attribute)} <= ${p.value(condition.value)}`;
    case 'lacks':
      return `NOT contains(${p.name(condition.attribute)}, ${p.value(condition.value)})`;
    case 'and':
    case 'or':
      return `(${condition.conditions.map((c) => conditionExpression(c, p)).join(condition.kind === 'and' ? ' AND ' : ' OR ')})`;
  }
}

/** An update as a DynamoDB update expression. */
function updateExpression(update: Update, p: Placeholders): string {
  const sets = [
    ...Object.entries(update.set ?? {}).map(([a, v]) => `${p.name(a)} = ${p.value(v)}`),
    ...Object.entries(update.setIfMissing ?? {}).map(
      ([a, v]) => `${p.name(a)} = if_not_exists(${p.name(a)}, ${p.value(v)})`,
    ),
    ...Object.entries(update.append ?? {}).map(
      ([a, v]) => `${p.name(a)} = list_append(if_not_exists(${p.name(a)}, ${p.value([])}), ${p.value(v)})`,
    ),
  ];
  const adds = Object.entries(update.addToSet ?? {}).map(([a, v]) => `${p.name(a)} ${p.value(new Set(v))}`);
  const removes = (update.remove ?? []).map((a) => p.name(a));
  return [
    sets.length > 0 ? `SET ${sets.join(', ')}` : '',
    adds.length > 0 ? `ADD ${adds.join(', ')}` : '',
    removes.length > 0 ? `REMOVE ${removes.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/**
 * The ledger table on DynamoDB (or dynalite locally).
 *
 * @example
 * const table = new DynamoDbTable(documentClient(), process.env.CONVEYOR_STATUS_TABLE);
 * await table.put({ orderId: 'o-1', sk: 'order' }, absent());
 */
export class DynamoDbTable implements Table {
  readonly #db: DynamoDBDocumentClient;
  readonly #name: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.#db = db;
    this.#name = tableName;
  }

  async put(item: Item, condition?: Condition): Promise<WriteOutcome> {
    const p = new Placeholders();
    const ConditionExpression = condition ? conditionExpression(condition, p) : undefined;
    return this.#conditional(() =>
      this.#db.send(
        new PutCommand({
          TableName: this.#name,
          Item: item,
          ...(ConditionExpression ? { ConditionExpression } : {}),
          ...p.attributes(),
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
  }

  async update(key: Key, update: Update, condition?: Condition): Promise<WriteOutcome> {
    const p = new Placeholders();
    const UpdateExpression = updateExpression(update, p);
    const ConditionExpression = condition ? conditionExpression(condition, p) : undefined;
    return this.#conditional(() =>
      this.#db.send(
        new UpdateCommand({
          TableName: this.#name,
          Key: key,
          UpdateExpression,
          ...(ConditionExpression ? { ConditionExpression } : {}),
          ...p.attributes(),
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
  }

  async delete(key: Key, condition?: Condition): Promise<WriteOutcome> {
    const p = new Placeholders();
    const ConditionExpression = condition ? conditionExpression(condition, p) : undefined;
    return this.#conditional(() =>
      this.#db.send(
        new DeleteCommand({
          TableName: this.#name,
          Key: key,
          ...(ConditionExpression ? { ConditionExpression } : {}),
          ...p.attributes(),
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
  }

  async putAll(items: readonly Item[]): Promise<Item[]> {
    const failed = await mapConcurrent(chunkByCount(items, BATCH_WRITE_ITEMS), BATCH_CONCURRENCY, async (chunk) => {
      let pending: Item[] = chunk;
      for (let attempt = 1; ; attempt++) {
        const response = await this.#db.send(
          new BatchWriteCommand({ RequestItems: { [this.#name]: pending.map((Item) => ({ PutRequest: { Item } })) } }),
        );
        pending = (response.UnprocessedItems?.[this.#name] ?? [])
          .map((r) => r.PutRequest?.Item as Item)
          .filter(Boolean);
        if (pending.length === 0 || attempt >= BATCH_ATTEMPTS) return pending;
        await sleep(backoffMs(attempt));
      }
    });
    return failed.flat();
  }

  async getAll(keys: readonly Key[], options: ReadOptions = {}): Promise<Item[]> {
    const found = await mapConcurrent(chunkByCount(keys, BATCH_GET_KEYS), BATCH_CONCURRENCY, async (chunk) => {
      const items: Item[] = [];
      let pending: readonly Key[] = chunk;
      for (let attempt = 1; pending.length > 0; attempt++) {
        const response = await this.#db.send(
          new BatchGetCommand({
            RequestItems: { [this.#name]: { Keys: [...pending], ConsistentRead: options.consistent === true } },
          }),
        );
        items.push(...((response.Responses?.[this.#name] ?? []) as Item[]));
        pending = (response.UnprocessedKeys?.[this.#name]?.Keys ?? []) as Key[];
        if (pending.length > 0 && attempt >= BATCH_ATTEMPTS)
          throw new TableThrottledError(`${pending.length} keys stayed unprocessed after ${attempt} attempts`);
        if (pending.length > 0) await sleep(backoffMs(attempt));
      }
      return items;
    });
    return found.flat();
  }

  async collection(orderId: string, options: ReadOptions = {}): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.#db.send(
        new QueryCommand({
          TableName: this.#name,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': 'orderId' },
          ExpressionAttributeValues: { ':pk': orderId },
          ConsistentRead: options.consistent === true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...((page.Items ?? []) as Item[]));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  async *scan(): AsyncIterable<Item> {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.#db.send(
        new ScanCommand({ TableName: this.#name, ...(start ? { ExclusiveStartKey: start } : {}) }),
      );
      yield* (page.Items ?? []) as Item[];
      start = page.LastEvaluatedKey;
    } while (start);
  }

  async queryIndex(index: IndexDefinition, query: IndexQuery): Promise<IndexPage> {
    const p = new Placeholders();
    const keyCondition = [
      `${p.name(index.partitionKey)} = ${p.value(query.partition)}`,
      ...(query.sortFrom !== undefined ? [`${p.name(index.sortKey)} >= ${p.value(query.sortFrom)}`] : []),
    ].join(' AND ');
    const FilterExpression = query.filter ? conditionExpression(query.filter, p) : undefined;
    const page = await this.#db.send(
      new QueryCommand({
        TableName: this.#name,
        IndexName: index.name,
        KeyConditionExpression: keyCondition,
        ...(FilterExpression ? { FilterExpression } : {}),
        ...p.attributes(),
        ScanIndexForward: query.descending !== true,
        Limit: query.limit,
        ...(query.startAfter ? { ExclusiveStartKey: { ...query.startAfter } } : {}),
      }),
    );
    return { items: (page.Items ?? []) as Item[], ...(page.LastEvaluatedKey ? { next: page.LastEvaluatedKey } : {}) };
  }

  async #conditional(call: () => Promise<{ Attributes?: Record<string, unknown> }>): Promise<WriteOutcome> {
    try {
      const { Attributes } = await call();
      return Attributes ? { applied: true, old: Attributes } : { applied: true };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { applied: false };
      throw error;
    }
  }
}

/** 25 ms, 50 ms, 100 ms … with jitter, as AWS advises for unprocessed batch items. */
function backoffMs(attempt: number): number {
  return 25 * 2 ** (attempt - 1) * (0.5 + Math.random());
}
