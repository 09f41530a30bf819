/**
 * The stage runtime: turns a stage's pure business function into a Lambda handler for SQS
 * event sources. Written once, used by every stage; it owns parsing, poison routing,
 * idempotency, forwarding, status, retries with backoff, dead-lettering and telemetry.
 *
 * One invocation, in order:
 *  1. parse and validate every record; unreadable ones (poison) are dead-lettered at once;
 *  2. skip redeliveries: duplicate orders within the batch, and (with `full` tracking) orders
 *     whose status shows this stage already finished with them;
 *  3. run the business function over the whole batch (the aggregator), within a deadline;
 *  4. forward results to the next queue (`SendMessageBatch`), then record status (conditional);
 *  5. dead-letter permanent failures and records out of retries, with the reason attached;
 *  6. give transient failures a backoff (`ChangeMessageVisibilityBatch`) and report them in
 *     `batchItemFailures`, so Lambda deletes everything else.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { $ZodType } from 'zod/v4/core';
import { safeParse } from 'zod/mini';
import type { StageMessage } from '../domain/messages.ts';
import { ORDER_ID_PATTERN } from '../domain/order.ts';
import type { Outcome } from '../domain/outcome.ts';
import { hasReached, statusAfter } from '../domain/status.ts';
import { OrderStatusStore, type WriteResult } from '../status/order-status-store.ts';
import { STAGE_NAMES, type StageName } from '../topology/model.ts';
import {
  ATTR_DEAD_LETTER_KIND,
  ATTR_DEAD_LETTER_RECEIVE_COUNT,
  ATTR_DEAD_LETTER_REASON,
  ATTR_DEAD_LETTER_STAGE,
  ATTR_DEAD_LETTERED_AT,
  ATTR_ORDER_ID,
  ATTR_TRACE_ID,
  stringAttribute,
  tracingAttributes,
  truncateReason,
  type DeadLetterKind,
} from './attributes.ts';
import { backoffSeconds } from './backoff.ts';
import { CHAOS_REASON } from './chaos.ts';
import { documentClient, sqsClient } from './clients.ts';
import { readStageConfig, type StageConfig } from './environment.ts';
import { changeVisibility, sendMessages } from './sqs.ts';
import { createLogger, createMetrics, MetricUnit, StageMetric, type Logger, type Metrics } from './telemetry.ts';

/** What a stage is: its name, its input schema and its pure business function. */
export interface StageDefinition<In extends StageMessage, Out> {
  readonly stage: StageName;
  /** Schema of the message body this stage accepts; anything else is poison. */
  readonly input: $ZodType<In>;
  /** Business logic over the whole batch: one outcome per input, in the same order. */
  readonly process: (batch: readonly In[]) => readonly Outcome<Out>[] | Promise<readonly Outcome<Out>[]>;
  /** Short id-only facts about a result, for the order's status history. */
  readonly summarize: (value: Out) => Record<string, string | number>;
}

/** Collaborators of the runtime; each defaults to the real one built from the environment. */
export interface StageRuntimeOptions {
  readonly config?: StageConfig;
  readonly sqs?: SQSClient;
  readonly store?: OrderStatusStore;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** Source of randomness for backoff jitter. */
  readonly random?: () => number;
  readonly now?: () => number;
}

export type StageHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * Time kept back from the work (lookups, business logic, forwarding, status writes) for the
 * bookkeeping that must happen before Lambda stops the invocation: dead letters, backoffs, metrics.
 */
const RESERVE_SHARE = 0.2;
const MAX_RESERVE_MS = 3_000;

interface Received<In> {
  readonly record: SQSRecord;
  readonly message: In;
  readonly orderId: string;
  readonly warehouseId: string;
  readonly traceId: string;
  readonly receiveCount: number;
}

interface DeadLetter {
  readonly record: SQSRecord;
  readonly kind: DeadLetterKind;
  readonly reason: string;
  readonly orderId?: string;
  readonly warehouseId?: string;
  readonly traceId?: string;
}

/**
 * Builds the Lambda handler of a stage. Call it at module scope so clients and configuration are
 * created once per execution environment.
 *
 * @example
 * // handlers/picking.ts
 * export const handler = createStageHandler({
 *   stage: 'picking', input: PickingInput, process: planPickWave, summarize: summarizePickList,
 * });
 */
export function createStageHandler<In extends StageMessage, Out>(
  definition: StageDefinition<In, Out>,
  options: StageRuntimeOptions = {},
): StageHandler {
  const config = options.config ?? readStageConfig(definition.stage);
  const sqs = options.sqs ?? sqsClient();
  const store = options.store ?? new OrderStatusStore(documentClient(), config.tableName);
  const logger = options.logger ?? createLogger({ pipeline: config.pipelineId, stage: config.stage });
  const metrics = options.metrics ?? createMetrics({ pipeline: config.pipelineId, stage: config.stage });
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const nextStage = STAGE_NAMES[STAGE_NAMES.indexOf(config.stage) + 1];
  const isLastStage = nextStage === undefined;
  const target = statusAfter(config.stage);
  const stageKey = `${config.pipelineId}/${config.stage}`;

  async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
    const started = now();
    if (!Array.isArray(event?.Records)) throw new TypeError('expected an SQS event with a Records array');
    logger.addContext(context);
    const remaining = context.getRemainingTimeInMillis();
    const workDeadline = deadline(remaining - Math.min(MAX_RESERVE_MS, remaining * RESERVE_SHARE), 'the batch ran out of time before the function timeout');
    const finalDeadline = deadline(remaining - Math.min(250, remaining * 0.05), 'the invocation reached its timeout');
    try {
      return await processBatch(event, workDeadline.signal, finalDeadline.signal, started);
    } finally {
      workDeadline.clear();
      finalDeadline.clear();
    }
  }

  async function processBatch(event: SQSEvent, workSignal: AbortSignal, finalSignal: AbortSignal, started: number): Promise<SQSBatchResponse> {
    await injectBatchChaos(config.chaos, random, workSignal);
    const failures = new Set<string>();
    const retries: { received: Received<In>; reason: string }[] = [];
    const deadLetters: DeadLetter[] = [];
    let duplicates = 0;
    let succeeded = 0;
    let revived = 0;
    let ordersDeadLettered = 0;
    let discovered = 0;
    const isNew = (result: WriteResult) => result.kind === 'applied' && result.previous === undefined && !result.late;

    /** A record failed: retried with backoff, or dead-lettered once it has used its receives. */
    const fail = (received: Received<In>, reason: string): void => {
      if (received.receiveCount >= config.maxReceiveCount) {
        deadLetters.push({ ...identity(received), kind: 'exhausted', reason: `${reason} (gave up after ${received.receiveCount} attempts)` });
      } else {
        retries.push({ received, reason });
      }
    };

    // 1. Parse. Poison never reaches business logic and is never retried.
    const batch: Received<In>[] = [];
    const seen = new Set<string>();
    for (const record of event.Records) {
      const parsed = parseRecord(record, definition.input, config.pipelineId);
      if ('reason' in parsed) {
        deadLetters.push({ record, kind: 'poison', ...parsed });
        continue;
      }
      // 2a. The same order twice in one batch: one of them is enough.
      if (seen.has(parsed.orderId)) {
        duplicates++;
        continue;
      }
      seen.add(parsed.orderId);
      batch.push(parsed);
    }

    // 2b. Orders this stage already finished with (a redelivery after success) are acknowledged.
    let work = batch;
    if (config.tracking === 'full' && batch.length > 0) {
      try {
        const known = await store.summaries(batch.map((r) => r.orderId), workSignal);
        work = batch.filter((r) => !hasReached(known.get(r.orderId)?.status, target));
        duplicates += batch.length - work.length;
      } catch (error) {
        // Only an optimisation: the conditional status writes still refuse a second transition.
        logger.warn('status lookup failed; processing the batch without it', { error: (error as Error).message });
      }
    }

    // Fault injection (CONVEYOR_CHAOS): chosen records fail transiently, before any work is done.
    if (config.chaos.fail > 0) {
      work = work.filter((received) => {
        if (random() >= config.chaos.fail) return true;
        fail(received, CHAOS_REASON);
        return false;
      });
    }

    // 3. Business logic over the whole batch, within the time left.
    let outcomes: readonly Outcome<Out>[] = [];
    if (work.length > 0) {
      try {
        outcomes = await withDeadline(Promise.resolve().then(() => definition.process(work.map((r) => r.message))), workSignal);
        if (outcomes.length !== work.length) {
          throw new Error(`the ${config.stage} stage returned ${outcomes.length} outcomes for ${work.length} records`);
        }
      } catch (error) {
        logger.error('stage function failed for the whole batch', { error: (error as Error).message, records: work.length });
        outcomes = work.map(() => ({ ok: false, permanent: false, reason: `${config.stage} failed: ${(error as Error).message}` }));
      }
    }
    const done: { received: Received<In>; value: Out }[] = [];
    work.forEach((received, i) => {
      const outcome = outcomes[i] as Outcome<Out>;
      if (outcome.ok) done.push({ received, value: outcome.value });
      else if (outcome.permanent) deadLetters.push({ ...identity(received), kind: 'rejected', reason: outcome.reason });
      else fail(received, outcome.reason);
    });

    // 4a. Forward before recording status: a crash in between re-runs the stage (a duplicate the
    // next stage skips), never loses the order.
    let forwarded = done;
    if (config.nextQueueUrl && done.length > 0) {
      const unsent = await sendMessages(
        sqs,
        config.nextQueueUrl,
        done.map(({ received, value }) => ({
          key: received.record.messageId,
          body: JSON.stringify({ ...received.message, [config.stage]: value }),
          attributes: tracingAttributes(received.orderId, received.traceId),
        })),
        { signal: workSignal },
      );
      forwarded = done.filter(({ received }) => {
        const reason = unsent.get(received.record.messageId);
        if (reason !== undefined) fail(received, `forwarding to ${config.pipelineId}/${nextStage} failed: ${reason}`);
        return reason === undefined;
      });
    }

    // 4b. Status. At the last stage this conditional write *is* the delivery record, so it runs at
    // every tracking level and a failed write is retried; elsewhere it is progress reporting.
    if (forwarded.length > 0 && (isLastStage || config.tracking === 'full')) {
      const at = new Date(now()).toISOString();
      const results = await store.advance(
        forwarded.map(({ received, value }) => {
          const facts = definition.summarize(value);
          return { orderId: received.orderId, warehouseId: received.warehouseId, by: config.stage, at, detail: facts, ...(isLastStage ? { delivery: facts } : {}) };
        }),
        workSignal,
      );
      results.forEach((result, i) => {
        const { received } = forwarded[i] as (typeof forwarded)[number];
        if (result.kind === 'applied') {
          succeeded++;
          if (result.previous === 'dead-lettered') revived++;
          if (isNew(result)) discovered++;
          if (isLastStage) metrics.addMetric(StageMetric.OrderLatency, MetricUnit.Milliseconds, Math.max(0, now() - Date.parse(received.message.acceptedAt)));
        } else if (result.kind === 'already-done') duplicates++;
        else if (isLastStage) fail(received, `recording the delivery failed: ${result.message}`);
        else {
          succeeded++;
          logger.warn('status write failed; the order moves on and a later stage records its progress', { orderId: received.orderId, error: result.message });
        }
      });
    } else {
      succeeded += forwarded.length;
    }

    // 5. Dead letters: the message goes to the DLQ with its reason first (it must not be lost),
    // then the order is marked dead-lettered.
    let deadLettered = 0;
    if (deadLetters.length > 0) {
      const at = new Date(now()).toISOString();
      const unsent = await sendMessages(
        sqs,
        config.deadLetterQueueUrl,
        deadLetters.map((d) => ({
          key: d.record.messageId,
          body: d.record.body,
          attributes: {
            ...(d.orderId ? tracingAttributes(d.orderId, d.traceId ?? d.record.messageId) : {}),
            [ATTR_DEAD_LETTER_REASON]: stringAttribute(truncateReason(d.reason)),
            [ATTR_DEAD_LETTER_KIND]: stringAttribute(d.kind),
            [ATTR_DEAD_LETTER_STAGE]: stringAttribute(stageKey),
            [ATTR_DEAD_LETTER_RECEIVE_COUNT]: stringAttribute(String(receiveCountOf(d.record))),
            [ATTR_DEAD_LETTERED_AT]: stringAttribute(at),
          },
        })),
        { signal: finalSignal },
      );
      const sent = deadLetters.filter((d) => {
        const reason = unsent.get(d.record.messageId);
        if (reason === undefined) return true;
        // Left in the queue: SQS's redrive policy moves it to the DLQ after maxReceiveCount.
        failures.add(d.record.messageId);
        logger.error('could not send a dead letter; leaving the record to the queue redrive policy', { messageId: d.record.messageId, orderId: d.orderId, error: reason });
        return false;
      });
      deadLettered = sent.length;
      for (const d of sent) {
        logger.error('record dead-lettered', { orderId: d.orderId, messageId: d.record.messageId, kind: d.kind, reason: d.reason, receiveCount: receiveCountOf(d.record), traceId: d.traceId });
      }
      const marked = sent.filter((d): d is DeadLetter & { orderId: string } => d.orderId !== undefined);
      const results = await store.deadLetter(
        marked.map((d) => ({ orderId: d.orderId, ...(d.warehouseId ? { warehouseId: d.warehouseId } : {}), stage: config.stage, reason: truncateReason(d.reason), at })),
        finalSignal,
      );
      results.forEach((result, i) => {
        if (result.kind === 'applied' && result.previous !== 'dead-lettered') ordersDeadLettered++;
        if (isNew(result)) discovered++;
        if (result.kind === 'error') logger.error('could not mark the order dead-lettered', { orderId: marked[i]?.orderId, error: result.message });
      });
    }

    // 6. Transient failures: back off, then let Lambda return them to the queue.
    if (retries.length > 0) {
      const changes = retries.map(({ received, reason }) => {
        const seconds = backoffSeconds(received.receiveCount, config.backoff, random);
        logger.warn('record failed; will retry', { orderId: received.orderId, receiveCount: received.receiveCount, retryInSeconds: seconds, reason, traceId: received.traceId });
        failures.add(received.record.messageId);
        return { receiptHandle: received.record.receiptHandle, seconds };
      });
      const unchanged = await changeVisibility(sqs, config.queueUrl, changes, finalSignal);
      if (unchanged > 0) logger.warn('could not set the backoff of some records; they return after the queue visibility timeout', { records: unchanged });
    }

    const records = event.Records.length;
    metrics.addMetric(StageMetric.Records, MetricUnit.Count, records);
    metrics.addMetric(StageMetric.BatchSize, MetricUnit.Count, records);
    metrics.addMetric(StageMetric.Succeeded, MetricUnit.Count, succeeded);
    metrics.addMetric(StageMetric.Failed, MetricUnit.Count, retries.length);
    metrics.addMetric(StageMetric.DeadLettered, MetricUnit.Count, deadLettered);
    metrics.addMetric(StageMetric.Duplicates, MetricUnit.Count, duplicates);
    metrics.addMetric(StageMetric.OrdersDeadLettered, MetricUnit.Count, ordersDeadLettered);
    metrics.addMetric(StageMetric.OrdersRevived, MetricUnit.Count, revived);
    metrics.addMetric(StageMetric.OrdersDiscovered, MetricUnit.Count, discovered);
    const durationMs = now() - started;
    metrics.addMetric(StageMetric.BatchDuration, MetricUnit.Milliseconds, durationMs);
    metrics.publishStoredMetrics();
    logger.info('batch processed', { records, succeeded, retried: retries.length, deadLettered, duplicates, durationMs });

    return { batchItemFailures: [...failures].map((itemIdentifier) => ({ itemIdentifier })) };
  }

  return handler;
}

function identity<In>(received: Received<In>): Pick<DeadLetter, 'record' | 'orderId' | 'warehouseId' | 'traceId'> {
  return { record: received.record, orderId: received.orderId, warehouseId: received.warehouseId, traceId: received.traceId };
}

function receiveCountOf(record: SQSRecord): number {
  const count = Number(record.attributes?.ApproximateReceiveCount);
  return Number.isFinite(count) && count >= 1 ? count : 1;
}

/**
 * Reads one record: JSON, then the stage's schema, then the pipeline check. On failure returns
 * the reason and whatever identity could be recovered, so the dead letter can name the order.
 */
function parseRecord<In extends StageMessage>(
  record: SQSRecord,
  schema: $ZodType<In>,
  pipelineId: string,
): Received<In> | { reason: string; orderId?: string; warehouseId?: string; traceId?: string } {
  const traceId = record.messageAttributes?.[ATTR_TRACE_ID]?.stringValue ?? record.messageId;
  const attributeOrderId = validOrderId(record.messageAttributes?.[ATTR_ORDER_ID]?.stringValue);
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch (error) {
    return { reason: `body is not valid JSON (${jsonErrorWhere(error as Error, record.body)})`, traceId, ...(attributeOrderId ? { orderId: attributeOrderId } : {}) };
  }
  const parsed = safeParse(schema, body);
  if (!parsed.success) {
    const claimed = (body as { order?: { orderId?: unknown; warehouseId?: unknown } } | null)?.order;
    const orderId = validOrderId(claimed?.orderId) ?? attributeOrderId;
    const problems = parsed.error.issues.slice(0, 5).map((i) => `${i.path.length > 0 ? i.path.join('.') : 'body'}: ${i.message}`);
    return { reason: `invalid message: ${problems.join('; ')}`, traceId, ...(orderId ? { orderId } : {}) };
  }
  const message = parsed.data;
  if (message.order.warehouseId !== pipelineId) {
    return { reason: `order for warehouse ${message.order.warehouseId} arrived in pipeline ${pipelineId}`, traceId, orderId: message.order.orderId };
  }
  return { record, message, orderId: message.order.orderId, warehouseId: message.order.warehouseId, traceId, receiveCount: receiveCountOf(record) };
}

/**
 * Where JSON parsing failed, without quoting the input: V8's messages repeat part of the body,
 * and reasons end up in logs and queue attributes, where order contents must not.
 */
function jsonErrorWhere(error: Error, body: string): string {
  const position = /position (\d+)/.exec(error.message)?.[1];
  if (position !== undefined) return `at character ${position} of ${body.length}`;
  return body.trim() === '' ? 'the body is empty' : /Unexpected end/.test(error.message) ? `it ends early, after ${body.length} characters` : `${body.length} characters`;
}

function validOrderId(value: unknown): string | undefined {
  return typeof value === 'string' && ORDER_ID_PATTERN.test(value) ? value : undefined;
}

/**
 * Batch-level fault injection: a stall blocks the event loop (no timer, no deadline can end it)
 * until the function timeout has passed, as a hung dependency call or a runaway loop would; a
 * delay waits, and is cut short by the work deadline like any slow call.
 */
async function injectBatchChaos(chaos: StageConfig['chaos'], random: () => number, workSignal: AbortSignal): Promise<void> {
  if (chaos.stall > 0 && random() < chaos.stall) {
    logStall();
    const until = Date.now() + STALL_MS;
    while (Date.now() < until) {
      // Busy on purpose: only the platform's timeout ends this invocation.
    }
  }
  if (chaos.delay.probability > 0 && random() < chaos.delay.probability) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, chaos.delay.ms);
      workSignal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }
}

/** Longer than any function timeout (900 s max); in practice the platform stops it first. */
const STALL_MS = 15 * 60 * 1000 + 5_000;

function logStall(): void {
  process.stderr.write('CONVEYOR_CHAOS: stalling this invocation past its timeout\n');
}

/** An abort signal that fires after `ms` with `reason`; `clear()` releases its timer. */
function deadline(ms: number, reason: string): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(reason)), Math.max(0, ms));
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

/** Settles like `promise`, or rejects when `signal` fires first: a slow batch fails cleanly instead of timing out. */
async function withDeadline<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) throw signal.reason;
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
