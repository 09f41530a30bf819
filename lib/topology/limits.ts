/**
 * Time limits a stage's settings must respect, from SQS's own: a message is deleted when its queue's
 * retention runs out — retries included — and SQS keeps a message invisible at most 12 hours from
 * its receive. The loader refuses settings that break them; the runtime's backoff uses the same
 * ceilings, so what was checked is what runs.
 */
import { SQS_MAX_VISIBILITY_SECONDS, type Backoff } from './model.ts';

/**
 * Kept free below SQS's 12-hour limit: the time a record was held before its visibility is changed
 * is estimated (the poller's batching window plus the invocation so far), and this covers the error.
 */
export const VISIBILITY_LIMIT_MARGIN_SECONDS = 60;

/** A stage's retries must fit in this share of its queue's retention ("well inside": the rest is for a backlog). */
export const RETRY_BUDGET_SHARE_OF_RETENTION = 0.5;

/** Dead letters wait at least this long for an operator (a week: covers a holiday and a weekend). */
export const MIN_DEAD_LETTER_DAYS = 7;

/** The longest backoff after the `receiveCount`-th receive: min(cap, base · 2^(receiveCount−1)). */
export function backoffCeilingSeconds(backoff: Backoff, receiveCount: number): number {
  const attempt = Math.max(1, Math.floor(receiveCount));
  // 2^(attempt-1) overflows to Infinity for huge counts; min() caps it.
  return Math.min(backoff.capSeconds, backoff.baseSeconds * 2 ** (attempt - 1));
}

/**
 * The longest a message can spend being retried: after each failed receive it stays invisible for
 * its backoff (a failed record) or the visibility timeout (a failed batch: timeout, crash), whichever
 * is longer; after the last, the visibility timeout until SQS moves it to the DLQ.
 *
 * @example
 * retryBudgetSeconds({ maxReceiveCount: 3, backoff: { baseSeconds: 2, capSeconds: 300 }, visibilityTimeoutSeconds: 181 }); // 181 + 181 + 181
 */
export function retryBudgetSeconds(stage: {
  readonly maxReceiveCount: number;
  readonly backoff: Backoff;
  readonly visibilityTimeoutSeconds: number;
}): number {
  let total = stage.visibilityTimeoutSeconds;
  for (let n = 1; n < stage.maxReceiveCount; n++)
    total += Math.max(backoffCeilingSeconds(stage.backoff, n), stage.visibilityTimeoutSeconds);
  return total;
}

/** The largest backoff cap SQS can honour for a stage: 12 hours less the time a record may be held first. */
export function largestBackoffCapSeconds(stage: {
  readonly timeoutSeconds: number;
  readonly maxBatchingWindowSeconds: number;
}): number {
  return (
    SQS_MAX_VISIBILITY_SECONDS - VISIBILITY_LIMIT_MARGIN_SECONDS - stage.timeoutSeconds - stage.maxBatchingWindowSeconds
  );
}

/**
 * A queue's oldest message "nears its retention" past this share of it: time to act (resume, scale,
 * redrive) before SQS deletes it. The local stats, `conveyor status`, `conveyor pause`, the dashboard
 * and the CloudWatch alarms all warn from here.
 */
export const RETENTION_WARNING_SHARE = 0.5;

/** Whether a message `ageSeconds` old in a queue keeping messages `retentionSeconds` nears its deletion. */
export function nearsRetention(ageSeconds: number, retentionSeconds: number): boolean {
  return ageSeconds >= retentionSeconds * RETENTION_WARNING_SHARE;
}

// Limits an operator meets in the cloud and locally alike, and the service limits Conveyor is sized
// against: the topology loader, `conveyor scale`, the local admin API and the stack check against them
// (lib/contract re-exports them for the cloud/local contract).

/** Lambda's range for an SQS event source's maximum concurrency (`maxConcurrency`, `conveyor scale`). */
export const MAX_CONCURRENCY_RANGE = { min: 2, max: 1_000 } as const;

/** API Gateway waits at most this long for an integration (the intake) before answering 504. */
export const API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS = 29;

/**
 * Warehouses one stack holds: the largest topology that synthesizes within CloudFormation's
 * limits (500 resources, 200 outputs, 1 MB of template) with CloudFormation's validation on —
 * proven by test/infra/limits.test.ts, which also shows that one more does not fit.
 */
export const MAX_WAREHOUSES_PER_STACK = 9;

/**
 * Stages one stack holds, over every pipeline (warehouses × their chains): what the most warehouses
 * with the default chain need — each stage brings its queues, function, role and alarms, and the
 * largest such topology is the one test/infra/limits.test.ts proves fits.
 */
export const MAX_STAGES_PER_STACK = MAX_WAREHOUSES_PER_STACK * 3;
