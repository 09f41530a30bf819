/**
 * What the ledger stores, and how an order's record is read back from it.
 *
 * One item collection per order (partition key `orderId`):
 *
 *   sk = "order"          the head: the intake's claim (fingerprint, lease) and the order's guaranteed
 *                         state — open, delivered, dead-lettered, cancelled, purged — changed only by
 *                         per-order conditional writes
 *   sk = "step#<stage>"   one fact per finished step (intake's "queued", then each stage's result),
 *                         written in batches (BatchWriteItem, 25 per request) and never changed after
 *
 * Status is derived on read from those facts, so it can only move forward: steps only accumulate,
 * and the head's terminal states are final. A dead letter at position p is superseded by any step at
 * position ≥ p (the order's message went past that stage after all, or was redriven and processed).
 */

/** The head's sort key. */
export const HEAD = 'order';
/** The sort key of a step's fact. */
export const stepKey = (stage: string): string => `step#${stage}`;
export const isStepKey = (sk: unknown): boolean => typeof sk === 'string' && sk.startsWith('step#');

/** The intake's step (position 0); stages are numbered from 1 in their pipeline's order. */
export const INTAKE = 'intake';
export const INTAKE_POSITION = 0;

/** The states the head records; `open` is every state in flight. */
export const HEAD_STATES = ['open', 'delivered', 'dead-lettered', 'cancelled', 'purged'] as const;
export type HeadState = (typeof HEAD_STATES)[number];
/** States an order never leaves. */
export const FINAL_STATES: readonly HeadState[] = ['delivered', 'cancelled', 'purged'];

export type Facts = Readonly<Record<string, string | number>>;

export interface DeathEntry {
  readonly at: string;
  readonly stage: string;
  readonly position: number;
  readonly reason: string;
  readonly kind: string;
  /** The dead letter's message id, so the auditor records each dead letter once. */
  readonly messageId?: string;
}

/** The head item as stored. */
export interface HeadItem {
  readonly orderId: string;
  readonly sk: typeof HEAD;
  readonly state: HeadState;
  readonly warehouseId?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Claim: fingerprint of the accepted contents, who claimed it and until when the claim is theirs alone. */
  readonly fingerprint?: string;
  readonly requestId?: string;
  readonly leaseUntil?: number;
  readonly traceId?: string;
  /** The stage the intake queued the order for. */
  readonly entryStage?: string;
  /** While dead-lettered: where, why. */
  readonly deadStage?: string;
  readonly deadPosition?: number;
  readonly reason?: string;
  readonly deaths?: readonly DeathEntry[];
  /** Once delivered (the last stage's record). */
  readonly completedAt?: string;
  readonly completedBy?: string;
  readonly result?: Facts;
  /** Once cancelled or purged: when, by whom, at which stage. */
  readonly closedAt?: string;
  readonly closedBy?: string;
  readonly closedStage?: string;
}

/** A step's fact as stored. */
export interface StepItem {
  readonly orderId: string;
  readonly sk: string;
  readonly stage: string;
  readonly position: number;
  readonly warehouseId?: string;
  /** The stage the order was forwarded to. */
  readonly next: string;
  readonly at: string;
  readonly detail?: Facts;
}

/** One entry of an order's history, as `GET /orders/{orderId}` shows it. */
export interface HistoryEntry {
  readonly at: string;
  readonly status: string;
  /** `intake` or a stage name (or the operator, for cancelled and purged). */
  readonly by: string;
  readonly detail?: Facts;
  readonly reason?: string;
}

/** An order's record, as `GET /orders/{orderId}` returns it. */
export interface OrderRecord {
  readonly orderId: string;
  readonly warehouseId?: string;
  readonly status: string;
  /** The stage the order waits in; for dead letters the stage whose DLQ holds it; once final, where it ended. */
  readonly stage: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly history: readonly HistoryEntry[];
  /** Why the order was dead-lettered (present while it is). */
  readonly reason?: string;
  readonly delivery?: Facts;
}

/** The domain's words for an item's statuses: accepted, waiting in a stage, completed by the last one. */
export interface StatusLabels {
  readonly accepted: string;
  waitingIn(stage: string): string;
  /** What an item is once the last stage recorded it (the head's `delivered` state). */
  readonly completed: string;
}

/**
 * A claim whose request has not (yet) confirmed queueing the order: not an accepted order until it
 * is — the API never answered 202 for it — so it has no record.
 */
export function isPendingClaim(head: HeadItem | undefined, steps: readonly unknown[]): boolean {
  return head !== undefined && head.state === 'open' && head.requestId !== undefined && steps.length === 0;
}

/** Whether a dead-lettering at `position` is superseded by the order's steps (it went past, or was redriven). */
export function isSuperseded(deadPosition: number | undefined, steps: readonly Pick<StepItem, 'position'>[]): boolean {
  return deadPosition !== undefined && steps.some((s) => s.position >= deadPosition);
}

/**
 * An order's record from its items (any order), or undefined when it has none.
 *
 * @example
 * deriveRecord(await table.collection('o-1', { consistent: true }), labels)?.status; // 'packing'
 */
export function deriveRecord(items: readonly Record<string, unknown>[], labels: StatusLabels): OrderRecord | undefined {
  const head = items.find((i) => i.sk === HEAD) as HeadItem | undefined;
  const steps = (items.filter((i) => isStepKey(i.sk)) as unknown as StepItem[]).sort((a, b) => a.position - b.position);
  const anyItem = head ?? steps[0];
  if (!anyItem || isPendingClaim(head, steps)) return undefined;
  const furthest = steps.at(-1);
  const labelOf = (step: StepItem) => (step.stage === INTAKE ? labels.accepted : labels.waitingIn(step.next));
  const state = head?.state ?? 'open';
  const dead = state === 'dead-lettered' && !isSuperseded(head?.deadPosition, steps);

  let status: string;
  let stage: string;
  if (state !== 'open' && state !== 'dead-lettered') {
    status = state === 'delivered' ? labels.completed : state;
    stage = (state === 'delivered' ? head?.completedBy : head?.closedStage) ?? furthest?.next ?? head?.entryStage ?? '';
  } else if (dead) {
    status = 'dead-lettered';
    stage = head?.deadStage ?? '';
  } else if (furthest) {
    status = labelOf(furthest);
    stage = furthest.next;
  } else {
    status = labels.accepted;
    stage = head?.entryStage ?? '';
  }

  const history: HistoryEntry[] = [
    ...steps.map((s) => ({ at: s.at, status: labelOf(s), by: s.stage, ...(s.detail ? { detail: s.detail } : {}) })),
    ...(head?.deaths ?? []).map((d) => ({ at: d.at, status: 'dead-lettered', by: d.stage, reason: d.reason })),
    ...(head?.completedAt
      ? [
          {
            at: head.completedAt,
            status: labels.completed,
            by: head.completedBy ?? '',
            ...(head.result ? { detail: head.result } : {}),
          },
        ]
      : []),
    ...(head?.closedAt ? [{ at: head.closedAt, status: state, by: head.closedBy ?? '' }] : []),
  ].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));

  const warehouseId = head?.warehouseId ?? steps.find((s) => s.warehouseId)?.warehouseId;
  const times = [head?.createdAt, head?.updatedAt, ...history.map((h) => h.at)]
    .filter((t): t is string => typeof t === 'string')
    .sort();
  return {
    orderId: anyItem.orderId,
    ...(warehouseId ? { warehouseId } : {}),
    status,
    stage,
    createdAt: head?.createdAt ?? times[0] ?? '',
    updatedAt: times.at(-1) ?? '',
    history,
    ...(dead && head?.reason ? { reason: head.reason } : {}),
    ...(state === 'delivered' && head?.result ? { delivery: head.result } : {}),
  };
}
