/**
 * The circuit breaker of a stage — one set of rules, driven locally by the runtime (lib/local/breaker.ts)
 * and in the cloud by the breaker function (lib/orders/breaker.ts, lib/operations/circuit-breakers.ts): while a stage's records fail at
 * or above a rate, stop consuming its queue (messages wait there, not in the DLQ), try again after a
 * while with a probe at the least concurrency, and resume when the probe is healthy.
 *
 *   closed ──(failure rate ≥ threshold over ≥ minimumRecords in the window)──▶ open
 *   open ──(openSeconds passed)──▶ half-open (consuming at minimum concurrency)
 *   half-open ──(probeRecords seen, failure rate below threshold)──▶ closed
 *   half-open ──(probeRecords seen, failure rate ≥ threshold)──▶ open
 *
 * An operator's `open` holds the breaker open until an operator's `close`.
 */
import type { BreakerSettings } from '../topology/model.ts';
import { StageMetric } from './metrics.ts';

export const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;
export type BreakerState = (typeof BREAKER_STATES)[number];

/** Where a stage's breaker is, since when (epoch ms), and why it moved there. */
export interface BreakerStatus {
  readonly state: BreakerState;
  readonly since: number;
  readonly reason: string;
  /** Set by an operator: the breaker stays as it is until an operator changes it. */
  readonly manual?: boolean;
}

/** Records a stage handled and how many of them failed (retried or dead-lettered, or in a failed batch). */
export interface RecordCounts {
  readonly records: number;
  readonly failed: number;
}

export const CLOSED: BreakerStatus = { state: 'closed', since: 0, reason: 'healthy' };

/** Whether `counts` say the stage is failing: enough records, and the share of failures at or above the threshold. */
export function isFailing(counts: RecordCounts, settings: BreakerSettings, minimum = settings.minimumRecords): boolean {
  return (
    counts.records >= minimum &&
    counts.records > 0 &&
    (counts.failed * 100) / counts.records >= settings.failureRatePercent
  );
}

/**
 * The breaker's next status. `counts`: for a closed breaker, the records of the last `windowSeconds`;
 * for a half-open one, the records since it half-opened.
 *
 * @example
 * nextBreakerStatus({ state: 'closed', since: 0, reason: 'healthy' }, { records: 40, failed: 30 }, now, settings);
 * // { state: 'open', since: now, reason: '30 of 40 records failed in the last 60 s (threshold 50 %)' }
 */
export function nextBreakerStatus(
  status: BreakerStatus,
  counts: RecordCounts,
  now: number,
  settings: BreakerSettings,
): BreakerStatus {
  if (!settings.enabled || status.manual) return status;
  switch (status.state) {
    case 'closed':
      if (!isFailing(counts, settings)) return status;
      return {
        state: 'open',
        since: now,
        reason: `${counts.failed} of ${counts.records} records failed in the last ${settings.windowSeconds} s (threshold ${settings.failureRatePercent} %)`,
      };
    case 'open':
      if (now - status.since < settings.openSeconds * 1000) return status;
      return {
        state: 'half-open',
        since: now,
        reason: `open for ${settings.openSeconds} s: probing with ${settings.probeRecords} records at the least concurrency`,
      };
    case 'half-open':
      if (counts.records < settings.probeRecords) return status;
      if (isFailing(counts, settings, settings.probeRecords)) {
        return {
          state: 'open',
          since: now,
          reason: `the probe failed: ${counts.failed} of ${counts.records} records (threshold ${settings.failureRatePercent} %)`,
        };
      }
      return {
        state: 'closed',
        since: now,
        reason: `the probe passed: ${counts.failed} of ${counts.records} records failed`,
      };
  }
}

/**
 * What a breaker judges a stage by, from the metrics every stage emits: the records it handled and
 * those that failed transiently (returned to the queue to retry). Dead-lettered records (poison
 * input, business rejections) say nothing about a sick dependency and do not count. The local
 * runtime feeds its breakers these two sums; the cloud's failure-rate alarm reads these two metrics.
 */
export const BREAKER_METRICS = { records: StageMetric.Records, failed: StageMetric.Failed } as const;

/** What an operator may force a breaker to. */
export const BREAKER_OVERRIDES = ['open', 'closed'] as const;
export type BreakerOverride = (typeof BREAKER_OVERRIDES)[number];

/**
 * An operator's override: `open` holds the breaker open (manual) until an operator closes it;
 * `closed` resets it, whatever held it.
 *
 * @example
 * overriddenStatus('open', 'operator@ops-laptop', Date.now()); // { state: 'open', since, reason: 'opened by operator@ops-laptop', manual: true }
 */
export function overriddenStatus(state: BreakerOverride, by: string, now: number): BreakerStatus {
  return {
    state,
    since: now,
    reason: `${state === 'open' ? 'opened' : 'closed'} by ${by}`,
    ...(state === 'open' ? { manual: true } : {}),
  };
}

/** The log message of a breaker's change of state (locally the runtime's log; in the cloud the breaker function's, and the notification's title). */
export function breakerChangeMessage(state: BreakerState): string {
  return `circuit breaker ${state}`;
}
