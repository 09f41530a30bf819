/**
 * A local SQS event source mapping, reproducing Lambda's poller: long polling; batches of up to
 * `batchSize` records gathered within `maxBatchingWindow`; up to `maxConcurrency` concurrent
 * invocations; settled with the partial batch response (listed failures stay, the rest are
 * deleted; an error, a timeout or a malformed response fails the whole batch, whose messages
 * return after their visibility timeout). It can be paused, resumed and rescaled while running;
 * stopped or paused, it hands back what it received and did not invoke, as a disabled event
 * source does.
 *
 * Scaling, as AWS documents it for standard queues ("Configuring scaling behavior for SQS event
 * source mappings", https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html): Lambda
 * long-polls, "starts processing five batches at a time with five concurrent invocations", adds up
 * to 300 more per minute while messages are still available, at most `maxConcurrency` (the
 * ScalingConfig's MaximumConcurrency, 2–1000); when traffic is low it goes back to five — its
 * further optimisation down to two "is not available when you enable the maximum concurrency
 * setting", which every Conveyor stage sets. So here: min(5, maxConcurrency) pollers from the
 * start, one more at most every 200 ms while batches come back full, and back to min(5,
 * maxConcurrency) as long polls come back empty.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { RECEIVE_WAIT_SECONDS, type Stage } from '../topology/index.ts';
import { deleteRecords, endLongPolls, receiveBatch, releaseRecords, settleBatch } from './event-source.ts';
import type { LocalFunction } from './local-function.ts';

/** The hold an operator's pause puts on a mapping. */
const OPERATOR = 'operator';

/** Lambda's concurrent batches when messages are available, before it scales up. */
const INITIAL_POLLERS = 5;
/** Lambda adds up to 300 concurrent batches per minute: one at most every 200 ms. */
const SCALE_UP_INTERVAL_MS = 60_000 / 300;
/** How long a stopping mapping waits for the emulator to end its long polls before aborting them. */
const END_RECEIVES_TIMEOUT_MS = 2_000;

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
  /** Receive (or hand-back) errors, e.g. the emulator down: reported, then retried after a pause. */
  readonly onError?: (error: Error, stageKey: string) => void;
}

export class LocalEventSourceMapping {
  readonly stage: Stage;
  readonly #options: EventSourceMappingOptions;
  /** Aborted by stop and pause: ends the pollers' pauses after errors. Replaced on resume. */
  #halt = new AbortController();
  /** Aborts receives in flight — only when the emulator did not end them (see #endReceives). */
  #abortReceives = new AbortController();
  readonly #loops: Promise<void>[] = [];
  #maxConcurrency: number;
  #paused = false;
  /** Why consumption is stopped: empty when it runs. */
  readonly #holds = new Set<string>();
  #started = false;
  #stopped = false;
  #stopping: Promise<void> | undefined;
  /** Wakes loops parked by pause or a lower concurrency. */
  #wake: { promise: Promise<void>; resolve: () => void } = deferred();
  /** Records received and not yet settled or handed back: the mapping holds them (in flight). */
  #held = 0;
  /** ReceiveMessage calls in flight. */
  #receiving = 0;
  /** Pollers at work now: min(5, maxConcurrency) to maxConcurrency (see the file comment). */
  #active: number;
  #lastScaleUp = 0;

  constructor(options: EventSourceMappingOptions) {
    this.#options = options;
    this.stage = options.stage;
    this.#maxConcurrency = options.stage.maxConcurrency;
    this.#active = this.#floor;
  }

  /** Consumption is stopped, for any reason (an operator's pause, an open circuit breaker). */
  get paused(): boolean {
    return this.#paused;
  }

  /** Stopped by an operator (`conveyor pause`), as opposed to by the breaker. */
  get pausedByOperator(): boolean {
    return this.#holds.has(OPERATOR);
  }

  get maxConcurrency(): number {
    return this.#maxConcurrency;
  }

  /** Pollers working now (min(5, maxConcurrency) to maxConcurrency). */
  get activePollers(): number {
    return Math.min(this.#active, this.#maxConcurrency);
  }

  /** Records received by this mapping and not yet settled or handed back. */
  get held(): number {
    return this.#held;
  }

  start(): void {
    this.#started = true;
    this.#ensureLoops();
  }

  /** An operator's pause: messages wait in the queue (see `hold`). */
  pause(): void {
    this.hold(OPERATOR);
  }

  /** An operator's resume: consumption starts again unless something else holds it (an open breaker). */
  resume(): void {
    this.release(OPERATOR);
  }

  /**
   * Stops consuming for `reason` (an operator, the breaker): messages wait in the queue. Long polls
   * end now, what was gathered is handed back; running invocations finish. Consumption resumes once
   * every reason is released.
   */
  hold(reason: string): void {
    this.#holds.add(reason);
    if (this.#paused) return;
    this.#paused = true;
    this.#halt.abort(new Error('paused'));
    void this.#endReceives();
  }

  release(reason: string): void {
    this.#holds.delete(reason);
    if (!this.#paused || this.#holds.size > 0) return;
    this.#paused = false;
    if (!this.#stopped) {
      this.#halt = new AbortController();
      this.#abortReceives = new AbortController();
    }
    this.#signal();
  }

  /** Changes the most concurrent invocations (2–1000, as Lambda's ScalingConfig). */
  scale(maxConcurrency: number): void {
    this.#maxConcurrency = maxConcurrency;
    this.#options.function.maxConcurrency = maxConcurrency;
    this.#active = Math.min(Math.max(this.#active, this.#floor), maxConcurrency);
    this.#ensureLoops();
    this.#signal();
  }

  /**
   * Stops as a disabled event source does: no new receives; the long polls in flight end (their
   * answers are kept); what the pollers gathered and did not invoke is handed back (visible at
   * once); running invocations finish within their timeout and are settled. Idempotent.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stopped = true;
      this.#halt.abort(new Error('stopped'));
      this.#signal();
      await this.#endReceives();
      await Promise.all(this.#loops);
    })();
    return this.#stopping;
  }

  /** Lambda keeps five pollers (fewer if the maximum concurrency is lower) even when idle. */
  get #floor(): number {
    return Math.min(INITIAL_POLLERS, this.#maxConcurrency);
  }

  get #halted(): boolean {
    return this.#stopped || this.#paused;
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
      if (this.#paused || index >= this.activePollers) {
        await this.#wake.promise;
        continue;
      }
      let records: SQSRecord[];
      try {
        records = await this.#gather();
      } catch (error) {
        if (this.#halted) continue; // stopped or paused: the loop exits or parks
        this.#options.onError?.(error as Error, this.stage.key);
        await sleep(1000, this.#halt.signal);
        continue;
      }
      if (this.#halted) {
        await this.#handBack(records);
        continue;
      }
      if (records.length === 0) {
        // A whole long poll without a message: the newest poller above the floor retires.
        if (index >= this.#floor && index === this.#active - 1) this.#active--;
        continue;
      }
      if (records.length >= this.stage.batchSize) this.#scaleUp();
      try {
        await this.#invoke(records);
      } finally {
        this.#held -= records.length;
      }
    }
  }

  /** A full batch: messages are still available, so another poller joins (at Lambda's pace). */
  #scaleUp(): void {
    const now = Date.now();
    if (this.#active >= this.#maxConcurrency || now - this.#lastScaleUp < SCALE_UP_INTERVAL_MS) return;
    this.#active++;
    this.#lastScaleUp = now;
    this.#signal();
  }

  /** Long-polls for the first records, then fills the batch until it is full, the window closes, or the mapping halts. */
  async #gather(): Promise<SQSRecord[]> {
    const { batchSize, maxBatchingWindowSeconds } = this.stage;
    const records = await this.#receive(batchSize, RECEIVE_WAIT_SECONDS);
    if (records.length === 0) return records;
    const windowEnds = Date.now() + maxBatchingWindowSeconds * 1000;
    while (records.length < batchSize && !this.#halted) {
      const remaining = windowEnds - Date.now();
      if (remaining <= 0) break;
      try {
        // Whole seconds only for long polls; below a second, short polls with a pause.
        const more = await this.#receive(batchSize - records.length, remaining >= 1000 ? 1 : 0);
        records.push(...more);
        if (more.length === 0 && remaining < 1000) await sleep(Math.min(remaining, 50), this.#halt.signal);
      } catch (error) {
        // Records already received are in flight: deliver them (as Lambda finishes a batch it
        // started) rather than leave them hidden until their visibility timeout. The next poll
        // meets the error again (if it lasts) and reports it.
        if (!this.#halted) this.#options.onError?.(error as Error, this.stage.key);
        break;
      }
    }
    return records;
  }

  /** One ReceiveMessage; what it returns is held from then on. */
  async #receive(max: number, waitSeconds: number): Promise<SQSRecord[]> {
    const { sqs, queue, region } = this.#options;
    this.#receiving++;
    try {
      const records = await receiveBatch(sqs, queue, region, max, waitSeconds, this.#abortReceives.signal);
      this.#held += records.length;
      return records;
    } finally {
      this.#receiving--;
    }
  }

  /**
   * Ends the receives in flight without losing their answers: an aborted receive may already have
   * taken messages into flight on the server (the answer is then dropped, and the messages stay
   * hidden for a whole visibility timeout). So the emulator is asked to end the long polls (they
   * answer with what is ready, which the pollers hand back) until none is left; only if it cannot
   * (it is down) are they aborted.
   */
  async #endReceives(): Promise<void> {
    const abort = this.#abortReceives;
    const deadline = Date.now() + END_RECEIVES_TIMEOUT_MS;
    while (this.#receiving > 0 && this.#halted) {
      if (Date.now() > deadline) return abort.abort(new Error('the emulator did not end the long polls'));
      await endLongPolls(this.#options.queue.url).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Makes gathered records visible again at once: a stopped or paused event source keeps nothing. */
  async #handBack(records: SQSRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
      await releaseRecords(this.#options.sqs, this.#options.queue.url, records);
    } catch (error) {
      // They come back after their visibility timeout instead.
      this.#options.onError?.(
        new Error(`handing back ${records.length} records failed: ${(error as Error).message}`),
        this.stage.key,
      );
    } finally {
      this.#held -= records.length;
    }
  }

  async #invoke(records: SQSRecord[]): Promise<void> {
    const { sqs, queue, onBatch } = this.#options;
    const result = await this.#options.function.invoke({ Records: records });
    let settlement: ReturnType<typeof settleBatch> = result.ok
      ? settleBatch(records, result.response)
      : { kind: 'batch-failed', reason: result.message };
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
      ...(settlement.kind === 'batch-failed'
        ? { batchFailure: { kind: result.ok ? 'malformed-response' : result.kind, message: settlement.reason } }
        : {}),
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
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
