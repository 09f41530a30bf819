/**
 * Live statistics of the local runtime, from the same sources the cloud has: the EMF metrics the
 * handlers print (what CloudWatch would ingest), the event source mappings' batch reports, and
 * the queues' attributes. Totals count orders, not messages, and reconcile:
 * accepted = delivered + dead-lettered + in flight.
 */
import { IntakeMetric } from '../api/order-api.ts';
import { StageMetric } from '../runtime/telemetry.ts';
import { BREAKER_METRICS, type BreakerState } from '../contract/breaker.ts';
import { allStages, deadLetterQueueSettings, nearsRetention, queueSettings, type Topology } from '../topology/index.ts';
import type { BatchReport } from './event-source-mapping.ts';

/** Per-second buckets kept for rates and charts. */
const HISTORY_SECONDS = 300;
/** Rates are averaged over this many seconds. */
const RATE_WINDOW_SECONDS = 10;
const LATENCY_SAMPLES = 50_000;

export interface QueueDepth {
  readonly visible: number;
  readonly notVisible: number;
  readonly delayed: number;
  readonly deadLetters: number;
  /** When the oldest message still in the stage queue was sent (epoch ms), or null when it is empty. */
  readonly oldestSentAt: number | null;
  /** The same for the stage's dead-letter queue (a message moved by the redrive policy keeps its send time). */
  readonly oldestDeadLetterSentAt: number | null;
}

export interface StageView {
  /** Waiting to be received. */
  readonly ready: number;
  /** Received by the event source mapping and not yet settled (gathered or being processed). */
  readonly inFlight: number;
  /** Waiting out a retry backoff (invisible, not held by an invocation). */
  readonly delayed: number;
  /** In the stage's dead-letter queue. */
  readonly dlq: number;
  /** Age of the oldest message in the stage queue (CloudWatch's ApproximateAgeOfOldestMessage); 0 when empty. */
  readonly oldestMessageAgeSeconds: number;
  /** How long the stage queue keeps a message, and whether its oldest one nears that (SQS then deletes it). */
  readonly retentionSeconds: number;
  readonly nearsRetention: boolean;
  /** The same for the dead-letter queue. */
  readonly oldestDeadLetterAgeSeconds: number;
  readonly deadLetterRetentionSeconds: number;
  readonly deadLettersNearRetention: boolean;
  readonly succeeded: number;
  /** Attempts that failed: retried plus dead-lettered. */
  readonly failed: number;
  /** Records returned to the queue for another attempt. */
  readonly retried: number;
  readonly deadLettered: number;
  readonly duplicates: number;
  /** Records succeeded per second, over the last 10 s. */
  readonly perSecond: number;
  readonly incomingPerSecond: number;
  readonly failedPerSecond: number;
  readonly batches: number;
  readonly averageBatchSize: number;
  readonly maxBatchSize: number;
  readonly failedBatches: number;
  readonly concurrency: { readonly inUse: number; readonly max: number };
  /** Stopped by an operator (`conveyor pause`). */
  readonly paused: boolean;
  /** The stage's circuit breaker: `open` stops consumption too (messages wait in the queue). */
  readonly breaker: BreakerState;
  /** Why the breaker is where it is. */
  readonly breakerReason: string;
}

/** Orders by where they are; they reconcile: accepted = delivered + deadLettered + cancelled + purged + inFlight. */
export interface Totals {
  readonly accepted: number;
  readonly delivered: number;
  readonly deadLettered: number;
  readonly cancelled: number;
  readonly purged: number;
  readonly inFlight: number;
}

export interface StatsSnapshot {
  readonly at: string;
  readonly uptimeSeconds: number;
  readonly tracking: Topology['tracking'];
  readonly totals: Totals;
  /** Acceptance-to-delivery latency of recent deliveries, ms. */
  readonly latencyMs: { readonly p50: number | null; readonly p99: number | null; readonly samples: number };
  readonly pipelines: Record<string, Record<string, StageView>>;
  /** Per second, oldest first: orders accepted and delivered (for charts). */
  readonly history: { readonly accepted: number[]; readonly delivered: number[]; readonly failed: number[] };
}

interface StageCounters {
  records: number;
  succeeded: number;
  retried: number;
  deadLettered: number;
  duplicates: number;
  batches: number;
  batchRecords: number;
  maxBatchSize: number;
  failedBatches: number;
}

/** A ring of per-second sums. */
class Timeline {
  readonly #buckets = new Float64Array(HISTORY_SECONDS);
  #second = Math.floor(Date.now() / 1000);

  add(value: number, now = Date.now()): void {
    this.#advance(now);
    this.#buckets[this.#second % HISTORY_SECONDS]! += value;
  }

  /** Average per second over the last `seconds` complete seconds plus the current one. */
  rate(seconds = RATE_WINDOW_SECONDS, now = Date.now()): number {
    this.#advance(now);
    let sum = 0;
    for (let i = 0; i < seconds; i++) sum += this.#buckets[(this.#second - i + HISTORY_SECONDS) % HISTORY_SECONDS] ?? 0;
    return sum / seconds;
  }

  /** The last `seconds` buckets, oldest first. */
  series(seconds: number, now = Date.now()): number[] {
    this.#advance(now);
    return Array.from(
      { length: seconds },
      (_, i) => this.#buckets[(this.#second - seconds + 1 + i + HISTORY_SECONDS) % HISTORY_SECONDS] ?? 0,
    );
  }

  #advance(now: number): void {
    const second = Math.floor(now / 1000);
    for (let s = this.#second + 1; s <= second && s <= this.#second + HISTORY_SECONDS; s++)
      this.#buckets[s % HISTORY_SECONDS] = 0;
    this.#second = Math.max(this.#second, second);
  }
}

/** Order totals counted from the ledger (at start, and when the pipeline is idle). */
export type OrderBaseline = Omit<Totals, 'inFlight'>;

const NO_ORDERS: OrderBaseline = { accepted: 0, delivered: 0, deadLettered: 0, cancelled: 0, purged: 0 };

export class RuntimeStats {
  readonly #topology: Topology;
  readonly #started = Date.now();
  readonly #stages = new Map<string, StageCounters>();
  /** The stage keys that end a pipeline. */
  readonly #lastStages: ReadonlySet<string>;
  readonly #succeededTimeline = new Map<string, Timeline>();
  readonly #incomingTimeline = new Map<string, Timeline>();
  readonly #failedTimeline = new Map<string, Timeline>();
  readonly #accepted = new Timeline();
  readonly #delivered = new Timeline();
  readonly #failed = new Timeline();
  /** Recent deliveries' latency, with when it was recorded (a ring). */
  readonly #latencies: Array<{ readonly at: number; readonly ms: number }> = [];
  #latencyCursor = 0;
  #totals: { -readonly [K in keyof OrderBaseline]: number } = { ...NO_ORDERS };

  readonly #onRecords: ((stageKey: string, records: number, failed: number) => void) | undefined;

  /**
   * @param onRecords told of every stage's records and failed records as they are counted (the
   *   circuit breakers' input): a function's EMF metrics, and batches that failed whole.
   */
  constructor(
    topology: Topology,
    baseline: OrderBaseline = NO_ORDERS,
    onRecords?: (stageKey: string, records: number, failed: number) => void,
  ) {
    this.#onRecords = onRecords;
    this.#topology = topology;
    this.#lastStages = new Set(
      allStages(topology)
        .filter((s) => s.next === undefined)
        .map((s) => s.key),
    );
    this.#totals = { ...baseline };
    for (const stage of allStages(topology)) {
      this.#stages.set(stage.key, {
        records: 0,
        succeeded: 0,
        retried: 0,
        deadLettered: 0,
        duplicates: 0,
        batches: 0,
        batchRecords: 0,
        maxBatchSize: 0,
        failedBatches: 0,
      });
      this.#succeededTimeline.set(stage.key, new Timeline());
      this.#incomingTimeline.set(stage.key, new Timeline());
      this.#failedTimeline.set(stage.key, new Timeline());
    }
  }

  /**
   * Takes one line a function printed; EMF metric documents are counted, anything else ignored.
   * @returns true when the line was an EMF document (it is not a log line then).
   */
  observeLine(line: string): boolean {
    if (!line.startsWith('{') || !line.includes('"_aws"')) return false;
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return false;
    }
    if (typeof doc._aws !== 'object' || doc._aws === null) return false;
    this.observeMetrics(doc);
    return true;
  }

  /** Counts one EMF document (dimensions and metric values at the top level). */
  observeMetrics(doc: Record<string, unknown>): void {
    const sum = (name: string): number => {
      const value = doc[name];
      if (typeof value === 'number') return value;
      return Array.isArray(value) ? value.reduce((a: number, b) => a + (typeof b === 'number' ? b : 0), 0) : 0;
    };
    const stageKey =
      typeof doc.pipeline === 'string' && typeof doc.stage === 'string' ? `${doc.pipeline}/${doc.stage}` : undefined;
    const counters = stageKey ? this.#stages.get(stageKey) : undefined;
    if (counters && stageKey) {
      const succeeded = sum(StageMetric.Succeeded);
      const retried = sum(StageMetric.Failed);
      const deadLettered = sum(StageMetric.DeadLettered);
      counters.records += sum(StageMetric.Records);
      this.#onRecords?.(stageKey, sum(BREAKER_METRICS.records), sum(BREAKER_METRICS.failed));
      counters.succeeded += succeeded;
      counters.retried += retried;
      counters.deadLettered += deadLettered;
      counters.duplicates += sum(StageMetric.Duplicates);
      this.#succeededTimeline.get(stageKey)?.add(succeeded);
      this.#incomingTimeline.get(stageKey)?.add(sum(StageMetric.Records));
      this.#failedTimeline.get(stageKey)?.add(retried + deadLettered);
      this.#failed.add(retried + deadLettered);
      this.#totals.deadLettered += sum(StageMetric.OrdersDeadLettered) - sum(StageMetric.OrdersRevived);
      // An order a stage met first (put straight on a queue, never claimed by the intake) joins the
      // totals when a stage records its fate.
      this.#totals.accepted += sum(StageMetric.OrdersDiscovered);
      // A pipeline's last stage records its deliveries (each pipeline has its own chain).
      if (this.#lastStages.has(stageKey)) {
        this.#totals.delivered += succeeded;
        this.#delivered.add(succeeded);
        const latency = doc[StageMetric.OrderLatency];
        for (const value of Array.isArray(latency) ? latency : latency === undefined ? [] : [latency]) {
          if (typeof value === 'number') this.#recordLatency(value);
        }
      }
      return;
    }
    const accepted = sum(IntakeMetric.OrdersAccepted);
    if (accepted > 0) {
      this.#totals.accepted += accepted;
      this.#accepted.add(accepted);
    }
    // A cancelled order was in flight or dead-lettered until now; the intake says which.
    this.#totals.cancelled += sum(IntakeMetric.OrdersCancelled);
    this.#totals.deadLettered -= sum(IntakeMetric.DeadLetteredOrdersCancelled);
  }

  /**
   * Orders in flight by the counters, unclamped: when the pipeline is idle it must be 0. It is not
   * when a metric was lost with an invocation that timed out or crashed after writing to the ledger.
   */
  get unsettled(): number {
    const { accepted, delivered, deadLettered, cancelled, purged } = this.#totals;
    return accepted - delivered - deadLettered - cancelled - purged;
  }

  /** Replaces the order totals with counts taken from the ledger (the truth). */
  rebase(counts: OrderBaseline): void {
    this.#totals = { ...counts };
  }

  /** Counts one settled batch of an event source mapping. */
  observeBatch(report: BatchReport): void {
    const counters = this.#stages.get(report.stageKey);
    if (!counters) return;
    counters.batches++;
    counters.batchRecords += report.records;
    counters.maxBatchSize = Math.max(counters.maxBatchSize, report.records);
    if (report.batchFailure) {
      this.#onRecords?.(report.stageKey, report.records, report.records);
      counters.failedBatches++;
      this.#failedTimeline.get(report.stageKey)?.add(report.records);
      this.#failed.add(report.records);
    }
  }

  /** The current picture, given the queues' depths and each mapping's state. */
  snapshot(
    depths: ReadonlyMap<string, QueueDepth>,
    mappings: ReadonlyMap<
      string,
      {
        readonly held: number;
        readonly paused: boolean;
        readonly inUse: number;
        readonly maxConcurrency: number;
        readonly breaker?: { readonly state: BreakerState; readonly reason: string };
      }
    >,
    /** Latency percentiles of deliveries recorded since then (epoch ms); all recent ones by default. */
    latencySince = 0,
  ): StatsSnapshot {
    const pipelines: Record<string, Record<string, StageView>> = {};
    for (const stage of allStages(this.#topology)) {
      const c = this.#stages.get(stage.key) as StageCounters;
      const depth = depths.get(stage.key) ?? {
        visible: 0,
        notVisible: 0,
        delayed: 0,
        deadLetters: 0,
        oldestSentAt: null,
        oldestDeadLetterSentAt: null,
      };
      const age = ageSeconds(depth.oldestSentAt);
      const deadLetterAge = ageSeconds(depth.oldestDeadLetterSentAt);
      const retention = queueSettings(this.#topology, stage).messageRetentionSeconds;
      const deadLetterRetention = deadLetterQueueSettings(this.#topology).messageRetentionSeconds;
      const mapping = mappings.get(stage.key) ?? {
        held: 0,
        paused: false,
        inUse: 0,
        maxConcurrency: stage.maxConcurrency,
      };
      const inFlight = Math.min(mapping.held, depth.notVisible);
      (pipelines[stage.pipelineId] ??= {})[stage.name] = {
        ready: depth.visible,
        inFlight,
        delayed: Math.max(0, depth.notVisible - inFlight) + depth.delayed,
        dlq: depth.deadLetters,
        oldestMessageAgeSeconds: age,
        retentionSeconds: retention,
        nearsRetention: nearsRetention(age, retention),
        oldestDeadLetterAgeSeconds: deadLetterAge,
        deadLetterRetentionSeconds: deadLetterRetention,
        deadLettersNearRetention: nearsRetention(deadLetterAge, deadLetterRetention),
        succeeded: c.succeeded,
        failed: c.retried + c.deadLettered,
        retried: c.retried,
        deadLettered: c.deadLettered,
        duplicates: c.duplicates,
        perSecond: round(this.#succeededTimeline.get(stage.key)?.rate() ?? 0),
        incomingPerSecond: round(this.#incomingTimeline.get(stage.key)?.rate() ?? 0),
        failedPerSecond: round(this.#failedTimeline.get(stage.key)?.rate() ?? 0),
        batches: c.batches,
        averageBatchSize: c.batches > 0 ? round(c.batchRecords / c.batches) : 0,
        maxBatchSize: c.maxBatchSize,
        failedBatches: c.failedBatches,
        concurrency: { inUse: mapping.inUse, max: mapping.maxConcurrency },
        paused: mapping.paused,
        breaker: mapping.breaker?.state ?? 'closed',
        breakerReason: mapping.breaker?.reason ?? '',
      };
    }
    const { accepted, delivered, deadLettered, cancelled, purged } = this.#totals;
    const sorted = this.#latencies
      .filter((l) => l.at >= latencySince)
      .map((l) => l.ms)
      .sort((a, b) => a - b);
    return {
      at: new Date().toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.#started) / 1000),
      tracking: this.#topology.tracking,
      totals: { accepted, delivered, deadLettered, cancelled, purged, inFlight: Math.max(0, this.unsettled) },
      latencyMs: { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), samples: sorted.length },
      pipelines,
      history: {
        accepted: this.#accepted.series(120),
        delivered: this.#delivered.series(120),
        failed: this.#failed.series(120),
      },
    };
  }

  #recordLatency(ms: number): void {
    const sample = { at: Date.now(), ms };
    if (this.#latencies.length < LATENCY_SAMPLES) this.#latencies.push(sample);
    else this.#latencies[this.#latencyCursor++ % LATENCY_SAMPLES] = sample;
  }
}

function ageSeconds(sentAt: number | null): number {
  return sentAt === null ? 0 : Math.max(0, Math.floor((Date.now() - sentAt) / 1000));
}

function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number);
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
