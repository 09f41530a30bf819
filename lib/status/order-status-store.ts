/**
 * The order status table: one item per order, keyed by `orderId`. Every write is conditional so
 * status only moves forward — which both tracks the order and makes redelivered messages
 * harmless: a transition that was already made fails its condition and is reported `already-done`.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { StageName } from '../topology/model.ts';
import { predecessorsOf, stageOf, statusAfter, type HistoryEntry, type OrderRecord, type OrderStatus, type ProgressStatus } from '../domain/status.ts';
import { chunkByCount } from '../runtime/chunking.ts';
import { abortReason, mapConcurrent, sleep } from '../runtime/concurrency.ts';

/** DynamoDB's BatchGetItem limit. */
const BATCH_GET_KEYS = 100;
/** Conditional writes cannot be batched; this many run in parallel. */
const WRITE_CONCURRENCY = 16;

export interface NewOrder {
  readonly orderId: string;
  readonly warehouseId: string;
  /** Fingerprint of the submitted order, to tell a resubmission from a conflicting reuse of the id. */
  readonly payloadHash: string;
  readonly traceId: string;
  readonly at: string;
}

export interface Transition {
  readonly orderId: string;
  readonly warehouseId: string;
  /** The stage that finished with the order. */
  readonly by: StageName;
  readonly at: string;
  readonly detail?: Readonly<Record<string, string | number>>;
  /** Recorded on the item when the order is delivered. */
  readonly delivery?: Readonly<Record<string, string | number>>;
}

export interface DeadLettering {
  readonly orderId: string;
  readonly warehouseId?: string;
  /** The stage whose dead-letter queue now holds the order's message. */
  readonly stage: StageName;
  readonly reason: string;
  readonly at: string;
}

/**
 * `applied`: this write made the transition (`previous`: the status it replaced, absent when it
 * created the record; `late`: it only added this stage's history entry, a later stage having
 * moved the status on first); `already-done`: it was made before (a redelivery).
 */
export type WriteResult =
  | { readonly kind: 'applied'; readonly previous?: OrderStatus; readonly late?: true }
  | { readonly kind: 'already-done' }
  | { readonly kind: 'error'; readonly message: string };

export interface StoredSummary {
  readonly status: OrderStatus;
  readonly payloadHash?: string;
}

const names = {
  '#orderId': 'orderId',
  '#status': 'status',
  '#stage': 'stage',
  '#history': 'history',
  '#updatedAt': 'updatedAt',
  '#createdAt': 'createdAt',
  '#warehouseId': 'warehouseId',
  '#reason': 'reason',
};

export class OrderStatusStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.#db = db;
    this.#table = tableName;
  }

  /**
   * Records a new order as `accepted`, unless an order with that id exists.
   * @returns `created`, or `exists` when the id was taken (a resubmission or a concurrent request).
   */
  async accept(order: NewOrder): Promise<'created' | 'exists'> {
    const entry: HistoryEntry = { at: order.at, status: 'accepted', by: 'intake' };
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            orderId: order.orderId,
            warehouseId: order.warehouseId,
            status: 'accepted',
            stage: 'picking',
            createdAt: order.at,
            updatedAt: order.at,
            payloadHash: order.payloadHash,
            traceId: order.traceId,
            history: [entry],
          },
          ConditionExpression: 'attribute_not_exists(#orderId)',
          ExpressionAttributeNames: { '#orderId': 'orderId' },
        }),
      );
      return 'created';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'exists';
      throw error;
    }
  }

  /**
   * Marks each order as finished with a stage (status moves to `statusAfter(by)`), appending to its
   * history. Runs the conditional writes in parallel; one result per transition, in order.
   */
  async advance(transitions: readonly Transition[], signal?: AbortSignal): Promise<WriteResult[]> {
    return mapConcurrent(transitions, WRITE_CONCURRENCY, async (t) => {
      if (signal?.aborted) return { kind: 'error', message: `not written: ${abortReason(signal)}` };
      const to = statusAfter(t.by);
      const entry: HistoryEntry = { at: t.at, status: to, by: t.by, ...(t.detail ? { detail: t.detail } : {}) };
      const stage = stageOf(to);
      const done = doneAttribute(t.by);
      const result = await this.#conditionalUpdate(t.orderId, to, {
        set: `#status = :to, #stage = :stage, #updatedAt = :at, #createdAt = if_not_exists(#createdAt, :at), #warehouseId = if_not_exists(#warehouseId, :wh), #history = list_append(if_not_exists(#history, :empty), :entry), #done = :at${t.delivery ? ', #delivery = :delivery' : ''}`,
        remove: '#reason',
        values: { ':to': to, ':stage': stage, ':at': t.at, ':wh': t.warehouseId, ':empty': [], ':entry': [entry], ...(t.delivery ? { ':delivery': t.delivery } : {}) },
        extraNames: { '#done': done, ...(t.delivery ? { '#delivery': 'delivery' } : {}) },
      }, signal);
      // A later stage can record its transition before this one lands: this stage forwards first
      // and writes after. The status stays where it is; this stage's history entry is still kept.
      if (result.kind === 'already-done' && to !== 'delivered') return this.#recordLate(t.orderId, done, entry, signal);
      return result;
    });
  }

  /** Appends a stage's history entry without touching the status, once per stage and order. */
  async #recordLate(orderId: string, done: string, entry: HistoryEntry, signal: AbortSignal | undefined): Promise<WriteResult> {
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { orderId },
          UpdateExpression: 'SET #history = list_append(if_not_exists(#history, :empty), :entry), #done = :at',
          ConditionExpression: 'attribute_exists(#orderId) AND attribute_not_exists(#done)',
          ExpressionAttributeNames: { '#history': 'history', '#done': done, '#orderId': 'orderId' },
          ExpressionAttributeValues: { ':empty': [], ':entry': [entry], ':at': entry.at },
        }),
        signal ? { abortSignal: signal } : {},
      );
      return { kind: 'applied', late: true };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { kind: 'already-done' };
      return { kind: 'error', message: (error as Error).message };
    }
  }

  /**
   * Marks orders dead-lettered with the reason — unless the order has already moved past the stage
   * (the dead letter is then a stale duplicate and the order's real progress is kept).
   */
  async deadLetter(entries: readonly DeadLettering[], signal?: AbortSignal): Promise<WriteResult[]> {
    return mapConcurrent(entries, WRITE_CONCURRENCY, async (d) => {
      if (signal?.aborted) return { kind: 'error', message: `not written: ${abortReason(signal)}` };
      const entry: HistoryEntry = { at: d.at, status: 'dead-lettered', by: d.stage, reason: d.reason };
      return this.#conditionalUpdate(d.orderId, statusAfter(d.stage), {
        set: `#status = :dl, #stage = :stage, #reason = :reason, #updatedAt = :at, #createdAt = if_not_exists(#createdAt, :at), #history = list_append(if_not_exists(#history, :empty), :entry)${d.warehouseId ? ', #warehouseId = if_not_exists(#warehouseId, :wh)' : ''}`,
        values: { ':dl': 'dead-lettered', ':stage': d.stage, ':reason': d.reason, ':at': d.at, ':empty': [], ':entry': [entry], ...(d.warehouseId ? { ':wh': d.warehouseId } : {}) },
        extraNames: {},
      }, signal);
    });
  }

  /**
   * Current status (and payload fingerprint) of many orders, with BatchGetItem; orders without a
   * record are absent from the map. Eventually consistent: callers use it to skip work early,
   * never as the only guard (the conditional writes are).
   */
  async summaries(orderIds: readonly string[], signal?: AbortSignal): Promise<Map<string, StoredSummary>> {
    const found = new Map<string, StoredSummary>();
    const unique = [...new Set(orderIds)];
    await mapConcurrent(chunkByCount(unique, BATCH_GET_KEYS), 4, async (chunk) => {
      let keys: Record<string, unknown>[] = chunk.map((orderId) => ({ orderId }));
      for (let attempt = 1; keys.length > 0; attempt++) {
        const response = await this.#db.send(
          new BatchGetCommand({
            RequestItems: { [this.#table]: { Keys: keys, ProjectionExpression: '#orderId, #status, payloadHash', ExpressionAttributeNames: { '#orderId': 'orderId', '#status': 'status' } } },
          }),
          signal ? { abortSignal: signal } : {},
        );
        for (const item of response.Responses?.[this.#table] ?? []) {
          found.set(item.orderId as string, { status: item.status as OrderStatus, ...(item.payloadHash ? { payloadHash: item.payloadHash as string } : {}) });
        }
        keys = (response.UnprocessedKeys?.[this.#table]?.Keys as Record<string, unknown>[] | undefined) ?? [];
        if (keys.length > 0) {
          if (attempt >= 5) throw new Error(`status table kept ${keys.length} keys unprocessed after ${attempt} attempts`);
          await sleep(20 * 2 ** attempt);
        }
      }
    });
    return found;
  }

  /** The order's record as the API shows it, or undefined when there is none. */
  async get(orderId: string): Promise<OrderRecord | undefined> {
    const response = await this.#db.send(new GetCommand({ TableName: this.#table, Key: { orderId }, ConsistentRead: true }));
    const item = response.Item;
    if (!item) return undefined;
    return {
      orderId: item.orderId,
      ...(item.warehouseId ? { warehouseId: item.warehouseId } : {}),
      status: item.status,
      stage: item.stage,
      createdAt: item.createdAt,
      updatedAt: item.updatedAt,
      // Entries can land out of order (a stage records after the next one did): show them in time order.
      history: [...((item.history ?? []) as HistoryEntry[])].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)),
      ...(item.reason ? { reason: item.reason } : {}),
      ...(item.delivery ? { delivery: item.delivery } : {}),
    };
  }

  async #conditionalUpdate(
    orderId: string,
    target: ProgressStatus,
    update: { set: string; remove?: string; values: Record<string, unknown>; extraNames: Record<string, string> },
    signal: AbortSignal | undefined,
  ): Promise<WriteResult> {
    const allowed = predecessorsOf(target);
    const placeholders = allowed.map((_, i) => `:from${i}`);
    try {
      const { Attributes } = await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { orderId },
          UpdateExpression: `SET ${update.set}${update.remove ? ` REMOVE ${update.remove}` : ''}`,
          ConditionExpression: `attribute_not_exists(#orderId) OR #status IN (${placeholders.join(', ')})`,
          ExpressionAttributeNames: { ...pick(names, update), ...update.extraNames, '#orderId': 'orderId', '#status': 'status' },
          ExpressionAttributeValues: { ...update.values, ...Object.fromEntries(allowed.map((s, i) => [`:from${i}`, s])) },
          // The replaced status tells an order's first dead-lettering from a repeat, and a redrive.
          ReturnValues: 'UPDATED_OLD',
        }),
        signal ? { abortSignal: signal } : {},
      );
      const previous = Attributes?.status as OrderStatus | undefined;
      return previous ? { kind: 'applied', previous } : { kind: 'applied' };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { kind: 'already-done' };
      return { kind: 'error', message: (error as Error).message };
    }
  }
}

/** When a stage recorded its transition of the order (top-level, so a condition can test it). */
function doneAttribute(stage: StageName): string {
  return `done_${stage}`;
}

/** Only the attribute names an expression uses (DynamoDB rejects unused ones). */
function pick(all: Record<string, string>, update: { set: string; remove?: string }): Record<string, string> {
  const text = `${update.set} ${update.remove ?? ''}`;
  return Object.fromEntries(Object.entries(all).filter(([placeholder]) => text.includes(placeholder)));
}
