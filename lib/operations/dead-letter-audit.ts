/**
 * The dead-letter auditor: every road to a DLQ ends in `dead-lettered` with a reason. A stage marks
 * the orders it dead-letters itself, but SQS's redrive policy also moves messages — when a function
 * times out, crashes or is throttled on a message's last receive, or could not send its dead letter —
 * and nobody is told. The auditor reads each DLQ without consuming it (peek) and records every dead
 * letter the ledger has not noted yet. It runs on a schedule: every minute in the cloud (EventBridge),
 * every few seconds locally; a dead letter is recorded once, whoever reports it first.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetterEntry } from '../runtime/ports.ts';
import {
  peekDeadLetters,
  REDRIVE_POLICY_KIND,
  redrivePolicyReason as policyReason,
  type DeadLetter,
} from './dead-letters.ts';

/** One stage's dead-letter queue, as the auditor reads it. */
export interface AuditedQueue {
  readonly pipelineId: string;
  readonly stage: string;
  /** The stage's place in its pipeline, from 1. */
  readonly position: number;
  readonly deadLetterQueueUrl: string;
  /** The queue's maxReceiveCount: after it, SQS's redrive policy moved the message. */
  readonly maxReceiveCount: number;
}

/** What the auditor needs of the ledger. */
export interface AuditLedger {
  notedDeadLetters(orderIds: readonly string[]): Promise<ReadonlyMap<string, ReadonlySet<string>>>;
  deadLetter(
    entries: readonly (DeadLetterEntry & { readonly messageId: string })[],
  ): Promise<readonly { readonly kind: string; readonly previous?: string }[]>;
}

/** How many dead letters one run reads per queue at most (the rest wait for the next run). */
export const MAX_AUDITED_PER_QUEUE = 1_000;

export interface AuditReport {
  /** Dead letters read, per stage key. */
  readonly read: number;
  /** Dead letters the ledger had not noted, now recorded. */
  readonly recorded: number;
  /** Orders that became dead-lettered by this run (they were in flight). */
  readonly ordersDeadLettered: number;
  /** Orders the ledger had never seen (put straight on a queue) whose record this run created. */
  readonly ordersDiscovered: number;
  /** The dead letters recorded, one per order and message (for a log line each: `conveyor trace` shows them). */
  readonly recordedLetters: readonly {
    readonly orderId: string;
    readonly messageId: string;
    readonly kind: string;
    readonly reason: string;
  }[];
}

/** Why SQS itself moved a message: it carries no reason of Conveyor's. */
export function redrivePolicyReason(queue: AuditedQueue): string {
  return policyReason(queue.stage, queue.maxReceiveCount);
}

/**
 * Records the dead letters of one queue that the ledger has not noted.
 *
 * @example
 * const report = await auditDeadLetters(sqs, ledger, queue, new Date().toISOString());
 */
export async function auditDeadLetters(
  sqs: SQSClient,
  ledger: AuditLedger,
  queue: AuditedQueue,
  at: string,
): Promise<AuditReport> {
  const letters = await peekDeadLetters(sqs, queue.deadLetterQueueUrl, MAX_AUDITED_PER_QUEUE);
  const withOrder = letters.filter((l): l is DeadLetter & { orderId: string } => l.orderId !== undefined);
  const noted =
    withOrder.length > 0
      ? await ledger.notedDeadLetters(withOrder.map((l) => l.orderId))
      : new Map<string, ReadonlySet<string>>();
  const missing = withOrder.filter((l) => !noted.get(l.orderId)?.has(l.messageId));
  const deaths = missing.map((l) => ({
    id: l.orderId,
    partition: queue.pipelineId,
    stage: queue.stage,
    position: queue.position,
    reason: l.reason ?? redrivePolicyReason(queue),
    kind: l.kind ?? REDRIVE_POLICY_KIND,
    at,
    messageId: l.messageId,
  }));
  const results = await ledger.deadLetter(deaths);
  const applied = results.filter((r) => r.kind === 'applied');
  return {
    read: letters.length,
    recorded: applied.length,
    ordersDeadLettered: applied.filter((r) => r.previous !== 'dead-lettered').length,
    ordersDiscovered: applied.filter((r) => r.previous === undefined).length,
    recordedLetters: deaths
      .filter((_, i) => results[i]?.kind === 'applied')
      .map((d) => ({ orderId: d.id, messageId: d.messageId, kind: d.kind, reason: d.reason })),
  };
}
