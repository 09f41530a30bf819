/**
 * The stage runtime: turns a stage's pure business function into a Lambda handler for SQS event
 * sources. Written once, used by every stage; it owns parsing, poison routing, idempotency,
 * forwarding, recording, retries with backoff, dead-lettering and telemetry. It knows messages,
 * items (an id and a partition), outcomes and stage settings — not what the items are.
 *
 * One invocation, in order (the pure steps are in batch.ts, the effects in stage-effects.ts):
 *   1. parse   every record; poison is dead-lettered at once, repeats in the batch done once
 *   2. skip    items the ledger already shows as done here or final (a hint: eventually consistent)
 *   3. work    the business function over the whole batch (the aggregator), before the work deadline
 *   4. forward results to the next queue, then record them (batch of steps, or the completion)
 *   5. dead-letter permanent failures and records out of retries, with the reason attached
 *   6. back off transient failures and report them in `batchItemFailures`; Lambda deletes the rest
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import {
  addFailure,
  classify,
  failTransiently,
  parseBatch,
  skipSeen,
  type MessageReader,
  type SeenItem,
  type WorkItem,
} from './batch.ts';
import { sqsClient } from '../aws/clients.ts';
import { readStageConfig, sdkTimeoutsOf, type StageConfig } from './environment.ts';
import { withInjectedFaults } from './fault-injection.ts';
import type { Outcome } from './outcome.ts';
import { SqsQueues, type Facts, type ProgressLedger, type Queues } from './ports.ts';
import {
  backOff,
  deadLetter,
  forwardResults,
  recordCompletions,
  recordSteps,
  type EffectContext,
} from './stage-effects.ts';
import { Tally } from './tally.ts';
import { createLogger, createMetrics, tracer, type Logger, type Metrics } from './telemetry.ts';
import type { StageName } from '../topology/model.ts';

/** What a stage is: its name, how it reads messages, and its pure business function. */
export interface StageDefinition<In, Out> extends MessageReader<In> {
  /** The stage's own name, as its handler module is named; its result travels under it. */
  readonly stage: StageName;
  /** Business logic over the whole batch: one outcome per input, in the same order. */
  readonly process: (batch: readonly In[]) => readonly Outcome<Out>[] | Promise<readonly Outcome<Out>[]>;
  /** Short id-only facts about a result, for the item's history. */
  readonly summarize: (value: Out) => Facts;
  /**
   * The message the next stage receives.
   * @default the input with this stage's result added under the stage's name
   */
  readonly forward?: (message: In, value: Out) => unknown;
  /** When the item entered the pipeline (ISO 8601): end-to-end latency is measured from it at the last stage. */
  readonly enteredAt?: (message: In) => string | undefined;
}

/** Collaborators of the runtime; all but the ledger default to the real ones built from the environment. */
export interface StageRuntimeOptions {
  readonly ledger: ProgressLedger;
  readonly config?: StageConfig;
  readonly queues?: Queues;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** Source of randomness for backoff jitter (and injected faults). */
  readonly random?: () => number;
  readonly now?: () => number;
}

export type StageHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * Time kept back from the work (lookups, business logic, forwarding) for the bookkeeping that must
 * happen before Lambda stops the invocation: recording, dead letters, backoffs, metrics.
 */
const RESERVE_SHARE = 0.2;
const MAX_RESERVE_MS = 3_000;

/**
 * Builds the Lambda handler of a stage. Call it at module scope so clients and configuration are
 * created once per execution environment.
 *
 * @example
 * // handlers/picking.ts (through the order domain's wiring, lib/orders/stages.ts)
 * export const handler = createStageHandler(pickingStage, { ledger });
 */
export function createStageHandler<In, Out>(
  definition: StageDefinition<In, Out>,
  options: StageRuntimeOptions,
): StageHandler {
  const config = options.config ?? readStageConfig(definition.stage);
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const logger = options.logger ?? createLogger({ pipeline: config.pipelineId, stage: config.stage });
  const metrics = options.metrics ?? createMetrics({ pipeline: config.pipelineId, stage: config.stage });
  const shared = {
    config,
    queues: options.queues ?? new SqsQueues(sqsClient(sdkTimeoutsOf(), tracer())),
    ledger: options.ledger,
    logger,
    now,
    random,
    summarize: definition.summarize,
    // Under the stage's own name (its handler's), which is what later stages' schemas read.
    forward:
      definition.forward ?? ((message: In, value: Out) => ({ ...(message as object), [definition.stage]: value })),
    enteredAt: definition.enteredAt ?? (() => undefined),
  };
  const stage: Stage<In, Out> = { definition, process: withInjectedFaults(definition.process, config.chaos, random) };

  return async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
    const started = now();
    if (!Array.isArray(event?.Records)) throw new TypeError('expected an SQS event with a Records array');
    logger.addContext(context);
    const remaining = context.getRemainingTimeInMillis();
    const ctx: EffectContext<In, Out> = { ...shared, tally: new Tally() };
    const failures = await processBatch(
      stage,
      ctx,
      event.Records,
      started + remaining - Math.min(MAX_RESERVE_MS, remaining * RESERVE_SHARE),
    );
    ctx.tally.publish(metrics, logger, now() - started);
    return { batchItemFailures: [...failures].map((itemIdentifier) => ({ itemIdentifier })) };
  };
}

/** A stage as the runtime runs it: its definition, and its business function with any injected faults. */
interface Stage<In, Out> {
  readonly definition: StageDefinition<In, Out>;
  readonly process: StageDefinition<In, Out>['process'];
}

/** One batch, step by step; returns the message ids to report as failures. */
async function processBatch<In, Out>(
  stage: Stage<In, Out>,
  ctx: EffectContext<In, Out>,
  records: SQSEvent['Records'],
  workEndsAt: number,
): Promise<Set<string>> {
  const { config, now, tally } = ctx;
  const started = now();
  const isLast = config.nextQueueUrl === undefined;
  tally.records = records.length;

  // 1–2. Parse, then skip what the ledger already shows as done.
  const parsed = parseBatch(records, stage.definition, config.pipelineId);
  tally.duplicates += parsed.repeats;
  const seen =
    now() < workEndsAt ? await lookUp(ctx, parsed.items, isLast) : new Map<string, SeenItem & { revivable: boolean }>();
  const { work, skipped } = skipSeen(parsed.items, seen);
  tally.duplicates += skipped;

  // 3. The business function over the whole batch, if there is still time to start it.
  const plan = classify(work, await runBusiness(stage, ctx, work, workEndsAt), config.maxReceiveCount);
  plan.deadLetters.push(...parsed.poison);

  // 4. Forward (only before the deadline), then record.
  const forwardable = now() < workEndsAt ? plan.done : [];
  for (const { item } of plan.done.slice(forwardable.length))
    addFailure(plan, failTransiently(item, 'the batch ran out of time before forwarding', config.maxReceiveCount));
  const forwarded = await forwardResults(ctx, { ...plan, done: forwardable });
  if (isLast) await recordCompletions(ctx, plan, forwarded);
  else await recordSteps(ctx, forwarded, new Set([...seen].filter(([, s]) => s.revivable).map(([id]) => id)));

  // 5–6. Dead letters and backoffs.
  const failures = new Set<string>();
  await deadLetter(ctx, plan.deadLetters, failures);
  await backOff(ctx, plan.retries, failures, (now() - started) / 1000 + config.batchingWindowSeconds);
  return failures;
}

/** The business function, raced against the work deadline: a slow batch fails cleanly instead of timing out. */
async function runBusiness<In, Out>(
  stage: Stage<In, Out>,
  ctx: EffectContext<In, Out>,
  work: readonly WorkItem<In>[],
  workEndsAt: number,
): Promise<readonly Outcome<Out>[]> {
  const { config, now, logger } = ctx;
  if (work.length === 0) return [];
  const failAll = (reason: string) => work.map((): Outcome<Out> => ({ ok: false, permanent: false, reason }));
  if (now() >= workEndsAt) return failAll('the batch ran out of time before its work could start');
  try {
    const outcomes = await beforeDeadline(
      Promise.resolve().then(() => stage.process(work.map((w) => w.message))),
      workEndsAt - now(),
    );
    if (outcomes.length !== work.length)
      throw new Error(`the ${config.stage} stage returned ${outcomes.length} outcomes for ${work.length} records`);
    return outcomes;
  } catch (error) {
    logger.error('stage function failed for the whole batch', {
      error: (error as Error).message,
      records: work.length,
    });
    return failAll(`${config.stage} failed: ${(error as Error).message}`);
  }
}

/**
 * What the ledger shows about the batch's items (eventually consistent): done here, final, or
 * dead-lettered at or before this stage (processing them now is a redrive that revives them).
 * Only an optimisation: a failed lookup costs work, never correctness.
 */
async function lookUp<In, Out>(
  ctx: EffectContext<In, Out>,
  items: readonly WorkItem<In>[],
  isLast: boolean,
): Promise<Map<string, SeenItem & { revivable: boolean }>> {
  const seen = new Map<string, SeenItem & { revivable: boolean }>();
  if (items.length === 0) return seen;
  const { config } = ctx;
  try {
    const found = await ctx.ledger.lookup(
      items.map((i) => i.id),
      config.tracking === 'full' && !isLast ? config.stage : undefined,
    );
    for (const [id, s] of found) {
      const final = s.state === 'delivered' || s.state === 'cancelled' || s.state === 'purged';
      const revivable = s.state === 'dead-lettered' && (s.deadPosition ?? Number.POSITIVE_INFINITY) <= config.position;
      seen.set(id, { done: s.done, final, revivable });
    }
  } catch (error) {
    ctx.logger.warn('status lookup failed; processing the batch without it', { error: (error as Error).message });
  }
  return seen;
}

/** Settles like `promise`, or rejects once `ms` have passed. */
async function beforeDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error('the batch ran out of time before the function timeout')),
      Math.max(0, ms),
    );
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
