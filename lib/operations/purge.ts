/**
 * Purging a stage: its queue's messages are deleted (SQS PurgeQueue: ready, in flight and delayed),
 * and every order the ledger shows waiting in that stage is closed as `purged` — who, when, which
 * stage — so it settles instead of staying in flight forever. Call it with the stage's event source
 * paused and idle: nothing of the stage is then mid-way. An order that reaches the stage after the
 * purge is purged too (its late message is acknowledged without work by every stage: it is final).
 */
import { PurgeQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';

export interface PurgeLedger {
  waitingIn(pipelineId: string, stage: string): Promise<string[]>;
  close(
    entries: readonly { id: string; state: 'purged'; stage: string; by: string; at: string }[],
  ): Promise<readonly { readonly kind: string }[]>;
}

export interface PurgeReport {
  /** Orders closed as purged. */
  readonly orders: number;
}

/**
 * @example
 * const { orders } = await purgeStage(sqs, ledger, { pipelineId: 'wh-1', stage: 'packing', queueUrl }, 'operator@host');
 */
export async function purgeStage(
  sqs: SQSClient,
  ledger: PurgeLedger,
  target: { pipelineId: string; stage: string; queueUrl: string },
  by: string,
): Promise<PurgeReport> {
  await sqs.send(new PurgeQueueCommand({ QueueUrl: target.queueUrl }));
  const ids = await ledger.waitingIn(target.pipelineId, target.stage);
  const at = new Date().toISOString();
  const results = await ledger.close(ids.map((id) => ({ id, state: 'purged' as const, stage: target.stage, by, at })));
  return { orders: results.filter((r) => r.kind === 'applied').length };
}
