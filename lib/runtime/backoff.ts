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
 * Kept free below SQS's 12-hour limit: the time a record was held before its visibility is changed
 * is estimated (the poller's batching window plus the invocation so far), and this covers the error.
 */
export const VISIBILITY_LIMIT_MARGIN_SECONDS = 60;

/**
 * The longest backoff SQS can honour for a record held `heldSeconds` since its receive: SQS refuses
 * a visibility change that would keep a message invisible more than 12 hours from its receive.
 */
export function longestBackoffSeconds(heldSeconds: number): number {
  return Math.max(1, Math.floor(SQS_MAX_VISIBILITY_SECONDS - VISIBILITY_LIMIT_MARGIN_SECONDS - Math.max(0, heldSeconds)));
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
export function backoffSeconds(receiveCount: number, policy: BackoffPolicy, random: () => number = Math.random, heldSeconds = 0): number {
  const attempt = Math.max(1, Math.floor(receiveCount));
  // 2^(attempt-1) overflows to Infinity for huge counts; min() caps it.
  const ceiling = Math.min(policy.capSeconds, policy.baseSeconds * 2 ** (attempt - 1), longestBackoffSeconds(heldSeconds));
  return Math.max(1, Math.ceil(random() * ceiling));
}

/** The longest a record can wait between its receives (its backoff ceilings), before `maxReceiveCount` is used up. */
export function backoffCeilings(policy: BackoffPolicy, maxReceiveCount: number): number[] {
  return Array.from({ length: Math.max(0, maxReceiveCount - 1) }, (_, i) => Math.min(policy.capSeconds, policy.baseSeconds * 2 ** i));
}
