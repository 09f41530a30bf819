/**
 * The circuit breakers of a deployed stack: the rules every breaker follows (lib/contract/breaker.ts)
 * over the counts CloudWatch holds, each stage's state in a table item changed only by conditional
 * writes (breaker-store.ts), and the stage's Lambda event source mapping as the switch —
 *
 *   open       Enabled=false: consumption stops, messages wait in the queue (not in the DLQ)
 *   half-open  Enabled=true at MaximumConcurrency 2 (SQS's least): a probe
 *   closed     Enabled=true at the concurrency it had before the probe
 *
 * It is woken up three ways: by the stage's failure-rate alarm going to ALARM (`onAlarm`), by a
 * schedule every minute (`tick`: opens what was alarmed but missed, half-opens what has been open long
 * enough, judges running probes, finishes mapping changes that failed), and by an operator
 * (`override`, `describe`). The AWS calls sit behind small ports so the rules can be tested
 * without AWS.
 */
import {
  breakerChangeMessage,
  nextBreakerStatus,
  overriddenStatus,
  type BreakerOverride,
  type BreakerState,
  type BreakerStatus,
  type RecordCounts,
} from '../contract/breaker.ts';
import { MAX_CONCURRENCY_RANGE } from '../contract/limits.ts';
import type { BreakerSettings } from '../topology/model.ts';
import { mapConcurrent } from '../aws/concurrency.ts';
import { UNWRITTEN, type BreakerRecord, type BreakerStore, type MappingSetting } from './breaker-store.ts';

/** One stage's breaker as the function knows it (from its environment). */
export interface BreakerStage {
  /** `wh-1/packing`. */
  readonly key: string;
  readonly pipelineId: string;
  readonly stage: string;
  /** The UUID of the stage's event source mapping. */
  readonly mappingUuid: string;
  /** The name of the stage's failure-rate alarm. */
  readonly alarmName: string;
  /** The topology's maximum concurrency: restored when the mapping's own cannot be read. */
  readonly maxConcurrency: number;
  readonly settings: BreakerSettings;
}

export interface MappingPort {
  /** The mapping's maximum concurrency now; undefined when it has none. */
  maxConcurrency(uuid: string): Promise<number | undefined>;
  apply(uuid: string, setting: MappingSetting): Promise<void>;
}

export interface CountsPort {
  /** The stage's records and failed records (BREAKER_METRICS) between two instants (epoch ms). */
  counts(stage: BreakerStage, fromMs: number, toMs: number): Promise<RecordCounts>;
}

export interface AlarmsPort {
  /** The breaker alarms in ALARM now, by name. */
  inAlarm(): Promise<Set<string>>;
}

/** A breaker's change of state, as operators are told of it. */
export interface BreakerNotice {
  readonly stage: BreakerStage;
  readonly from: BreakerState;
  readonly to: BreakerStatus;
}

export interface NotifierPort {
  notify(notice: BreakerNotice): Promise<void>;
}

export interface BreakerLog {
  info(message: string, fields: Record<string, unknown>): void;
  warn(message: string, fields: Record<string, unknown>): void;
  error(message: string, fields: Record<string, unknown>): void;
}

export interface BreakerPorts {
  readonly store: BreakerStore;
  readonly mappings: MappingPort;
  readonly counts: CountsPort;
  readonly alarms: AlarmsPort;
  readonly notifier: NotifierPort;
  readonly log: BreakerLog;
  readonly now?: () => number;
}

/** A stage the function does not manage (an unknown `--stage`, a stage without a breaker). */
export class UnknownBreakerError extends Error {
  constructor(stageKey: string, known: readonly string[]) {
    super(`no circuit breaker for stage "${stageKey}"; the stages are ${known.join(', ')}`);
    this.name = 'UnknownBreakerError';
  }
}

const NO_RECORDS: RecordCounts = { records: 0, failed: 0 };
/** Stages worked on at once in a tick. */
const CONCURRENCY = 4;
/** An operator's override retries this often when the breaker keeps moving under it. */
const OVERRIDE_ATTEMPTS = 3;
const MINUTE_MS = 60_000;

export class CloudBreakers {
  readonly #stages: ReadonlyMap<string, BreakerStage>;
  readonly #byAlarm: ReadonlyMap<string, BreakerStage>;
  readonly #ports: BreakerPorts;
  readonly #now: () => number;

  constructor(stages: readonly BreakerStage[], ports: BreakerPorts) {
    this.#stages = new Map(stages.map((s) => [s.key, s]));
    this.#byAlarm = new Map(stages.map((s) => [s.alarmName, s]));
    this.#ports = ports;
    this.#now = ports.now ?? Date.now;
  }

  /**
   * A stage's failure-rate alarm went to ALARM: judge the window it evaluated (from `windowStart`,
   * epoch ms; else the last whole window) by the rules.
   * @returns the stage and its breaker after, or undefined for an alarm that is not a breaker's.
   */
  async onAlarm(
    alarmName: string,
    windowStart?: number,
  ): Promise<{ stage: string; breaker: BreakerStatus } | undefined> {
    const stage = this.#byAlarm.get(alarmName);
    if (!stage) {
      this.#ports.log.warn('alarm is not a circuit breaker of this stack; ignored', { alarmName });
      return undefined;
    }
    const record = await this.#read(stage);
    return { stage: stage.key, breaker: statusOf(await this.#evaluate(stage, record, windowStart)) };
  }

  /** The minute's round: every breaker that needs a look gets one; one stage's failure does not stop the others. */
  async tick(): Promise<{ readonly looked: number; readonly failed: number }> {
    const [records, alarmed] = await Promise.all([this.#ports.store.readAll(), this.#ports.alarms.inAlarm()]);
    const due = [...this.#stages.values()].filter((s) => {
      const record = records.get(s.key) ?? UNWRITTEN;
      return !record.synced || record.state !== 'closed' || alarmed.has(s.alarmName);
    });
    const outcomes = await mapConcurrent(due, CONCURRENCY, async (stage) => {
      try {
        let record = records.get(stage.key) ?? UNWRITTEN;
        if (!record.synced) record = await this.#sync(stage, record);
        if (record.state !== 'closed' || alarmed.has(stage.alarmName)) await this.#evaluate(stage, record);
        return true;
      } catch (error) {
        this.#ports.log.error('could not look after a circuit breaker', {
          stage: stage.key,
          error: (error as Error).message,
        });
        return false;
      }
    });
    return { looked: due.length, failed: outcomes.filter((ok) => !ok).length };
  }

  /** An operator's `breaker open|close`: held open until an operator closes it; a close resets it. */
  async override(stageKey: string, state: BreakerOverride, by: string): Promise<BreakerStatus> {
    const stage = this.#stage(stageKey);
    for (let attempt = 1; attempt <= OVERRIDE_ATTEMPTS; attempt++) {
      const written = await this.#move(stage, await this.#read(stage), overriddenStatus(state, by, this.#now()));
      if (written) return statusOf(written);
    }
    throw new Error(
      `the circuit breaker of ${stageKey} kept changing while it was being ${state === 'open' ? 'opened' : 'closed'}; try again`,
    );
  }

  /** Every stage's breaker, keyed by stage key. */
  async describe(): Promise<Record<string, BreakerStatus>> {
    const records = await this.#ports.store.readAll();
    return Object.fromEntries([...this.#stages.keys()].map((key) => [key, statusOf(records.get(key) ?? UNWRITTEN)]));
  }

  #stage(key: string): BreakerStage {
    const stage = this.#stages.get(key);
    if (!stage) throw new UnknownBreakerError(key, [...this.#stages.keys()]);
    return stage;
  }

  async #read(stage: BreakerStage): Promise<BreakerRecord> {
    return (await this.#ports.store.readAll()).get(stage.key) ?? UNWRITTEN;
  }

  /** Applies the rules to the breaker's counts; moves it when they say so. */
  async #evaluate(stage: BreakerStage, record: BreakerRecord, windowStart?: number): Promise<BreakerRecord> {
    if (record.manual || !stage.settings.enabled) return record;
    const now = this.#now();
    const counts = await this.#countsFor(stage, record, now, windowStart);
    const next = nextBreakerStatus(statusOf(record), counts, now, stage.settings);
    if (next.state === record.state) return record;
    return (await this.#move(stage, record, next)) ?? record;
  }

  /**
   * What the rules judge: for a closed breaker the window the alarm evaluated (or, without one or
   * with one older than the breaker's last change, the last whole window); for a half-open one
   * everything since the probe began (from the start of that minute: CloudWatch's finest period
   * here; while open nothing was consumed, so the minute holds no records from before).
   */
  async #countsFor(
    stage: BreakerStage,
    record: BreakerRecord,
    now: number,
    windowStart?: number,
  ): Promise<RecordCounts> {
    const windowMs = stage.settings.windowSeconds * 1000;
    if (record.state === 'open') return NO_RECORDS;
    if (record.state === 'half-open') return this.#ports.counts.counts(stage, floorToMinute(record.since), now);
    const from =
      windowStart !== undefined && windowStart >= floorToMinute(record.since)
        ? windowStart
        : floorToMinute(now) - windowMs;
    return this.#ports.counts.counts(stage, from, from + windowMs);
  }

  /**
   * Moves the breaker to `next`: writes it (conditionally: of two invocations only one moves it),
   * then brings the mapping in line and tells the operators.
   * @returns the record written, or undefined when the breaker had moved meanwhile.
   */
  async #move(stage: BreakerStage, record: BreakerRecord, next: BreakerStatus): Promise<BreakerRecord | undefined> {
    const restore =
      next.state === 'half-open'
        ? (record.restoreConcurrency ??
          (await this.#ports.mappings.maxConcurrency(stage.mappingUuid)) ??
          stage.maxConcurrency)
        : undefined;
    const written = await this.#ports.store.replace(stage.key, record.version, {
      state: next.state,
      since: next.since,
      reason: next.reason,
      ...(next.manual ? { manual: true } : {}),
      ...(restore !== undefined ? { restoreConcurrency: restore } : {}),
      mapping: mappingFor(next.state, record.restoreConcurrency),
    });
    if (!written) {
      this.#ports.log.info('circuit breaker moved by another invocation; left as it is', {
        stage: stage.key,
        wanted: next.state,
      });
      return undefined;
    }
    const synced = await this.#sync(stage, written).catch((error: unknown) => {
      this.#ports.log.error('could not change the event source mapping; the next minute tries again', {
        stage: stage.key,
        state: written.state,
        error: (error as Error).message,
      });
      return written;
    });
    if (record.state !== next.state) await this.#tell(stage, record.state, next);
    return synced;
  }

  /** Sets the mapping as the record says, then notes it. */
  async #sync(stage: BreakerStage, record: BreakerRecord): Promise<BreakerRecord> {
    await this.#ports.mappings.apply(stage.mappingUuid, record.mapping);
    await this.#ports.store.markSynced(stage.key, record.version);
    return { ...record, synced: true };
  }

  async #tell(stage: BreakerStage, from: BreakerState, to: BreakerStatus): Promise<void> {
    this.#ports.log.warn(breakerChangeMessage(to.state), { stage: stage.key, from, to: to.state, reason: to.reason });
    try {
      await this.#ports.notifier.notify({ stage, from, to });
    } catch (error) {
      this.#ports.log.error('could not publish the circuit breaker notification', {
        stage: stage.key,
        to: to.state,
        error: (error as Error).message,
      });
    }
  }
}

/**
 * What the mapping must be in a state. Open and closed give back the concurrency a probe lowered
 * (`restoreConcurrency` of the half-open breaker they leave); half-open probes at SQS's least.
 */
export function mappingFor(state: BreakerState, restoreConcurrency: number | undefined): MappingSetting {
  const restore = restoreConcurrency !== undefined ? { maxConcurrency: restoreConcurrency } : {};
  switch (state) {
    case 'open':
      return { enabled: false, ...restore };
    case 'half-open':
      return { enabled: true, maxConcurrency: MAX_CONCURRENCY_RANGE.min };
    case 'closed':
      return { enabled: true, ...restore };
  }
}

function statusOf(record: BreakerRecord): BreakerStatus {
  return {
    state: record.state,
    since: record.since,
    reason: record.reason,
    ...(record.manual ? { manual: true } : {}),
  };
}

function floorToMinute(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}
