/**
 * The topology model: what exists. Every queue, function and limit of a
 * Conveyor deployment — in the cloud and locally — is derived from one
 * `Topology` value. `loadTopology` (load.ts) builds and validates it.
 */

/** SQS's upper bound for a visibility timeout (12 hours); it bounds backoff and visibility settings. */
export const SQS_MAX_VISIBILITY_SECONDS = 43_200;

/**
 * A stage's name: lowercase letters, digits and dashes. It names the stage's queues, function,
 * alarms and outputs, its step in an order's history, and its handler module by default.
 */
export type StageName = string;
export const STAGE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,18}[a-z0-9]$/;

/**
 * How much of an order's progress the ledger records (lib/ledger/). Intake's claim and the final
 * record (delivered, dead-lettered, cancelled, purged) are always written — they are what makes
 * "nothing twice" hold.
 * - `full`: a step fact per finished middle stage, with its history entry.
 * - `terminal`: no middle-stage steps — fewer writes; an order reads as waiting in its first stage until it ends.
 */
export const TRACKING_LEVELS = ['full', 'terminal'] as const;
export type TrackingLevel = (typeof TRACKING_LEVELS)[number];

/** How callers authenticate to the cloud API. */
export const API_AUTHORIZATIONS = ['iam', 'api-key'] as const;
export type ApiAuthorization = (typeof API_AUTHORIZATIONS)[number];

/** Retry backoff: visibility after the n-th failed receive is uniform in [1, min(cap, base · 2^(n-1))] seconds. */
export interface Backoff {
  readonly baseSeconds: number;
  readonly capSeconds: number;
}

/**
 * Alarm thresholds of one stage: the same numbers drive the CloudWatch alarms and the local
 * dashboard's alarm states. A dead letter always alarms (DLQ depth > 0).
 */
export interface StageAlarms {
  /** Alarm when the oldest message waiting in the stage queue is older than this. */
  readonly maxAgeOfOldestMessageSeconds: number;
  /** Alarm when failed invocations exceed this share of invocations (over the evaluation period). */
  readonly maxErrorRatePercent: number;
  /** Alarm when the function is throttled more than this many times per evaluation period. */
  readonly maxThrottles: number;
  /** Length of one evaluation period. */
  readonly periodSeconds: number;
  /** Consecutive breaching periods before the alarm fires. */
  readonly evaluationPeriods: number;
}

/**
 * A stage's circuit breaker (lib/contract/breaker.ts): when its records fail at or above a rate, it
 * stops consuming (messages wait in the queue, not the DLQ), probes after a while, and resumes.
 */
export interface BreakerSettings {
  readonly enabled: boolean;
  /** Open when at least this share of the window's records failed… */
  readonly failureRatePercent: number;
  /** …and the window held at least this many records. */
  readonly minimumRecords: number;
  /** The window the failure rate is taken over (a CloudWatch alarm period in the cloud: a multiple of 60). */
  readonly windowSeconds: number;
  /** How long the breaker stays open before it probes. */
  readonly openSeconds: number;
  /** Records a probe lets through before the breaker decides. */
  readonly probeRecords: number;
}

/** Tunable settings of one stage: the Lambda function and its SQS event source. */
export interface StageSettings {
  /** Handler module under `handlers/` (without extension); the stage's name unless set. */
  readonly handler: string;
  /** Records per invocation (the aggregator). Above 10 needs a batching window. */
  readonly batchSize: number;
  /** How long the event source gathers records before invoking. */
  readonly maxBatchingWindowSeconds: number;
  /** Upper bound of concurrent invocations the event source starts (2–1000). */
  readonly maxConcurrency: number;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** Receives before a message goes to the dead-letter queue (1 = no retry). */
  readonly maxReceiveCount: number;
  readonly backoff: Backoff;
  /** Queue visibility timeout; at least 6 × timeout + batching window (AWS guidance). */
  readonly visibilityTimeoutSeconds: number;
  readonly alarms: StageAlarms;
  readonly breaker: BreakerSettings;
}

/** One stage of one pipeline, fully resolved. */
export interface Stage extends StageSettings {
  /** e.g. `wh-1/picking` — unique across the topology. */
  readonly key: string;
  readonly pipelineId: string;
  readonly name: StageName;
  /** Position in the pipeline, 0-based. */
  readonly index: number;
  /** The stage this one forwards to; absent for the last stage. */
  readonly next?: StageName;
}

/** One warehouse: its own chain of stages (from the topology's `chain`), queues and functions. */
export interface Pipeline {
  readonly id: string;
  readonly stages: readonly Stage[];
}

/** Thresholds of the API-level alarms (API Gateway, the intake function, the status table), which notify directly. */
export interface ApiAlarmSettings {
  /** 5xx responses above this share of API requests. Bad input is a 4xx: any 5xx is a fault. */
  readonly maxServerErrorRatePercent: number;
  /** API latency (p99, ms) above this. */
  readonly maxLatencyP99Ms: number;
  /** Failed intake invocations (crashes, timeouts) above this share of its invocations. */
  readonly maxIntakeErrorRatePercent: number;
  /** Throttled intake invocations per period above this. */
  readonly maxIntakeThrottles: number;
  /** Throttled requests to the status table per period above this. */
  readonly maxTableThrottles: number;
  /** DynamoDB system errors (5xx) of the status table per period above this. */
  readonly maxTableSystemErrors: number;
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
}

export interface ApiSettings {
  readonly authorization: ApiAuthorization;
  /** Steady-state requests per second across the API stage. */
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  /** Optional AWS WAFv2 web ACL to associate with the API stage. */
  readonly wafWebAclArn?: string;
  readonly alarms: ApiAlarmSettings;
}

export interface IntakeSettings {
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
}

export interface RetentionSettings {
  /** Message retention of stage queues. */
  readonly queueDays: number;
  /** Message retention of dead-letter queues; longer than the queue's, so nothing expires there first. */
  readonly deadLetterDays: number;
  /** CloudWatch Logs retention of functions and API access logs. */
  readonly logDays: number;
}

export interface AlarmSettings {
  /** Email address subscribed to the alarm topic (confirmed by the recipient); none by default. */
  readonly email?: string;
}

export interface Topology {
  readonly tracking: TrackingLevel;
  readonly alarms: AlarmSettings;
  readonly pipelines: readonly Pipeline[];
  readonly api: ApiSettings;
  readonly intake: IntakeSettings;
  readonly retention: RetentionSettings;
}
