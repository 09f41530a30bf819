/**
 * Default topology: two warehouses, each picking → packing → delivery.
 * Every value here can be overridden from cdk.json context `conveyor` (see README, "Configuration").
 */
export const DEFAULT_WAREHOUSES = ['wh-1', 'wh-2'] as const;

/** The chain of stages every warehouse runs unless the topology gives it another. */
export const DEFAULT_CHAIN = ['picking', 'packing', 'delivery'] as const;

/** Stage settings before the visibility timeout is derived from them. */
export interface StageDefaults {
  handler: string;
  batchSize: number;
  maxBatchingWindowSeconds: number;
  maxConcurrency: number;
  memoryMb: number;
  timeoutSeconds: number;
  maxReceiveCount: number;
  backoff: { baseSeconds: number; capSeconds: number };
  visibilityTimeoutSeconds?: number;
  breaker: {
    enabled: boolean;
    failureRatePercent: number;
    minimumRecords: number;
    windowSeconds: number;
    openSeconds: number;
    probeRecords: number;
  };
  alarms: {
    maxAgeOfOldestMessageSeconds: number;
    maxErrorRatePercent: number;
    maxThrottles: number;
    periodSeconds: number;
    evaluationPeriods: number;
  };
}

const common = {
  // The batch is the aggregator: 100 records per invocation, gathered for up to 1 s.
  batchSize: 100,
  maxBatchingWindowSeconds: 1,
  // Lambda's minimum. Two invocations of 100 records carry ~1,000 records/s per stage and protect
  // what the stage calls; `conveyor scale` (or the topology) raises it where a stage needs more.
  maxConcurrency: 2,
  // 256 MB buys a faster CPU share than 128 MB for ~2× the GB-s of a few ms per batch.
  memoryMb: 256,
  timeoutSeconds: 30,
  // 1 attempt + 9 retries: under 20 % transient faults a record reaches the DLQ with p ≈ 1e-7.
  maxReceiveCount: 10,
  // Retry n waits uniform [1, min(300, 2 · 2^(n-1))] s — spread out, never hammering a sick dependency.
  backoff: { baseSeconds: 2, capSeconds: 300 },
  breaker: {
    enabled: true,
    // Half the records failing over a minute (and at least 20 of them) is a sick dependency, not bad luck:
    // with 20 % transient faults, 50 % failures among 20 records happen with p < 0.001.
    failureRatePercent: 50,
    minimumRecords: 20,
    windowSeconds: 60,
    openSeconds: 60,
    probeRecords: 10,
  },
  alarms: {
    // A healthy stage moves a message within seconds; 10 minutes means a backlog or a sick dependency.
    maxAgeOfOldestMessageSeconds: 600,
    // Partial failures do not count: these are whole invocations failing (errors, timeouts, crashes).
    maxErrorRatePercent: 5,
    maxThrottles: 0,
    periodSeconds: 60,
    evaluationPeriods: 3,
  },
} satisfies Omit<StageDefaults, 'handler'>;

/** A stage's defaults: the same settings for every stage; its handler module is named like it. */
export function defaultStage(name: string): StageDefaults {
  return {
    handler: name,
    ...common,
    backoff: { ...common.backoff },
    alarms: { ...common.alarms },
    breaker: { ...common.breaker },
  };
}

export const DEFAULT_TRACKING = 'full' as const;

export const DEFAULT_API = {
  authorization: 'iam' as const,
  throttleRateLimit: 500,
  throttleBurstLimit: 1000,
  alarms: {
    // Bad input is a 4xx: 5xx answers are faults (a dependency down: 503), worth a page above 5 %.
    maxServerErrorRatePercent: 5,
    // The intake answers in tens of milliseconds; seconds mean a dependency is slow or the function cold-starts in a loop.
    maxLatencyP99Ms: 3_000,
    // The intake answers failures itself (503): a failed invocation is a crash or a timeout.
    maxIntakeErrorRatePercent: 1,
    maxIntakeThrottles: 0,
    maxTableThrottles: 0,
    maxTableSystemErrors: 0,
    periodSeconds: 60,
    evaluationPeriods: 3,
  },
};

export const DEFAULT_INTAKE = { memoryMb: 256, timeoutSeconds: 10 };

export const DEFAULT_RETENTION = { queueDays: 4, deadLetterDays: 14, logDays: 30 };
