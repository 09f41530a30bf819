/**
 * Sends orders through the order API in bulk requests (`{"orders": [...]}`, at most 100 each),
 * a few requests at a time, optionally paced to a rate, and tallies every order's fate from the
 * per-order results: accepted, duplicate, rejected (grouped by reason) or unavailable. Throttled
 * or unavailable requests (429, 503) and orders the API could not queue are retried with backoff.
 */
import { MAX_ORDERS_PER_REQUEST } from '../domain/order.ts';
import { CliError, describeHttpProblem } from './errors.ts';
import type { OrderSource } from './order-source.ts';
import type { Target } from './target.ts';

/** Requests in flight at once. */
const CONCURRENCY = 4;
/** Attempts per order before it counts as unavailable. */
const MAX_ATTEMPTS = 5;
const RETRYABLE = new Set([429, 502, 503, 504]);

export interface Rejection {
  readonly reason: string;
  readonly count: number;
  /** The first few order ids with this reason. */
  readonly orderIds: readonly string[];
}

export interface SendTally {
  readonly requested: number;
  readonly accepted: number;
  readonly duplicates: number;
  readonly rejected: number;
  readonly unavailable: number;
  readonly seconds: number;
  readonly ordersPerSecond: number;
  readonly rejections: readonly Rejection[];
}

export interface SendOptions {
  /** Orders per second at most; as fast as the API takes them when absent. */
  readonly ratePerSecond?: number;
  readonly onProgress?: (done: number) => void;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

interface BulkResult {
  readonly index?: number;
  readonly orderId?: string;
  readonly status?: string;
  readonly duplicate?: boolean;
  readonly error?: string;
  readonly details?: ReadonlyArray<{ readonly field?: string; readonly message?: string }>;
}

/**
 * @example
 * const tally = await sendInBulk(target, generatedOrders(1000, ['wh-1', 'wh-2'], 'load-x'), { ratePerSecond: 200, now: Date.now, sleep });
 * tally.accepted; // 1000
 */
export async function sendInBulk(target: Target, source: OrderSource, options: SendOptions): Promise<SendTally> {
  const { ratePerSecond, now, sleep } = options;
  const chunkSize =
    ratePerSecond === undefined
      ? MAX_ORDERS_PER_REQUEST
      : Math.max(1, Math.min(MAX_ORDERS_PER_REQUEST, Math.floor(ratePerSecond)));
  const started = now();
  const tally = new Tally(options.onProgress);
  let next = 0;
  // Each worker takes the next chunk, waits for its time when paced, and sends it to its end.
  const worker = async (): Promise<void> => {
    for (let first = next; first < source.total; first = next) {
      const size = Math.min(chunkSize, source.total - first);
      next += size;
      if (ratePerSecond !== undefined) {
        const wait = started + (first / ratePerSecond) * 1000 - now();
        if (wait > 0) await sleep(wait);
      }
      await sendChunk(
        target,
        Array.from({ length: size }, (_, i) => source.at(first + i)),
        tally,
        sleep,
      );
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
  return tally.summary(source.total, (now() - started) / 1000);
}

/** Every order's fate, counted once; rejections grouped by reason. */
class Tally {
  readonly #counts = { accepted: 0, duplicates: 0, rejected: 0, unavailable: 0 };
  readonly #reasons = new Map<string, { count: number; orderIds: string[] }>();
  readonly #onProgress: ((done: number) => void) | undefined;
  #done = 0;

  constructor(onProgress?: (done: number) => void) {
    this.#onProgress = onProgress;
  }

  taken(duplicate: boolean | undefined): void {
    if (duplicate) this.#counts.duplicates++;
    else this.#counts.accepted++;
    this.#settle(1);
  }

  rejected(reason: string, orderId: string | undefined): void {
    this.#counts.rejected++;
    const entry = this.#reasons.get(reason) ?? { count: 0, orderIds: [] };
    entry.count++;
    if (orderId && entry.orderIds.length < 3) entry.orderIds.push(orderId);
    this.#reasons.set(reason, entry);
    this.#settle(1);
  }

  unavailable(count: number): void {
    this.#counts.unavailable += count;
    this.#settle(count);
  }

  summary(requested: number, seconds: number): SendTally {
    const counts = this.#counts;
    return {
      requested,
      ...counts,
      seconds,
      ordersPerSecond: seconds > 0 ? (counts.accepted + counts.duplicates) / seconds : 0,
      rejections: [...this.#reasons]
        .map(([reason, r]) => ({ reason, count: r.count, orderIds: r.orderIds }))
        .sort((a, b) => b.count - a.count),
    };
  }

  #settle(n: number): void {
    this.#done += n;
    this.#onProgress?.(this.#done);
  }
}

/** One bulk request and its retries: orders the API could not queue and throttled requests go again, with backoff. */
async function sendChunk(
  target: Target,
  orders: Record<string, unknown>[],
  tally: Tally,
  sleep: (ms: number) => Promise<void>,
): Promise<void> {
  let pending = orders;
  for (let attempt = 1; pending.length > 0; attempt++) {
    const response = await target.submitOrders(pending);
    const results = (response.body as { results?: BulkResult[] } | undefined)?.results;
    let retry: Record<string, unknown>[];
    if (Array.isArray(results)) retry = settleResults(pending, results, tally);
    else if (RETRYABLE.has(response.status)) retry = pending;
    else {
      const hint =
        response.status === 403
          ? ' — your identity needs execute-api:Invoke on the API (or pass --api-key for an API-key stack)'
          : '';
      throw new CliError(
        `the order API refused the request: ${describeHttpProblem(response.status, response.body)}${hint}`,
      );
    }
    if (retry.length > 0 && attempt >= MAX_ATTEMPTS) {
      tally.unavailable(retry.length);
      retry = [];
    }
    if (retry.length > 0)
      await sleep(
        response.retryAfterSeconds !== undefined
          ? response.retryAfterSeconds * 1000
          : Math.min(5000, 250 * 2 ** attempt),
      );
    pending = retry;
  }
}

/** Counts each per-order result; returns the orders to send again (those the API could not queue). */
function settleResults(
  sent: Record<string, unknown>[],
  results: readonly BulkResult[],
  tally: Tally,
): Record<string, unknown>[] {
  const retry: Record<string, unknown>[] = [];
  for (const result of results) {
    const order = sent[result.index ?? -1];
    if (result.error === undefined) tally.taken(result.duplicate);
    else if (result.error === 'service unavailable' && order) retry.push(order);
    else tally.rejected(reasonOf(result), result.orderId ?? (order?.orderId as string | undefined));
  }
  return retry;
}

/** `invalid order: items.0.quantity: must be at least 1` — field paths without the bulk prefix, so equal reasons group. */
function reasonOf(result: BulkResult): string {
  const details = (result.details ?? []).map(
    (d) => `${(d.field ?? '').replace(/^orders\.\d+\.?/, '') || 'order'}: ${d.message ?? ''}`,
  );
  return `${result.error}${details.length > 0 ? ` — ${details.join('; ')}` : ''}`;
}
