/**
 * The order ledger: every order's claim, progress and fate, on a `Table` (DynamoDB in the cloud and
 * locally, an in-memory table in tests). Only the writes that carry a guarantee are per-order
 * conditional writes — the intake's claim, the delivery record, dead-lettering, revival, cancel and
 * purge; progress facts are batch writes (the talk's "batch CRUD"). No decision rests on an eventually
 * consistent read: `lookup` only lets a stage skip work early, and every read that decides uses
 * `consistent: true`. The data model and the status rules are in records.ts.
 */
import { mapConcurrent } from '../aws/concurrency.ts';
import { LISTING_ATTRIBUTES, listingAttributes } from './listing.ts';
import {
  deriveRecord,
  FINAL_STATES,
  HEAD,
  INTAKE,
  INTAKE_POSITION,
  stepKey,
  type DeathEntry,
  type Facts,
  type HeadItem,
  type HeadState,
  type OrderRecord,
  type StatusLabels,
  type StepItem,
} from './records.ts';
import { absent, allOf, anyOf, atMost, equals, isOneOf, lacks, type Item, type Table } from './table.ts';

/** Per-order conditional writes in flight at once. */
const WRITE_CONCURRENCY = 16;
/** The head's string set of dead-letter message ids already recorded (each dead letter counts once). */
const DEAD_LETTER_IDS = 'deadLetterIds';

export interface Claim {
  readonly orderId: string;
  readonly warehouseId: string;
  /** Fingerprint of the contents: the same id with other contents is a conflict. */
  readonly fingerprint: string;
  readonly traceId: string;
  /** Who claims (the API request id): only they may queue the order or release the claim. */
  readonly requestId: string;
  readonly at: string;
  /** Until when (epoch ms) nobody else may take the claim over: the claimant's own deadline. */
  readonly leaseUntil: number;
  /** The stage the order is queued for. */
  readonly entryStage: string;
}

/** What a consistent read of a claimed order shows. */
export interface ClaimView {
  readonly fingerprint?: string;
  readonly requestId?: string;
  readonly leaseUntil?: number;
  /** Whether the order is known to be queued (the claimant confirmed it, or a stage has seen it). */
  readonly queued: boolean;
  /** Its record, once queued. */
  readonly record?: OrderRecord;
}

/** A finished step of one order at one stage (its message was forwarded to `next`). */
export interface Step {
  readonly id: string;
  readonly partition: string;
  readonly stage: string;
  readonly position: number;
  readonly next: string;
  readonly at: string;
  readonly detail?: Facts;
}

/** The last stage's record of an order. */
export interface Completion {
  readonly id: string;
  readonly partition: string;
  readonly stage: string;
  readonly at: string;
  readonly result: Facts;
}

export interface Death {
  readonly id: string;
  readonly partition?: string;
  readonly stage: string;
  readonly position: number;
  readonly reason: string;
  readonly kind: string;
  readonly at: string;
  readonly messageId?: string;
}

/** What a stage may know early about an order (eventually consistent: a hint, never a decision). */
export interface Seen {
  readonly state?: HeadState;
  readonly deadPosition?: number;
  /** The stage asked about has recorded its step for this order. */
  readonly done: boolean;
}

/**
 * `applied` (`previous`: the state it replaced; absent when the write created the order's head);
 * `duplicate`: already delivered; `closed`: cancelled or purged first; `ignored`: the write did not
 * apply because the order is further (or final); `error`: the write failed — try again later.
 */
export type LedgerResult =
  | { readonly kind: 'applied'; readonly previous?: HeadState }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'closed'; readonly state: HeadState }
  | { readonly kind: 'ignored' }
  | { readonly kind: 'error'; readonly message: string };

/** Orders by where they are: accepted = delivered + deadLettered + cancelled + purged + inFlight. */
export interface LedgerTotals {
  readonly accepted: number;
  readonly delivered: number;
  readonly deadLettered: number;
  readonly cancelled: number;
  readonly purged: number;
  readonly inFlight: number;
}

const headKey = (orderId: string) => ({ orderId, sk: HEAD });
const errorOf = (error: unknown): LedgerResult => ({ kind: 'error', message: (error as Error).message });

export class OrderLedger {
  readonly #table: Table;
  readonly #labels: StatusLabels;

  constructor(table: Table, labels: StatusLabels) {
    this.#table = table;
    this.#labels = labels;
  }

  /** Claims an order id for the intake: true when this claim won, false when the id was taken. */
  async claim(c: Claim): Promise<boolean> {
    const head: HeadItem = {
      ...headKey(c.orderId),
      sk: HEAD,
      state: 'open',
      warehouseId: c.warehouseId,
      fingerprint: c.fingerprint,
      traceId: c.traceId,
      requestId: c.requestId,
      leaseUntil: c.leaseUntil,
      entryStage: c.entryStage,
      createdAt: c.at,
      updatedAt: c.at,
    };
    return (await this.#table.put(head as unknown as Item, absent())).applied;
  }

  /** A strongly consistent look at an order's claim and record, or undefined when it has none. */
  async inspect(orderId: string): Promise<ClaimView | undefined> {
    const items = await this.#table.collection(orderId, { consistent: true });
    if (items.length === 0) return undefined;
    const record = deriveRecord(items, this.#labels);
    const head = items.find((i) => i.sk === HEAD) as HeadItem | undefined;
    return {
      ...(head?.fingerprint ? { fingerprint: head.fingerprint } : {}),
      ...(head?.requestId ? { requestId: head.requestId } : {}),
      ...(head?.leaseUntil !== undefined ? { leaseUntil: head.leaseUntil } : {}),
      queued: record !== undefined,
      ...(record ? { record } : {}),
    };
  }

  /** Takes over a claim whose claimant's lease ran out without confirming; true when it is now `to`'s. */
  async takeOver(
    orderId: string,
    from: { requestId: string; leaseUntil: number },
    to: { requestId: string; leaseUntil: number },
  ): Promise<boolean> {
    const outcome = await this.#table.update(
      headKey(orderId),
      { set: { requestId: to.requestId, leaseUntil: to.leaseUntil } },
      allOf(equals('state', 'open'), equals('requestId', from.requestId), equals('leaseUntil', from.leaseUntil)),
    );
    return outcome.applied;
  }

  /** Gives up a claim whose order could not be queued, so the id is free again (only the claimant can). */
  async release(orderId: string, requestId: string): Promise<void> {
    await this.#table.delete(headKey(orderId), allOf(equals('state', 'open'), equals('requestId', requestId)));
  }

  /** Records that the intake queued these orders (their `accepted` step), in batches; returns the ids not recorded. */
  async confirmQueued(
    entries: readonly { id: string; partition: string; entryStage: string; at: string }[],
  ): Promise<string[]> {
    return this.recordSteps(
      entries.map((e) => ({
        id: e.id,
        partition: e.partition,
        at: e.at,
        stage: INTAKE,
        position: INTAKE_POSITION,
        next: e.entryStage,
      })),
    );
  }

  /** Records finished steps, in batches (unconditional: a step is a fact); returns the ids not recorded. */
  async recordSteps(steps: readonly Step[]): Promise<string[]> {
    const items = steps.map(
      (s): StepItem => ({
        orderId: s.id,
        sk: stepKey(s.stage),
        stage: s.stage,
        position: s.position,
        warehouseId: s.partition,
        next: s.next,
        at: s.at,
        ...(s.detail ? { detail: s.detail } : {}),
      }),
    );
    const failed = await this.#table.putAll(items as unknown as Item[]);
    return failed.map((i) => i.orderId as string);
  }

  /**
   * What a stage may know early about orders: their head state and whether `stage` recorded its step.
   * Eventually consistent — stale or missing answers must only cost work, never correctness.
   */
  async lookup(orderIds: readonly string[], stage?: string): Promise<Map<string, Seen>> {
    const unique = [...new Set(orderIds)];
    const keys = unique.flatMap((id) => [headKey(id), ...(stage ? [{ orderId: id, sk: stepKey(stage) }] : [])]);
    const items = await this.#table.getAll(keys);
    const seen = new Map<string, { state?: HeadState; deadPosition?: number; done: boolean }>();
    for (const item of items) {
      const entry = seen.get(item.orderId as string) ?? { done: false };
      if (item.sk === HEAD) {
        const head = item as unknown as HeadItem;
        entry.state = head.state;
        if (head.deadPosition !== undefined) entry.deadPosition = head.deadPosition;
      } else entry.done = true;
      seen.set(item.orderId as string, entry);
    }
    return seen;
  }

  /** The last stage's record: exactly once per order, and never after a cancel or purge. */
  async complete(entries: readonly Completion[]): Promise<LedgerResult[]> {
    return mapConcurrent(entries, WRITE_CONCURRENCY, async (c): Promise<LedgerResult> => {
      try {
        const outcome = await this.#table.update(
          headKey(c.id),
          {
            set: { state: 'delivered', completedAt: c.at, completedBy: c.stage, result: c.result, updatedAt: c.at },
            setIfMissing: { createdAt: c.at, warehouseId: c.partition },
            // Listing index (listing.ts): a delivered order leaves it, if it was dead-lettered.
            remove: ['deadStage', 'deadPosition', 'reason', ...LISTING_ATTRIBUTES],
          },
          anyOf(absent(), isOneOf('state', ['open', 'dead-lettered'])),
        );
        if (outcome.applied) return applied(outcome.old);
        const state = await this.#stateOf(c.id);
        return state === 'delivered' ? { kind: 'duplicate' } : { kind: 'closed', state: state ?? 'open' };
      } catch (error) {
        return errorOf(error);
      }
    });
  }

  /**
   * Marks orders dead-lettered with the reason, unless they are final, or already dead-lettered at a
   * later stage (a stale duplicate's dead letter must not move an order back). A dead letter with a
   * message id is recorded once, however often it is reported (by its stage, then by the auditor).
   */
  async deadLetter(deaths: readonly Death[]): Promise<LedgerResult[]> {
    return mapConcurrent(deaths, WRITE_CONCURRENCY, async (d): Promise<LedgerResult> => {
      const entry: DeathEntry = {
        at: d.at,
        stage: d.stage,
        position: d.position,
        reason: d.reason,
        kind: d.kind,
        ...(d.messageId ? { messageId: d.messageId } : {}),
      };
      const state = anyOf(
        absent(),
        equals('state', 'open'),
        allOf(equals('state', 'dead-lettered'), atMost('deadPosition', d.position)),
      );
      try {
        const outcome = await this.#table.update(
          headKey(d.id),
          {
            // Listing index (listing.ts): a dead-lettered order is in it, listed from its latest death.
            set: {
              state: 'dead-lettered',
              deadStage: d.stage,
              deadPosition: d.position,
              reason: d.reason,
              updatedAt: d.at,
              ...listingAttributes(d.id, 'dead-lettered', d.at),
            },
            setIfMissing: { createdAt: d.at, ...(d.partition ? { warehouseId: d.partition } : {}) },
            append: { deaths: [entry] },
            ...(d.messageId ? { addToSet: { [DEAD_LETTER_IDS]: [d.messageId] } } : {}),
          },
          d.messageId ? allOf(lacks(DEAD_LETTER_IDS, d.messageId), state) : state,
        );
        if (outcome.applied) return applied(outcome.old);
        // Not applied: already recorded, or the order is further. Note the id, so it is not tried again.
        if (d.messageId)
          await this.#table.update(
            headKey(d.id),
            { addToSet: { [DEAD_LETTER_IDS]: [d.messageId] } },
            lacks(DEAD_LETTER_IDS, d.messageId),
          );
        return { kind: 'ignored' };
      } catch (error) {
        return errorOf(error);
      }
    });
  }

  /**
   * The dead-letter message ids each order's record has taken note of (eventually consistent: a
   * hint for the auditor, which writes only what seems missing — the conditional write decides).
   */
  async notedDeadLetters(orderIds: readonly string[]): Promise<Map<string, ReadonlySet<string>>> {
    const heads = await this.#table.getAll([...new Set(orderIds)].map(headKey));
    return new Map(
      heads.map((h) => [h.orderId as string, (h[DEAD_LETTER_IDS] as Set<string> | undefined) ?? new Set<string>()]),
    );
  }

  /** Orders dead-lettered at or before `position` that this stage has now processed (a redrive): in flight again. */
  async revive(entries: readonly { id: string; position: number; at: string }[]): Promise<LedgerResult[]> {
    return mapConcurrent(entries, WRITE_CONCURRENCY, async (r): Promise<LedgerResult> => {
      try {
        const outcome = await this.#table.update(
          headKey(r.id),
          // Listing index (listing.ts): a revived order leaves it.
          {
            set: { state: 'open', updatedAt: r.at },
            remove: ['deadStage', 'deadPosition', 'reason', ...LISTING_ATTRIBUTES],
          },
          allOf(equals('state', 'dead-lettered'), atMost('deadPosition', r.position)),
        );
        return outcome.applied ? applied(outcome.old) : { kind: 'ignored' };
      } catch (error) {
        return errorOf(error);
      }
    });
  }

  /**
   * Closes orders for good — `purged` (their messages were deleted by an operator) — unless they are
   * final already. Recorded with who, when and at which stage.
   */
  async close(
    entries: readonly { id: string; state: 'purged' | 'cancelled'; stage: string; by: string; at: string }[],
  ): Promise<LedgerResult[]> {
    return mapConcurrent(entries, WRITE_CONCURRENCY, async (c): Promise<LedgerResult> => {
      try {
        const outcome = await this.#table.update(
          headKey(c.id),
          // Listing index (listing.ts): a cancelled or purged order is in it, listed from when it was closed.
          {
            set: {
              state: c.state,
              closedAt: c.at,
              closedBy: c.by,
              closedStage: c.stage,
              updatedAt: c.at,
              ...listingAttributes(c.id, c.state, c.at),
            },
            remove: ['deadStage', 'deadPosition', 'reason'],
          },
          isOneOf('state', ['open', 'dead-lettered']),
        );
        return outcome.applied ? applied(outcome.old) : { kind: 'ignored' };
      } catch (error) {
        return errorOf(error);
      }
    });
  }

  /**
   * The orders of a pipeline the ledger shows waiting in (or dead-lettered at) `stage`: a full scan,
   * for rare operator actions such as a purge.
   */
  async waitingIn(pipelineId: string, stage: string): Promise<string[]> {
    const ids: string[] = [];
    for (const items of (await this.#collections()).values()) {
      const record = deriveRecord(items, this.#labels);
      const final = record?.status === this.#labels.completed || FINAL_STATES.includes(record?.status as HeadState);
      if (record && record.warehouseId === pipelineId && record.stage === stage && !final) ids.push(record.orderId);
    }
    return ids;
  }

  /** Whether the dead letter with this message id is noted in the order's record (consistent). */
  async recordedDeath(orderId: string, messageId: string): Promise<boolean> {
    const [head] = await this.#table.getAll([headKey(orderId)], { consistent: true });
    return ((head?.[DEAD_LETTER_IDS] as Set<string> | undefined) ?? new Set()).has(messageId);
  }

  /** The order's record, read consistently; undefined when the ledger has never seen it. */
  async read(orderId: string): Promise<OrderRecord | undefined> {
    return deriveRecord(await this.#table.collection(orderId, { consistent: true }), this.#labels);
  }

  /** Counts every order by where it is (a full scan: for start-up and idle reconciliation, not hot paths). */
  async totals(): Promise<LedgerTotals> {
    const byOrder = await this.#collections();
    const totals = { accepted: 0, delivered: 0, deadLettered: 0, cancelled: 0, purged: 0, inFlight: 0 };
    for (const items of byOrder.values()) {
      const record = deriveRecord(items, this.#labels);
      if (!record) continue; // a claim being accepted: not an accepted order yet
      const { status } = record;
      totals.accepted++;
      if (status === this.#labels.completed) totals.delivered++;
      else if (status === 'dead-lettered') totals.deadLettered++;
      else if (status === 'cancelled') totals.cancelled++;
      else if (status === 'purged') totals.purged++;
      else totals.inFlight++;
    }
    return totals;
  }

  /** Every order's items, grouped (a full scan). */
  async #collections(): Promise<Map<string, Item[]>> {
    const byOrder = new Map<string, Item[]>();
    for await (const item of this.#table.scan()) {
      const id = item.orderId as string;
      const items = byOrder.get(id);
      if (items) items.push(item);
      else byOrder.set(id, [item]);
    }
    return byOrder;
  }

  async #stateOf(orderId: string): Promise<HeadState | undefined> {
    const [head] = await this.#table.getAll([headKey(orderId)], { consistent: true });
    return (head as HeadItem | undefined)?.state;
  }
}

function applied(old: Item | undefined): LedgerResult {
  const previous = (old as HeadItem | undefined)?.state;
  return previous ? { kind: 'applied', previous } : { kind: 'applied' };
}
