/**
 * Exponential backoff with full jitter for SQS redelivery. SQS has no native backoff: a failed
 * record's visibility timeout is set to this many seconds, so retries spread out instead of
 * hammering a sick dependency in lockstep ("Exponential Backoff And Jitter", AWS Architecture Blog).
 */
import { SQS_MAX_VISIBILITY_SECONDS } from '../topology/model.ts';

export interface BackoffPolicy {
  readonly baseSeconds: number;
  readonly capSeconds: number;
}

/**
 * Seconds to keep a failed record invisible after its `receiveCount`-th receive:
 * uniform in [1, min(cap, base · 2^(receiveCount−1))], whole seconds.
 * Never 0: an immediate retry defeats the backoff (and fauxqs mishandles 0 with persistence).
 *
 * @example
 * backoffSeconds(1, { baseSeconds: 2, capSeconds: 300 }); // 1–2
 * backoffSeconds(6, { baseSeconds: 2, capSeconds: 300 }); // 1–64
 * backoffSeconds(20, { baseSeconds: 2, capSeconds: 300 }); // 1–300
 */
export function backoffSeconds(receiveCount: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const attempt = Math.max(1, Math.floor(receiveCount));
  // 2^(attempt-1) overflows to Infinity for huge counts; min() caps it.
  const ceiling = Math.min(policy.capSeconds, policy.baseSeconds * 2 ** (attempt - 1), SQS_MAX_VISIBILITY_SECONDS);
  return Math.max(1, Math.ceil(random() * ceiling));
}
