/**
 * The one interface every command works through, whatever runs the pipeline: the local runtime
 * (its HTTP endpoints, local-target.ts) or a deployed stack (the SQS, Lambda, CloudFormation and
 * CloudWatch APIs and the signed order API, aws-target.ts).
 */
import type { BreakerOverride, BreakerState, BreakerStatus } from '../contract/breaker.ts';
import type { ListedOrders, ListedState } from '../ledger/listing.ts';
import type { DeadLetterFilter } from '../operations/dead-letter-filter.ts';
import type { DeadLetter, DeadLetterPage } from '../operations/dead-letters.ts';
import type { OrderTrace } from '../operations/order-trace.ts';

/** One stage of one warehouse, e.g. `{ warehouse: 'wh-1', stage: 'picking' }`. */
export interface StageRef {
  readonly warehouse: string;
  readonly stage: string;
}

export function stageKey(ref: StageRef): string {
  return `${ref.warehouse}/${ref.stage}`;
}

/** A breaker's status (lib/contract/breaker.ts) as `StageBreaker`: `since` as a time, unless it never moved. */
export function stageBreaker(status: BreakerStatus): StageBreaker {
  return {
    state: status.state,
    reason: status.reason,
    ...(status.manual ? { manual: true } : {}),
    ...(status.since > 0 ? { since: new Date(status.since).toISOString() } : {}),
  };
}

/** A stage's queue table row. Figures a target cannot know are null (shown as `—`). */
export interface StageStatus {
  /** Waiting to be received. */
  readonly ready: number;
  /** Received and not yet settled (locally: held by the poller; on AWS: not visible, backoffs included). */
  readonly inFlight: number;
  /** Waiting out a delay (locally: a retry backoff). */
  readonly delayed: number;
  /** In the stage's dead-letter queue. */
  readonly dlq: number;
  readonly oldestMessageAgeSeconds: number | null;
  /** Records processed (succeeded) in the target's window. */
  readonly succeeded: number | null;
  /** Attempts that failed: retried plus dead-lettered. */
  readonly failed: number | null;
  readonly retried: number | null;
  /** Records succeeded per second. */
  readonly perSecond: number | null;
  /** Records received per second. */
  readonly incomingPerSecond: number | null;
  readonly failedPerSecond: number | null;
  readonly concurrency: { readonly inUse: number | null; readonly max: number | null };
  /** Consumption stopped (event source mapping disabled). */
  readonly paused: boolean;
  /** The event source mapping's state where it is more than on/off (AWS: `Enabling`, `Updating`, …). */
  readonly state?: string;
  /** The stage's circuit breaker, where the target could read it (`conveyor status` adds it from `Target.breakers`). */
  readonly breaker?: StageBreaker;
  /** How long the stage queue keeps a message (its MessageRetentionPeriod), seconds; null where unknown. */
  readonly retentionSeconds: number | null;
  /** The oldest message has passed the warning share of that retention: SQS will delete it unless it moves. */
  readonly nearsRetention: boolean;
  /** The same for the stage's dead-letter queue: the age of its oldest dead letter and how long it keeps one. */
  readonly oldestDeadLetterAgeSeconds: number | null;
  readonly deadLetterRetentionSeconds: number | null;
  readonly deadLettersNearRetention: boolean;
}

/** How long a stage's queue keeps its messages, and how close its oldest is to being deleted. */
export interface QueueRetention {
  readonly retentionSeconds: number | null;
  readonly oldestMessageAgeSeconds: number | null;
  readonly nearsRetention: boolean;
  /** Why a figure is missing (e.g. CloudWatch not readable). */
  readonly note?: string;
}

/** A stage's circuit breaker as an operator sees it. */
export interface StageBreaker {
  readonly state: BreakerState;
  /** Why it is where it is. */
  readonly reason: string;
  /** Held open by an operator until an operator closes it. */
  readonly manual?: boolean;
  /** Since when (ISO 8601), where the target knows. */
  readonly since?: string;
}

export interface StatusReport {
  /** Where the figures come from, e.g. `local runtime at http://127.0.0.1:3000`. */
  readonly source: string;
  readonly at: string;
  /** What counts and rates cover, e.g. `since the runtime started; rates over 10 s`. */
  readonly window: string;
  /** warehouse → stage → row, in flow order. */
  readonly pipelines: Record<string, Record<string, StageStatus>>;
  /** Orders (locally: all since the data dir was created; on AWS: over the window). */
  readonly totals: {
    readonly accepted: number | null;
    readonly delivered: number | null;
    readonly deadLettered: number | null;
    /** Orders (locally) or messages (AWS) not yet finished. */
    readonly inFlight: number | null;
  };
  readonly latencyMs?: { readonly p50: number | null; readonly p99: number | null };
  /** Things the reader should know (a figure that could not be read, where the dashboard is). */
  readonly notes: readonly string[];
}

/** The raw answer of `POST /orders` (bulk), for the sender to tally. */
export interface IntakeResponse {
  readonly status: number;
  readonly body: unknown;
  /** Seconds, from `Retry-After` (503, 429). */
  readonly retryAfterSeconds?: number;
}

/** What a redrive that receives, sends and deletes did (locally always; on AWS when filtered). */
export interface MovedReport {
  readonly moved: number;
  /** Dead letters the filter selected. */
  readonly matched: number;
  readonly scanned: number;
  /** Left half-moved by an interrupted redrive (their copy was in the queue): deleted now. */
  readonly finished: number;
  /** Sent again because an interrupted send may or may not have reached the queue. */
  readonly resent: number;
  /** Copied but still in the DLQ: the next redrive deletes them without sending them again. */
  readonly notDeleted: number;
  readonly interrupted: boolean;
}

export type RedriveResult =
  /** Moved by receiving, sending and deleting (locally; on AWS with a filter). */
  | ({ readonly kind: 'moved' } & MovedReport)
  /** A dry run: what would move (the first 100 listed). */
  | {
      readonly kind: 'dry-run';
      readonly matched: number;
      readonly scanned: number;
      readonly letters: readonly DeadLetter[];
    }
  /** Started as an SQS message move task (AWS). */
  | {
      readonly kind: 'task';
      readonly taskHandle: string;
      readonly approximateNumberToMove: number | null;
      /** Final state when waited for. */
      readonly status?: string;
      readonly moved?: number;
      readonly failureReason?: string;
    };

export interface StageControlResult {
  readonly paused: boolean;
  readonly maxConcurrency: number | null;
  /** AWS: the mapping's state right after the change (`Disabling`, `Enabling`, `Updating`). */
  readonly state?: string;
}

export interface RedriveOptions {
  readonly ratePerSecond?: number;
  /** Only these dead letters. */
  readonly filter?: DeadLetterFilter;
  /** List what would move; move nothing. */
  readonly dryRun?: boolean;
  /** AWS: poll the move task until it ends. */
  readonly wait?: boolean;
  /** Stops a redrive between batches (Ctrl-C): the batch in hand is finished, the rest stays. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (moved: number, total: number | null) => void;
}

/** `orders list`: orders in some of the listed states, newest first. */
export interface OrderListQuery {
  readonly states: readonly ListedState[];
  readonly warehouse?: string;
  /** ISO time: only orders that entered their state since. */
  readonly since?: string;
  readonly limit: number;
}

export interface TraceOptions {
  /** Search log lines from this time on (epoch ms); by default from the order's creation (AWS), or all kept lines (local). */
  readonly since?: number;
  /** A long search reports how it goes (AWS: the Logs Insights query's status and statistics). */
  readonly onProgress?: (progress: {
    readonly status: string;
    readonly recordsScanned: number;
    readonly recordsMatched: number;
  }) => void;
}
/**
 * What `DELETE /orders/{id}` did: `cancelled` — the order's record, now (or already) cancelled;
 * `too-late` — it was delivered (or purged) first: why, and its record with the delivery.
 */
export type CancelResult =
  | { readonly outcome: 'cancelled'; readonly order: Record<string, unknown> }
  | { readonly outcome: 'too-late'; readonly reason: string; readonly order: Record<string, unknown> };

export interface Target {
  /** e.g. `local runtime at http://127.0.0.1:3000`, `stack Conveyor (eu-west-1)`. */
  readonly description: string;
  /** Warehouse ids, in topology order. */
  warehouses(): Promise<string[]>;
  /** Each warehouse with its chain of stage names, in topology and flow order. */
  pipelines(): Promise<ReadonlyArray<{ readonly id: string; readonly stages: readonly string[] }>>;
  status(): Promise<StatusReport>;
  /** One bulk intake request (≤ 100 orders). */
  submitOrders(orders: readonly unknown[]): Promise<IntakeResponse>;
  /** The order's status record (`GET /orders/{id}`), or undefined when there is none. */
  getOrder(orderId: string): Promise<Record<string, unknown> | undefined>;
  /** Orders by state, through the ledger's listing index (lib/ledger/listing.ts). */
  listOrders(query: OrderListQuery): Promise<ListedOrders>;
  /** One order's history and log lines in time order; undefined when neither the ledger nor the logs know it. */
  trace(orderId: string, options: TraceOptions): Promise<OrderTrace | undefined>;
  /** Cancels the order (`DELETE /orders/{id}`, idempotent), or undefined when there is none. */
  cancelOrder(orderId: string): Promise<CancelResult | undefined>;
  /** Up to `limit` dead letters (those `filter` selects), none consumed. */
  peekDeadLetters(ref: StageRef, limit: number, filter?: DeadLetterFilter): Promise<DeadLetterPage>;
  /** Up to `limit` dead letters with their whole bodies, for `dlq export`; writes the audit line. */
  exportDeadLetters(ref: StageRef, limit: number, filter?: DeadLetterFilter): Promise<DeadLetterPage>;
  /** Messages in the stage's DLQ now, where the target can count them cheaply (the local runtime). */
  deadLetterCount?(ref: StageRef): Promise<number>;
  redrive(ref: StageRef, options: RedriveOptions): Promise<RedriveResult>;
  pause(ref: StageRef): Promise<StageControlResult>;
  resume(ref: StageRef): Promise<StageControlResult>;
  scale(ref: StageRef, maxConcurrency: number): Promise<StageControlResult>;
  /** How long the stage's queue keeps messages, and whether its oldest nears that (for `pause`). */
  queueRetention(ref: StageRef): Promise<QueueRetention>;
  /** Messages a purge would delete right now (ready + in flight + delayed). */
  queueDepth(ref: StageRef): Promise<number>;
  purge(ref: StageRef): Promise<void>;
  /** An operator's override of the stage's circuit breaker: `open` holds it open until closed; `closed` resets it. */
  breaker(ref: StageRef, state: BreakerOverride): Promise<StageBreaker>;
  /** Every stage's circuit breaker, keyed by `warehouse/stage`. */
  breakers(): Promise<Record<string, StageBreaker>>;
  close(): void;
}

/**
 * Reads the order API's answer to a cancel — the same contract behind API Gateway and locally:
 * 200 with the record, 409 with why and the record, 404; anything else is for the caller to report.
 */
export function cancelResultOf(status: number, body: unknown): CancelResult | undefined | 'unexpected' {
  const answer = (body ?? {}) as {
    order?: Record<string, unknown>;
    error?: unknown;
    details?: Array<{ message?: unknown }>;
  };
  if (status === 200 && typeof body === 'object' && body !== null)
    return { outcome: 'cancelled', order: body as Record<string, unknown> };
  if (status === 409 && answer.order) {
    const reason = answer.details?.[0]?.message ?? answer.error;
    return {
      outcome: 'too-late',
      reason: typeof reason === 'string' ? reason : 'the order can no longer be cancelled',
      order: answer.order,
    };
  }
  return status === 404 ? undefined : 'unexpected';
}
