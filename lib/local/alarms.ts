/**
 * Local alarm evaluation: the stage alarms of the cloud stack, evaluated on the local runtime's
 * stats with the topology's thresholds (`StageAlarms`), so the dashboard says what CloudWatch
 * would. Pure: the evaluator is fed snapshots with their time and never reads a clock, a queue or
 * a timer itself — the dashboard samples, this module judges.
 *
 * Per pipeline × stage, every rule of the shared alarm rules (lib/contract/alarm-rules.ts) — the
 * very thresholds, statistics and periods the CloudWatch alarms get — each over its
 * `evaluationPeriods` consecutive periods, a period without data counting as not breaching
 * (`treatMissingData: notBreaching`):
 * - `dead-letters`: dead-letter queue depth (the period's maximum) > 0, on one period of a minute.
 * - `backlog`: age of the oldest message (the period's maximum) > `maxAgeOfOldestMessageSeconds`.
 * - `error-rate`: invocations that failed as a whole (error, timeout, malformed response) above
 *   `maxErrorRatePercent` of the period's invocations. Records failed one by one do not count; a
 *   period without invocations does not breach.
 * - `throttles`: throttled invocations in the period > `maxThrottles`. Always 0 locally: there is
 *   no reserved concurrency.
 * - `queue-retention` / `dead-letter-retention`: the oldest message of the queue / of the
 *   dead-letter queue older than three quarters of its retention. The DLQ's oldest age is judged
 *   once the stats report it (`oldestDeadLetterAgeSeconds`); until then that rule has no data.
 * And one composite per pipeline: ALARM when any of its stage alarms is.
 *
 * Periods slide with the evaluation time (the newest ends now) rather than being aligned to the
 * clock as CloudWatch's are, and the figures are fresh (CloudWatch receives SQS metrics a minute
 * or more late): locally an alarm changes state as soon as its condition holds.
 */
import {
  stageAlarmRule,
  stageAlarmRules,
  STAGE_ALARM_KINDS,
  type StageAlarmKind,
  type StageAlarmRule,
} from '../contract/alarm-rules.ts';
import { allStages, type Stage, type Topology } from '../topology/index.ts';
import type { StatsSnapshot } from './stats.ts';

export const ALARM_STATES = ['OK', 'ALARM', 'INSUFFICIENT_DATA'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

/** What an operator reads about one rule: like CloudWatch's `StateValue`, `StateReason` and `StateUpdatedTimestamp`. */
export interface AlarmStatus {
  readonly state: AlarmState;
  readonly reason: string;
  /** When the alarm entered this state (ISO); the first evaluation for a new alarm. */
  readonly since: string;
  /** The newest datapoint (messages, seconds, percent or throttles); null without data. */
  readonly value: number | null;
  /** Consecutive breaching periods up to now: below `evaluationPeriods` the alarm is still OK, but on its way. */
  readonly breachingPeriods: number;
  /** Breaches when the value is above this. */
  readonly threshold: number;
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
}

export interface CompositeAlarmStatus {
  readonly state: AlarmState;
  readonly reason: string;
  readonly since: string;
  /** Stage alarms in ALARM, e.g. `picking dlq`. */
  readonly alarming: readonly string[];
}

export interface PipelineAlarms {
  readonly composite: CompositeAlarmStatus;
  readonly stages: Record<string, Record<StageAlarmKind, AlarmStatus>>;
}

/** `GET /api/alarms`. */
export interface AlarmReport {
  readonly at: string;
  /** Worst composite state over all pipelines. */
  readonly state: AlarmState;
  /** Stage alarms in ALARM, e.g. `wh-1/picking dlq`. */
  readonly alarming: readonly string[];
  /** Samples kept and the time they span: what the evaluation could look at. */
  readonly samples: number;
  readonly historySeconds: number;
  readonly pipelines: Record<string, PipelineAlarms>;
}

/** The figures of one stage the rules need, taken from a stats snapshot. */
export interface StageSample {
  readonly dlq: number;
  readonly oldestMessageAgeSeconds: number;
  /** Cumulative invocations (settled batches). */
  readonly batches: number;
  /** Cumulative invocations that failed as a whole. */
  readonly failedBatches: number;
  /** Cumulative throttled invocations (always 0 locally). */
  readonly throttles: number;
  /** Age of the oldest message in the dead-letter queue, when the stats report it. */
  readonly oldestDeadLetterAgeSeconds?: number;
}

type Judgement = Pick<AlarmStatus, 'state' | 'reason' | 'value' | 'breachingPeriods'>;

interface Sample {
  readonly at: number;
  readonly stages: ReadonlyMap<string, StageSample>;
}

/** Samples kept per period at most: enough to take each period's maximum, bounded however often the evaluator is fed. */
const SAMPLES_PER_PERIOD = 60;

export const THROTTLES_LOCAL_NOTE =
  'the local runtime has no reserved concurrency, so nothing is throttled here; in the cloud this alarm counts Lambda throttles';

/**
 * Evaluates the topology's stage alarms over a short history of stats snapshots.
 * @example
 * const evaluator = new AlarmEvaluator(topology);
 * evaluator.observe(await runtime.stats());          // every few seconds
 * const report = evaluator.evaluate();               // { state: 'OK', pipelines: { 'wh-1': … } }
 */
export class AlarmEvaluator {
  readonly #topology: Topology;
  readonly #stages: readonly Stage[];
  /** Oldest first. */
  #samples: Sample[] = [];
  /** Last state of every alarm and when it was entered, by alarm id. */
  readonly #states = new Map<string, { state: AlarmState; since: number }>();
  /** What the longest rule looks back: its periods, plus one period for the baseline of a delta. */
  readonly #retainMs: number;
  /** Two kept samples are at least this far apart (the newest one is always kept). */
  readonly #spacingMs: number;

  constructor(topology: Topology) {
    this.#topology = topology;
    this.#stages = allStages(topology);
    const rules = this.#stages.flatMap((s) => stageAlarmRules(s, topology.retention));
    this.#retainMs = Math.max(0, ...rules.map((r) => (r.evaluationPeriods + 1) * r.periodSeconds * 1000));
    this.#spacingMs = Math.max(1000, Math.min(...rules.map((r) => (r.periodSeconds * 1000) / SAMPLES_PER_PERIOD)));
  }

  /** Records a stats snapshot taken at `at` (epoch ms; default: the snapshot's own time). */
  observe(snapshot: StatsSnapshot, at = Date.parse(snapshot.at)): void {
    const stages = new Map<string, StageSample>();
    for (const stage of this.#stages) {
      const view = snapshot.pipelines[stage.pipelineId]?.[stage.name];
      if (!view) continue;
      // The DLQ's oldest age, once the local stats measure it (CloudWatch's ApproximateAgeOfOldestMessage of the DLQ).
      const { oldestDeadLetterAgeSeconds } = view as typeof view & { oldestDeadLetterAgeSeconds?: number };
      stages.set(stage.key, {
        dlq: view.dlq,
        oldestMessageAgeSeconds: view.oldestMessageAgeSeconds,
        batches: view.batches,
        failedBatches: view.failedBatches,
        throttles: 0,
        ...(oldestDeadLetterAgeSeconds === undefined ? {} : { oldestDeadLetterAgeSeconds }),
      });
    }
    this.observeSample(at, stages);
  }

  /** Records the figures of each stage (by stage key) at `at`; for snapshots use `observe`. */
  observeSample(at: number, stages: ReadonlyMap<string, StageSample>): void {
    const last = this.#samples.at(-1);
    if (last && at < last.at) return; // out of order: a slower snapshot finished after a newer one
    // The newest sample is always kept; it replaces the last one while that one is too close to its predecessor.
    const previous = this.#samples.at(-2);
    if (last && previous && last.at - previous.at < this.#spacingMs)
      this.#samples[this.#samples.length - 1] = { at, stages };
    else this.#samples.push({ at, stages });
    // Keep the window, plus the newest sample before it (the baseline of the oldest delta).
    const cutoff = at - this.#retainMs;
    let first = 0;
    while (first + 1 < this.#samples.length && (this.#samples[first + 1] as Sample).at <= cutoff) first++;
    if (first > 0) this.#samples = this.#samples.slice(first);
  }

  /** How many samples are kept. */
  get samples(): number {
    return this.#samples.length;
  }

  /** Every alarm's state at `now` (epoch ms; default: the newest sample's time). */
  evaluate(now = this.#samples.at(-1)?.at ?? Date.now()): AlarmReport {
    const pipelines: Record<string, PipelineAlarms> = {};
    const allAlarming: string[] = [];
    for (const pipeline of this.#topology.pipelines) {
      const stages: Record<string, Record<StageAlarmKind, AlarmStatus>> = {};
      const alarming: string[] = [];
      const states: AlarmState[] = [];
      for (const stage of pipeline.stages) {
        const rules = {} as Record<StageAlarmKind, AlarmStatus>;
        for (const kind of STAGE_ALARM_KINDS) {
          const rule = stageAlarmRule(kind, stage, this.#topology.retention);
          const judged = this.#judge(rule, stage, now);
          const status: AlarmStatus = {
            ...judged,
            since: this.#since(`${stage.key} ${kind}`, judged.state, now),
            threshold: rule.threshold,
            periodSeconds: rule.periodSeconds,
            evaluationPeriods: rule.evaluationPeriods,
          };
          rules[kind] = status;
          states.push(status.state);
          if (status.state === 'ALARM') alarming.push(`${stage.name} ${kind}`);
        }
        stages[stage.name] = rules;
      }
      const state: AlarmState =
        alarming.length > 0
          ? 'ALARM'
          : states.length > 0 && states.every((s) => s === 'INSUFFICIENT_DATA')
            ? 'INSUFFICIENT_DATA'
            : 'OK';
      const reason =
        state === 'ALARM'
          ? `${alarming.length} stage alarm${alarming.length === 1 ? '' : 's'} in ALARM: ${alarming.join(', ')}`
          : state === 'OK'
            ? `no stage alarm in ALARM${states.includes('INSUFFICIENT_DATA') ? ' (some still lack data)' : ''}`
            : 'no stage alarm has data yet';
      pipelines[pipeline.id] = {
        composite: { state, reason, since: this.#since(`${pipeline.id} composite`, state, now), alarming },
        stages,
      };
      allAlarming.push(...alarming.map((a) => `${pipeline.id}/${a}`));
    }
    const composites = Object.values(pipelines).map((p) => p.composite.state);
    const first = this.#samples[0];
    return {
      at: new Date(now).toISOString(),
      state: composites.includes('ALARM')
        ? 'ALARM'
        : composites.length > 0 && composites.every((s) => s === 'INSUFFICIENT_DATA')
          ? 'INSUFFICIENT_DATA'
          : 'OK',
      alarming: allAlarming,
      samples: this.#samples.length,
      historySeconds: first ? Math.round((now - first.at) / 1000) : 0,
      pipelines,
    };
  }

  #since(id: string, state: AlarmState, now: number): string {
    const previous = this.#states.get(id);
    if (previous?.state === state) return new Date(previous.since).toISOString();
    this.#states.set(id, { state, since: now });
    return new Date(now).toISOString();
  }

  #judge(rule: StageAlarmRule, stage: Stage, now: number): Judgement {
    const samples = this.#samples.filter((s) => s.at <= now && s.stages.has(stage.key));
    if (samples.length === 0)
      return { state: 'INSUFFICIENT_DATA', reason: 'no sample of this stage yet', value: null, breachingPeriods: 0 };
    const figures = (sample: Sample) => sample.stages.get(stage.key) as StageSample;
    const { periodSeconds, evaluationPeriods, threshold } = rule;
    /** The period's maximum of a level (queue depth, age); a period without the figure has no datapoint. */
    const maximum = (of: (s: StageSample) => number | undefined) =>
      periodDatapoints(samples, now, periodSeconds, evaluationPeriods, (window) => {
        const values = window.map((w) => of(figures(w))).filter((v): v is number => v !== undefined);
        return values.length === 0 ? null : Math.max(...values);
      });
    /** The growth of a counter over the period. */
    const growth = (of: (s: StageSample) => number) =>
      periodDatapoints(samples, now, periodSeconds, evaluationPeriods, (_, from, to) =>
        !from || !to || to.at <= from.at ? null : Math.max(0, of(figures(to)) - of(figures(from))),
      );
    const judge: Judge = (datapoints, describe, limit) =>
      consecutive(datapoints, threshold, periodSeconds, describe, limit);

    switch (rule.figure) {
      case 'visible-messages':
        return judge(
          maximum((s) => s.dlq),
          (v) => `${plural(v, 'message')} in the dead-letter queue`,
          `threshold: more than ${threshold}`,
        );
      case 'oldest-message-age': {
        const inDeadLetters = rule.subject === 'dead-letter-queue';
        if (inDeadLetters && samples.every((s) => figures(s).oldestDeadLetterAgeSeconds === undefined)) {
          return {
            state: 'INSUFFICIENT_DATA',
            reason: 'the local stats do not report the age of dead letters',
            value: null,
            breachingPeriods: 0,
          };
        }
        const datapoints = maximum((s) => (inDeadLetters ? s.oldestDeadLetterAgeSeconds : s.oldestMessageAgeSeconds));
        return judge(
          datapoints,
          (v) => `oldest ${inDeadLetters ? 'dead letter' : 'message'} ${formatSeconds(v)} old`,
          `threshold ${formatSeconds(threshold)}`,
        );
      }
      case 'error-rate-percent':
        return judgeErrorRate(
          growth((s) => s.batches),
          growth((s) => s.failedBatches),
          rule,
          judge,
        );
      case 'throttles': {
        const datapoints = growth((s) => s.throttles);
        if (!datapoints.some((v) => v !== null)) datapoints[0] = figures(samples.at(-1) as Sample).throttles; // one sample: throttled since the start
        const judged = judge(
          datapoints,
          (v) => plural(v, 'throttle'),
          `threshold: more than ${threshold} per ${formatSeconds(periodSeconds)}`,
        );
        return { ...judged, reason: `${judged.reason}; ${THROTTLES_LOCAL_NOTE}` };
      }
    }
  }
}

type Judge = (
  datapoints: ReadonlyArray<number | null>,
  describe: (value: number) => string,
  limit: string,
) => Judgement;

/** Failed invocations as a share of the period's invocations; a period without invocations is 0 %, not missing. */
function judgeErrorRate(
  invocations: ReadonlyArray<number | null>,
  failed: ReadonlyArray<number | null>,
  rule: StageAlarmRule,
  judge: Judge,
): Judgement {
  if (invocations.every((v) => v === null))
    return {
      state: 'INSUFFICIENT_DATA',
      reason: 'needs two samples to count invocations',
      value: null,
      breachingPeriods: 0,
    };
  const rates = invocations.map((n, i) =>
    n === null ? null : n === 0 ? 0 : Math.round((1000 * (failed[i] ?? 0)) / n) / 10,
  );
  const judged = judge(rates, (v) => `${v} % of invocations failed`, `threshold ${rule.threshold} %`);
  const n = invocations[0];
  const detail =
    n === null || n === undefined
      ? ''
      : n === 0
        ? 'no invocations'
        : `${plural(failed[0] ?? 0, 'failed invocation')} of ${n.toLocaleString('en-US')}`;
  return {
    ...judged,
    reason: `${judged.reason}${detail ? ` — ${detail} in the last ${formatSeconds(rule.periodSeconds)}` : ''}`,
  };
}

/**
 * One datapoint per period, newest first: period i is (now − (i+1)·P, now − i·P]. `datapoint`
 * gets the samples inside the period and, for deltas, the baseline (the newest sample at or
 * before the period's start — or the very first sample when history starts inside the period)
 * and the newest sample inside it.
 */
function periodDatapoints(
  samples: readonly Sample[],
  now: number,
  periodSeconds: number,
  periods: number,
  datapoint: (window: readonly Sample[], from: Sample | undefined, to: Sample | undefined) => number | null,
): Array<number | null> {
  const period = periodSeconds * 1000;
  return Array.from({ length: periods }, (_, i) => {
    const end = now - i * period;
    const start = end - period;
    const window = samples.filter((s) => s.at > start && s.at <= end);
    const before = samples.filter((s) => s.at <= start).at(-1);
    const from = before ?? (samples[0] && samples[0].at <= end ? samples[0] : undefined);
    return datapoint(window, from, window.at(-1));
  });
}

/**
 * CloudWatch's "N out of N" evaluation over datapoints (newest first), missing data not
 * breaching: ALARM when every one breaches, OK otherwise; INSUFFICIENT_DATA only without any
 * datapoint at all (a new alarm).
 */
function consecutive(
  datapoints: ReadonlyArray<number | null>,
  threshold: number,
  periodSeconds: number,
  describeValue: (value: number) => string,
  describeThreshold: string,
): Judgement {
  const needed = datapoints.length;
  const newest = datapoints.find((v) => v !== null) ?? null;
  if (newest === null)
    return {
      state: 'INSUFFICIENT_DATA',
      reason: `no datapoint in the last ${formatSeconds(needed * periodSeconds)}`,
      value: null,
      breachingPeriods: 0,
    };
  const current = datapoints[0] ?? null;
  let streak = 0;
  while (streak < needed && datapoints[streak] !== null && (datapoints[streak] as number) > threshold) streak++;
  const window =
    needed === 1
      ? `the last ${formatSeconds(periodSeconds)}`
      : `${needed} consecutive periods of ${formatSeconds(periodSeconds)}`;
  if (current === null)
    return {
      state: 'OK',
      reason: `no datapoint in the last ${formatSeconds(periodSeconds)} (missing data does not breach)`,
      value: null,
      breachingPeriods: 0,
    };
  const breachingPeriods = streak;
  if (streak >= needed)
    return {
      state: 'ALARM',
      reason: `${describeValue(current)} (${describeThreshold}) for ${window}`,
      value: current,
      breachingPeriods,
    };
  if (streak === 0)
    return {
      state: 'OK',
      reason: `${describeValue(current)} (${describeThreshold})`,
      value: current,
      breachingPeriods,
    };
  return {
    state: 'OK',
    reason: `${describeValue(current)} (${describeThreshold}) for ${streak} of ${needed} periods so far`,
    value: current,
    breachingPeriods,
  };
}

function plural(n: number, noun: string): string {
  return `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;
}

/** 45 s, 10 min, 1 min 30 s, 2 h. */
export function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return s % 60 === 0 ? `${s / 60} min` : `${Math.floor(s / 60)} min ${s % 60} s`;
  const m = Math.round(s / 60);
  return m % 60 === 0 ? `${m / 60} h` : `${Math.floor(m / 60)} h ${m % 60} min`;
}
