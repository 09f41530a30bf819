/**
 * Alarm rules: what each alarm watches, with which statistic, above which threshold, over how
 * many periods of what length. The CloudWatch alarms (lib/infra/monitoring.ts) and the local
 * runtime's judge (lib/local/alarms.ts) both take every number from here, and the numbers come
 * from the topology: a threshold changed in cdk.json changes both.
 */
import type { ApiAlarmSettings, RetentionSettings, Stage } from '../topology/model.ts';

/**
 * The alarms every stage has, as they appear in the cloud alarm names
 * (`<stack>-<warehouse>-<stage>-<kind>`). None notifies by itself: they feed their pipeline's
 * composite alarm, which does.
 */
export const STAGE_ALARM_KINDS = [
  'dead-letters',
  'backlog',
  'error-rate',
  'throttles',
  'queue-retention',
  'dead-letter-retention',
] as const;
export type StageAlarmKind = (typeof STAGE_ALARM_KINDS)[number];

/** The resource whose metric a stage alarm reads. */
export type AlarmSubject = 'queue' | 'dead-letter-queue' | 'function';

/**
 * The figure a stage alarm judges: a queue's visible messages or the age of its oldest message
 * (AWS/SQS), a function's throttles, or its error rate — metric math, 100 × Errors / Invocations,
 * 0 without invocations (AWS/Lambda).
 */
export type AlarmFigure = 'visible-messages' | 'oldest-message-age' | 'error-rate-percent' | 'throttles';

/** README runbook entries ("SOS: …"); every alarm's description names one. */
export const RUNBOOK = {
  deadLetters: 'SOS: dead letters',
  backlog: 'SOS: backlog',
  functionErrors: 'SOS: function errors',
  throttles: 'SOS: throttles',
  retention: 'SOS: messages near their retention',
  apiErrors: 'SOS: API errors',
  apiLatency: 'SOS: API latency',
  statusTable: 'SOS: status table',
  circuitBreaker: 'SOS: circuit breaker open',
} as const;

export interface AlarmRule<K extends string = StageAlarmKind> {
  readonly kind: K;
  /** CloudWatch statistic over each period. */
  readonly statistic: 'Maximum' | 'Sum' | 'p99';
  /** Breaches when the figure is above this (GreaterThanThreshold). */
  readonly threshold: number;
  readonly periodSeconds: number;
  /** Consecutive breaching periods before ALARM; missing data never breaches. */
  readonly evaluationPeriods: number;
  readonly runbook: string;
}

export interface StageAlarmRule extends AlarmRule {
  readonly subject: AlarmSubject;
  readonly figure: AlarmFigure;
}

/** SQS reports queue metrics once a minute: a dead letter alarms on the first datapoint that shows it. */
export const DEAD_LETTER_ALARM_PERIOD_SECONDS = 60;

/** A message "nears its retention" once its age passes this share of the retention period. */
export const RETENTION_WARNING_SHARE = 0.75;

const DAY_SECONDS = 86_400;

/**
 * The age (seconds) past which a message nears its queue's retention and an alarm fires: three
 * quarters of it, leaving a quarter of the retention to resume, scale or redrive.
 *
 * @example
 * retentionWarningSeconds(4); // 259200: 3 of 4 days
 */
export function retentionWarningSeconds(retentionDays: number): number {
  return Math.round(retentionDays * DAY_SECONDS * RETENTION_WARNING_SHARE);
}

/**
 * One alarm rule of one stage, from its `alarms` settings and the topology's retention.
 *
 * @example
 * stageAlarmRule('backlog', stage, topology.retention); // { subject: 'queue', figure: 'oldest-message-age', statistic: 'Maximum', threshold: 600, … }
 */
export function stageAlarmRule(
  kind: StageAlarmKind,
  stage: Pick<Stage, 'alarms'>,
  retention: RetentionSettings,
): StageAlarmRule {
  const { alarms } = stage;
  const window = { periodSeconds: alarms.periodSeconds, evaluationPeriods: alarms.evaluationPeriods };
  switch (kind) {
    case 'dead-letters':
      return {
        kind,
        subject: 'dead-letter-queue',
        figure: 'visible-messages',
        statistic: 'Maximum',
        threshold: 0,
        periodSeconds: DEAD_LETTER_ALARM_PERIOD_SECONDS,
        evaluationPeriods: 1,
        runbook: RUNBOOK.deadLetters,
      };
    case 'backlog':
      return {
        kind,
        subject: 'queue',
        figure: 'oldest-message-age',
        statistic: 'Maximum',
        threshold: alarms.maxAgeOfOldestMessageSeconds,
        ...window,
        runbook: RUNBOOK.backlog,
      };
    case 'error-rate':
      return {
        kind,
        subject: 'function',
        figure: 'error-rate-percent',
        statistic: 'Sum',
        threshold: alarms.maxErrorRatePercent,
        ...window,
        runbook: RUNBOOK.functionErrors,
      };
    case 'throttles':
      return {
        kind,
        subject: 'function',
        figure: 'throttles',
        statistic: 'Sum',
        threshold: alarms.maxThrottles,
        ...window,
        runbook: RUNBOOK.throttles,
      };
    // An age only grows until the message leaves: one period past the mark is enough.
    case 'queue-retention':
      return {
        kind,
        subject: 'queue',
        figure: 'oldest-message-age',
        statistic: 'Maximum',
        threshold: retentionWarningSeconds(retention.queueDays),
        periodSeconds: alarms.periodSeconds,
        evaluationPeriods: 1,
        runbook: RUNBOOK.retention,
      };
    case 'dead-letter-retention':
      return {
        kind,
        subject: 'dead-letter-queue',
        figure: 'oldest-message-age',
        statistic: 'Maximum',
        threshold: retentionWarningSeconds(retention.deadLetterDays),
        periodSeconds: alarms.periodSeconds,
        evaluationPeriods: 1,
        runbook: RUNBOOK.retention,
      };
  }
}

/** Every alarm rule of a stage, in STAGE_ALARM_KINDS order. */
export function stageAlarmRules(stage: Pick<Stage, 'alarms'>, retention: RetentionSettings): StageAlarmRule[] {
  return STAGE_ALARM_KINDS.map((kind) => stageAlarmRule(kind, stage, retention));
}

/**
 * The alarms of the deployment's front: they notify directly (with the pipelines' composites),
 * because each means clients are affected now.
 */
export const API_ALARM_KINDS = [
  'api-5xx-rate',
  'api-latency-p99',
  'intake-error-rate',
  'intake-throttles',
  'table-throttles',
  'table-system-errors',
] as const;
export type ApiAlarmKind = (typeof API_ALARM_KINDS)[number];

/** One API-level alarm rule, from the topology's `api.alarms`. */
export function apiAlarmRule(kind: ApiAlarmKind, settings: ApiAlarmSettings): AlarmRule<ApiAlarmKind> {
  const window = { periodSeconds: settings.periodSeconds, evaluationPeriods: settings.evaluationPeriods };
  switch (kind) {
    case 'api-5xx-rate':
      return {
        kind,
        statistic: 'Sum',
        threshold: settings.maxServerErrorRatePercent,
        ...window,
        runbook: RUNBOOK.apiErrors,
      };
    case 'api-latency-p99':
      return { kind, statistic: 'p99', threshold: settings.maxLatencyP99Ms, ...window, runbook: RUNBOOK.apiLatency };
    case 'intake-error-rate':
      return {
        kind,
        statistic: 'Sum',
        threshold: settings.maxIntakeErrorRatePercent,
        ...window,
        runbook: RUNBOOK.apiErrors,
      };
    case 'intake-throttles':
      return { kind, statistic: 'Sum', threshold: settings.maxIntakeThrottles, ...window, runbook: RUNBOOK.throttles };
    case 'table-throttles':
      return { kind, statistic: 'Sum', threshold: settings.maxTableThrottles, ...window, runbook: RUNBOOK.statusTable };
    case 'table-system-errors':
      return {
        kind,
        statistic: 'Sum',
        threshold: settings.maxTableSystemErrors,
        ...window,
        runbook: RUNBOOK.statusTable,
      };
  }
}
