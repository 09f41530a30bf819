/**
 * A local SQS event source mapping, reproducing Lambda's poller: long polling; batches of up to
 * `batchSize` records gathered within `maxBatchingWindow`; up to `maxConcurrency` concurrent
 * invocations; settled with the partial batch response (listed failures stay, the rest are
 * deleted; an error, a timeout or a malformed response fails the whole batch, whose messages
 * return after their visibility timeout). It can be paused, resumed and rescaled while running.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { RECEIVE_WAIT_SECONDS, type Stage } from '../topology/index.ts';
import { deleteRecords, receiveBatch, settleBatch } from './event-source.ts';
import type { LocalFunction } from './local-function.ts';

export interface BatchReport {
  readonly stageKey: string;
  readonly records: number;
  readonly deleted: number;
  /** Records left in the queue to be retried (reported failures, or the whole batch). */
  readonly retained: number;
  readonly durationMs: number;
  /** Why the whole batch failed, if it did. */
  readonly batchFailure?: { readonly kind: string; readonly message: string };
}

export interface EventSourceMappingOptions {
  readonly stage: Stage;
  readonly sqs: SQSClient;
  readonly queue: { readonly url: string; readonly arn: string };
  readonly region: string;
  readonly function: LocalFunction;
  readonly onBatch?: (report: BatchReport) => void;
  /** Receive errors (the emulator down): reported, then retried after a pause. */
  readonly onError?: (error: Error, stageKey: string) => void;
}

export class LocalEventSourceMapping {
  readonly stage: Stage;
  readonly #options: EventSourceMappingOptions;
  /** Aborts the pollers' receives (stop, pause); replaced when they may poll again. */
  #abort = new AbortController();
  readonly #loops: Promise<void>[] = [];
  #maxConcurrency: number;
  #paused = false;
  #started = false;
  #stopped = false;
  /** Wakes loops parked by pause or a lower concurrency. */
  #wake: { promise: Promise<void>; resolve: () => void } = deferred();
  /** Records received and not yet settled: the mapping holds them (in flight). */
  #held = 0;
  /**
   * Pollers at work now. Like Lambda's, the mapping starts with one and adds pollers while batches
   * come back full (a backlog), up to maxConcurrency, and drops them when long polls come back
   * empty — an idle stage costs one long poll per 20 s, not one per poller.
   */
  #active = 1;

  constructor(options: EventSourceMappingOptions) {
    this.#options = options;
    this.stage = options.stage;
    this.#maxConcurrency = options.stage.maxConcurrency;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get maxConcurrency(): number {
    return this.#maxConcurrency;
  }

  /** Pollers working now (1 to maxConcurrency). */
  get activePollers(): number {
    return Math.min(this.#active, this.#maxConcurrency);
  }

  /** Records received by this mapping and not yet settled. */
  get held(): number {
    return this.#held;
  }

  start(): void {
    this.#started = true;
    this.#ensureLoops();
  }

  /** Stops consuming: messages wait in the queue. Long polls end now; running invocations finish. */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#abort.abort(new Error('paused'));
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (!this.#stopped) this.#abort = new AbortController();
    this.#signal();
  }

  /** Changes the most concurrent invocations (2–1000, as Lambda's ScalingConfig). */
  scale(maxConcurrency: number): void {
    this.#maxConcurrency = maxConcurrency;
    this.#options.function.maxConcurrency = maxConcurrency;
    this.#ensureLoops();
    this.#signal();
  }

  /** Stops polling (aborting long polls) and waits for running invocations to settle. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    this.#signal();
    await Promise.all(this.#loops);
  }

  #ensureLoops(): void {
    if (!this.#started || this.#stopped) return;
    while (this.#loops.length < this.#maxConcurrency) this.#loops.push(this.#poll(this.#loops.length));
  }

  #signal(): void {
    const wake = this.#wake;
    this.#wake = deferred();
    wake.resolve();
  }

  /** One poller: gather a batch, invoke, settle — while it is within the concurrency limit. */
  async #poll(index: number): Promise<void> {
    while (!this.#stopped) {
      if (this.#paused || index >= Math.min(this.#active, this.#maxConcurrency)) {
        await this.#wake.promise;
        continue;
      }
      let records: SQSRecord[];
      const signal = this.#abort.signal;
      try {
        records = await this.#gather(signal);
      } catch (error) {
        if (this.#stopped) break;
        if (signal.aborted) continue; // paused: park
        this.#options.onError?.(error as Error, this.stage.key);
        await sleep(1000, signal);
        continue;
      }
      if (records.length === 0) {
        // Nothing for a whole long poll: the newest poller retires (one always stays).
        if (index > 0 && index === this.#active - 1) this.#active--;
        continue;
      }
      if (records.length >= this.stage.batchSize && this.#active < this.#maxConcurrency) {
        // A full batch: there is a backlog, so another poller joins.
        this.#active++;
        this.#signal();
      }
      try {
        await this.#invoke(records);
      } finally {
        this.#held -= records.length;
      }
    }
  }

  /** Long-polls for the first records, then fills the batch until it is full or the window closes. */
  async #gather(signal: AbortSignal): Promise<SQSRecord[]> {
    const { sqs, queue, region } = this.#options;
    const { batchSize, maxBatchingWindowSeconds } = this.stage;
    const records = await receiveBatch(sqs, queue, region, batchSize, RECEIVE_WAIT_SECONDS, signal);
    this.#held += records.length;
    if (records.length === 0) return records;
    const windowEnds = Date.now() + maxBatchingWindowSeconds * 1000;
    while (records.length < batchSize && !signal.aborted) {
      const remaining = windowEnds - Date.now();
      if (remaining <= 0) break;
      try {
        // Whole seconds only for long polls; below a second, short polls with a pause.
        const more = await receiveBatch(sqs, queue, region, batchSize - records.length, remaining >= 1000 ? 1 : 0, signal);
        this.#held += more.length;
        records.push(...more);
        if (more.length === 0 && remaining < 1000) await sleep(Math.min(remaining, 50), signal);
      } catch (error) {
        // Records already received are in flight: deliver them (as Lambda finishes a batch it
        // started) rather than leave them hidden until their visibility timeout. The next poll
        // meets the error again (if it lasts) and reports it.
        if (!signal.aborted) this.#options.onError?.(error as Error, this.stage.key);
        break;
      }
    }
    return records;
  }

  async #invoke(records: SQSRecord[]): Promise<void> {
    const { sqs, queue, onBatch } = this.#options;
    const result = await this.#options.function.invoke({ Records: records });
    let settlement: ReturnType<typeof settleBatch> = result.ok ? settleBatch(records, result.response) : { kind: 'batch-failed', reason: result.message };
    if (settlement.kind === 'partial' && settlement.succeeded.length > 0) {
      try {
        await deleteRecords(sqs, queue.url, settlement.succeeded);
      } catch (error) {
        // Not deleted: they come back after their visibility timeout, and the stage skips them as done.
        settlement = { kind: 'batch-failed', reason: `deleting the batch failed: ${(error as Error).message}` };
      }
    }
    const deleted = settlement.kind === 'partial' ? settlement.succeeded.length : 0;
    onBatch?.({
      stageKey: this.stage.key,
      records: records.length,
      deleted,
      retained: records.length - deleted,
      durationMs: result.durationMs,
      ...(settlement.kind === 'batch-failed' ? { batchFailure: { kind: result.ok ? 'malformed-response' : result.kind, message: settlement.reason } } : {}),
    });
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
