/**
 * Exponential backoff with full jitter for SQS redelivery. SQS has no native backoff: a failed
 * record's visibility timeout is set to this many seconds, so retries spread out instead of
 * hammering a sick dependency in lockstep ("Exponential Backoff And Jitter", AWS Architecture Blog).
 */
import { backoffCeilingSeconds, VISIBILITY_LIMIT_MARGIN_SECONDS } from '../topology/limits.ts';
import { SQS_MAX_VISIBILITY_SECONDS } from '../topology/model.ts';

export interface BackoffPolicy {
  readonly baseSeconds: number;
  readonly capSeconds: number;
}

/**
 * The longest backoff SQS can honour for a record held `heldSeconds` since its receive: SQS refuses
 * a visibility change that would keep a message invisible more than 12 hours from its receive.
 */
export function longestBackoffSeconds(heldSeconds: number): number {
  return Math.max(
    1,
    Math.floor(SQS_MAX_VISIBILITY_SECONDS - VISIBILITY_LIMIT_MARGIN_SECONDS - Math.max(0, heldSeconds)),
  );
}

/**
 * Seconds to keep a failed record invisible after its `receiveCount`-th receive:
 * uniform in [1, min(cap, base · 2^(receiveCount−1))], whole seconds, and never more than SQS allows
 * for a record already held `heldSeconds`. Never 0: an immediate retry defeats the backoff.
 *
 * @example
 * backoffSeconds(1, { baseSeconds: 2, capSeconds: 300 }); // 1–2
 * backoffSeconds(6, { baseSeconds: 2, capSeconds: 300 }); // 1–64
 * backoffSeconds(20, { baseSeconds: 2, capSeconds: 300 }); // 1–300
 */
export function backoffSeconds(
  receiveCount: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
  heldSeconds = 0,
): number {
  const ceiling = Math.min(backoffCeilingSeconds(policy, receiveCount), longestBackoffSeconds(heldSeconds));
  return Math.max(1, Math.ceil(random() * ceiling));
}
