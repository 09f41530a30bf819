/**
 * The effects of a stage invocation, in the order they run: forward results to the next queue,
 * record them in the ledger (a batch of step facts, or at the last stage the exactly-once completion),
 * dead-letter what failed for good, back off what may pass on retry. Each effect that was started is
 * awaited and counted for what it did — a deadline stops new work, it never abandons a call in flight.
 */
import {
  ATTR_DEAD_LETTER_KIND,
  ATTR_DEAD_LETTER_RECEIVE_COUNT,
  ATTR_DEAD_LETTER_REASON,
  ATTR_DEAD_LETTER_STAGE,
  ATTR_DEAD_LETTERED_AT,
  stringAttribute,
  traceHeaderOf,
  tracingAttributes,
  truncateReason,
} from './attributes.ts';
import { backoffSeconds } from './backoff.ts';
import {
  addFailure,
  failTransiently,
  receiveCountOf,
  type Classified,
  type DeadLetterPlan,
  type RetryPlan,
  type WorkItem,
} from './batch.ts';
import type { StageConfig } from './environment.ts';
import type { Facts, ProgressLedger, Queues, RecordResult } from './ports.ts';
import type { Tally } from './tally.ts';
import { LogMessage, type Logger } from './telemetry.ts';

/** What every effect works with. */
export interface EffectContext<In, Out> {
  readonly config: StageConfig;
  readonly queues: Queues;
  readonly ledger: ProgressLedger;
  readonly logger: Logger;
  readonly tally: Tally;
  readonly now: () => number;
  readonly random: () => number;
  readonly summarize: (value: Out) => Facts;
  readonly forward: (message: In, value: Out) => unknown;
  readonly enteredAt: (message: In) => string | undefined;
}

type Done<In, Out> = { readonly item: WorkItem<In>; readonly value: Out };
type Plan<In, Out> = Classified<In, Out>;

/** Forwards results to the next stage's queue; what could not be sent fails transiently. */
export async function forwardResults<In, Out>(
  ctx: EffectContext<In, Out>,
  plan: Plan<In, Out>,
): Promise<Done<In, Out>[]> {
  const { config } = ctx;
  if (!config.nextQueueUrl || plan.done.length === 0) return plan.done;
  const { unsent } = await ctx.queues.send(
    config.nextQueueUrl,
    plan.done.map(({ item, value }) => ({
      key: item.record.messageId,
      body: JSON.stringify(ctx.forward(item.message, value)),
      attributes: tracingAttributes(item.id, item.traceId),
      // The item's trace travels on: the next stage's invocation is linked to the trace that accepted it.
      traceHeader: traceHeaderOf(item.record),
    })),
  );
  return plan.done.filter(({ item }) => {
    const reason = unsent.get(item.record.messageId);
    if (reason !== undefined)
      addFailure(
        plan,
        failTransiently(
          item,
          `forwarding to ${config.pipelineId}/${config.nextStage} failed: ${reason}`,
          config.maxReceiveCount,
        ),
      );
    return reason === undefined;
  });
}

/**
 * Records what a middle stage finished: its step facts in one batch write (with `full` tracking),
 * and the revival of items this stage took out of its dead-letter queue again. A step that could not
 * be recorded only leaves a gap in the history: the item has moved on.
 */
export async function recordSteps<In, Out>(
  ctx: EffectContext<In, Out>,
  forwarded: readonly Done<In, Out>[],
  revivable: ReadonlySet<string>,
): Promise<void> {
  const { config, tally } = ctx;
  tally.succeeded += forwarded.length;
  if (forwarded.length === 0) return;
  const at = new Date(ctx.now()).toISOString();
  if (config.tracking === 'full') {
    const steps = forwarded.map(({ item, value }) => ({
      id: item.id,
      partition: item.partition,
      stage: config.stage,
      position: config.position,
      next: config.nextStage as string,
      at,
      detail: ctx.summarize(value),
    }));
    let error = 'the table kept them unprocessed';
    const failed = await settle(
      () => ctx.ledger.recordSteps(steps),
      (message) => ((error = message), steps.map((s) => s.id)),
    );
    if (failed.length > 0)
      ctx.logger.warn('could not record some steps; the orders move on, their history misses this stage', {
        orders: failed.length,
        error,
      });
  }
  const revive = forwarded
    .filter(({ item }) => revivable.has(item.id))
    .map(({ item }) => ({ id: item.id, position: config.position, at }));
  if (revive.length === 0) return;
  const results = await settle(
    () => ctx.ledger.revive(revive),
    (message) => revive.map((): RecordResult => ({ kind: 'error', message })),
  );
  tally.itemsRevived += results.filter((r) => r.kind === 'applied').length;
}

/**
 * The last stage's record of each item — the exactly-once write. Applied: done (and counted);
 * already completed: a duplicate; cancelled or purged first: acknowledged without effect; failed:
 * retried like any transient failure (the message stays until the record is written).
 */
export async function recordCompletions<In, Out>(
  ctx: EffectContext<In, Out>,
  plan: Plan<In, Out>,
  done: readonly Done<In, Out>[],
): Promise<void> {
  if (done.length === 0) return;
  const { config, tally } = ctx;
  const at = new Date(ctx.now()).toISOString();
  const entries = done.map(({ item, value }) => ({
    id: item.id,
    partition: item.partition,
    stage: config.stage,
    at,
    result: ctx.summarize(value),
  }));
  const results = await settle(
    () => ctx.ledger.complete(entries),
    (message) => entries.map((): RecordResult => ({ kind: 'error', message })),
  );
  results.forEach((result, i) => {
    const { item } = done[i] as Done<In, Out>;
    if (result.kind === 'applied') {
      tally.succeeded++;
      if (result.previous === 'dead-lettered') tally.itemsRevived++;
      if (result.previous === undefined) tally.itemsDiscovered++;
      const entered = Date.parse(ctx.enteredAt(item.message) ?? '');
      if (Number.isFinite(entered)) tally.latenciesMs.push(Math.max(0, ctx.now() - entered));
    } else if (result.kind === 'error') {
      addFailure(
        plan,
        failTransiently(item, `recording the ${config.stage} result failed: ${result.message}`, config.maxReceiveCount),
      );
    } else tally.duplicates++;
  });
}

/**
 * Sends what failed for good to the stage's dead-letter queue, with why, then marks the items
 * dead-lettered. A dead letter that could not be sent stays in the queue (reported as a failure):
 * SQS's redrive policy moves it after maxReceiveCount, and the dead-letter auditor records it.
 */
export async function deadLetter<In, Out>(
  ctx: EffectContext<In, Out>,
  plans: readonly DeadLetterPlan[],
  failures: Set<string>,
): Promise<void> {
  if (plans.length === 0) return;
  const { config, tally, logger } = ctx;
  const at = new Date(ctx.now()).toISOString();
  const { sent, unsent } = await ctx.queues.send(
    config.deadLetterQueueUrl,
    // A dead letter keeps its trace header: once redriven, the item's trace goes on where it stopped.
    plans.map((d) => ({
      key: d.record.messageId,
      body: d.record.body,
      attributes: deadLetterAttributes(config, d, at),
      traceHeader: traceHeaderOf(d.record),
    })),
  );
  for (const d of plans) {
    const reason = unsent.get(d.record.messageId);
    if (reason === undefined) continue;
    failures.add(d.record.messageId);
    logger.error('could not send a dead letter; leaving the record to the queue redrive policy', {
      messageId: d.record.messageId,
      orderId: d.id,
      error: reason,
    });
  }
  const delivered = plans.filter((d) => sent.has(d.record.messageId));
  tally.deadLettered += delivered.length;
  for (const d of delivered) {
    logger.error(LogMessage.recordDeadLettered, {
      orderId: d.id,
      messageId: d.record.messageId,
      kind: d.kind,
      reason: d.reason,
      receiveCount: receiveCountOf(d.record),
      traceId: d.traceId,
    });
  }
  const marked = delivered.filter((d): d is DeadLetterPlan & { id: string } => d.id !== undefined);
  const deaths = marked.map((d) => ({
    id: d.id,
    ...(d.partition ? { partition: d.partition } : {}),
    stage: config.stage,
    position: config.position,
    reason: truncateReason(d.reason),
    kind: d.kind,
    at,
    messageId: sent.get(d.record.messageId) as string,
  }));
  const results = await settle(
    () => ctx.ledger.deadLetter(deaths),
    (message) => deaths.map((): RecordResult => ({ kind: 'error', message })),
  );
  results.forEach((result, i) => {
    if (result.kind === 'applied' && result.previous !== 'dead-lettered') tally.itemsDeadLettered++;
    if (result.kind === 'applied' && result.previous === undefined) tally.itemsDiscovered++;
    if (result.kind === 'error')
      logger.error('could not mark the order dead-lettered; the dead-letter auditor will', {
        orderId: marked[i]?.id,
        error: result.message,
      });
  });
}

function deadLetterAttributes(config: StageConfig, d: DeadLetterPlan, at: string) {
  return {
    ...(d.id ? tracingAttributes(d.id, d.traceId ?? d.record.messageId) : {}),
    [ATTR_DEAD_LETTER_REASON]: stringAttribute(truncateReason(d.reason)),
    [ATTR_DEAD_LETTER_KIND]: stringAttribute(d.kind),
    [ATTR_DEAD_LETTER_STAGE]: stringAttribute(`${config.pipelineId}/${config.stage}`),
    [ATTR_DEAD_LETTER_RECEIVE_COUNT]: stringAttribute(String(receiveCountOf(d.record))),
    [ATTR_DEAD_LETTERED_AT]: stringAttribute(at),
  };
}

/**
 * Transient failures: each record's visibility becomes its backoff (from its receive count, within
 * SQS's 12-hour limit), and it is reported as a failure so Lambda leaves it in the queue.
 */
export async function backOff<In, Out>(
  ctx: EffectContext<In, Out>,
  retries: readonly RetryPlan<In>[],
  failures: Set<string>,
  heldSeconds: number,
): Promise<void> {
  if (retries.length === 0) return;
  const { config, logger } = ctx;
  const changes = retries.map(({ item, reason }) => {
    const seconds = backoffSeconds(item.receiveCount, config.backoff, ctx.random, heldSeconds);
    logger.warn(LogMessage.recordRetried, {
      orderId: item.id,
      receiveCount: item.receiveCount,
      retryInSeconds: seconds,
      reason,
      traceId: item.traceId,
    });
    failures.add(item.record.messageId);
    return { receiptHandle: item.record.receiptHandle, seconds };
  });
  ctx.tally.retried += retries.length;
  const unchanged = await ctx.queues.changeVisibility(config.queueUrl, changes);
  if (unchanged > 0)
    logger.warn('could not set the backoff of some records; they return after the queue visibility timeout', {
      records: unchanged,
    });
}

/** Runs a ledger call; a thrown error becomes the per-item failure `onError` builds. */
async function settle<T>(call: () => Promise<T[]>, onError: (message: string) => T[]): Promise<T[]> {
  try {
    return await call();
  } catch (error) {
    return onError((error as Error).message);
  }
}
