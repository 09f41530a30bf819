/**
 * One turn of a Lambda SQS event source mapping, done locally: receive a batch, invoke the
 * handler with the event Lambda would build, and settle the batch as Lambda does — delete what
 * succeeded, leave reported failures (and everything, when the invocation fails) to reappear
 * after their visibility timeout.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { chunkByCount, SQS_MAX_BATCH_ENTRIES } from '../aws/chunking.ts';
import { END_LONG_POLLS_PATH } from './emulator-protocol.ts';
import { toSqsRecord } from './lambda-events.ts';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

/** How Lambda reads a handler's result for a batch. */
export type BatchSettlement =
  | { readonly kind: 'partial'; readonly succeeded: readonly SQSRecord[]; readonly failed: readonly SQSRecord[] }
  | { readonly kind: 'batch-failed'; readonly reason: string };

/**
 * Interprets a handler's response with Lambda's `ReportBatchItemFailures` rules: an empty or
 * absent response means all succeeded; listed identifiers failed; a malformed response (not an
 * object, an identifier that is empty or not in the batch) fails the whole batch.
 */
export function settleBatch(records: readonly SQSRecord[], response: unknown): BatchSettlement {
  if (response === undefined || response === null) return { kind: 'partial', succeeded: records, failed: [] };
  if (typeof response !== 'object' || Array.isArray(response))
    return { kind: 'batch-failed', reason: 'the response is not an object' };
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'partial', succeeded: records, failed: [] };
  if (!Array.isArray(failures)) return { kind: 'batch-failed', reason: 'batchItemFailures is not a list' };
  const ids = new Set(records.map((r) => r.messageId));
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '' || !ids.has(id)) {
      return {
        kind: 'batch-failed',
        reason: `batchItemFailures names ${JSON.stringify(id)}, which is not a message of this batch`,
      };
    }
    failed.add(id);
  }
  return {
    kind: 'partial',
    succeeded: records.filter((r) => !failed.has(r.messageId)),
    failed: records.filter((r) => failed.has(r.messageId)),
  };
}

/**
 * One `ReceiveMessage` call (at most 10 messages) as Lambda records, with every system and message
 * attribute; waits up to `waitSeconds` for the first message (long polling).
 */
export async function receiveBatch(
  sqs: SQSClient,
  queue: { url: string; arn: string },
  region: string,
  max: number,
  waitSeconds: number,
  signal?: AbortSignal,
): Promise<SQSRecord[]> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queue.url,
      MaxNumberOfMessages: Math.min(SQS_MAX_BATCH_ENTRIES, max),
      WaitTimeSeconds: waitSeconds,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
    signal ? { abortSignal: signal } : {},
  );
  return Messages.map((m) => toSqsRecord(m, queue.arn, region));
}

/** Receives up to `max` messages in calls of at most 10, until the queue has no more visible. */
export async function receiveRecords(
  sqs: SQSClient,
  queue: { url: string; arn: string },
  region: string,
  max: number,
  waitSeconds: number,
): Promise<SQSRecord[]> {
  const records: SQSRecord[] = [];
  while (records.length < max) {
    const batch = await receiveBatch(sqs, queue, region, max - records.length, records.length === 0 ? waitSeconds : 0);
    records.push(...batch);
    if (batch.length === 0) break;
  }
  return records;
}

/** Deletes the records Lambda would delete after a successful (partial) batch. */
export async function deleteRecords(sqs: SQSClient, queueUrl: string, records: readonly SQSRecord[]): Promise<void> {
  await Promise.all(
    chunkByCount(records, SQS_MAX_BATCH_ENTRIES).map((chunk) =>
      sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
        }),
      ),
    ),
  );
}

/**
 * Invokes the handler with one batch and settles it as Lambda does. A thrown error or a
 * malformed response fails the whole batch (nothing is deleted).
 */
export async function invokeAndSettle(
  sqs: SQSClient,
  queueUrl: string,
  records: readonly SQSRecord[],
  handler: SqsHandler,
  context: Context,
): Promise<BatchSettlement> {
  let settlement: BatchSettlement;
  try {
    settlement = settleBatch(records, await handler({ Records: [...records] }, context));
  } catch (error) {
    settlement = { kind: 'batch-failed', reason: (error as Error).message };
  }
  if (settlement.kind === 'partial' && settlement.succeeded.length > 0)
    await deleteRecords(sqs, queueUrl, settlement.succeeded);
  return settlement;
}

/**
 * Makes records visible again at once (visibility 0), as a disabled Lambda event source does with
 * what it received and did not invoke: they keep their receive count and wait for no timeout.
 * (fauxqs loses a message made visible with 0 in persistent mode; emulators.ts mends that.)
 */
export async function releaseRecords(sqs: SQSClient, queueUrl: string, records: readonly SQSRecord[]): Promise<void> {
  await Promise.all(
    chunkByCount(records, SQS_MAX_BATCH_ENTRIES).map((chunk) =>
      sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle, VisibilityTimeout: 0 })),
        }),
      ),
    ),
  );
}

/**
 * Ends the long polls waiting on a queue of the local SQS emulator (END_LONG_POLLS_PATH), so the
 * receives of a stopping poller come back with their answer instead of being aborted.
 * @throws when the emulator cannot be reached or does not know the queue.
 */
export async function endLongPolls(queueUrl: string): Promise<void> {
  const url = new URL(queueUrl);
  const queueName = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
  const response = await fetch(`${url.origin}${END_LONG_POLLS_PATH}?queue=${encodeURIComponent(queueName)}`, {
    method: 'POST',
    signal: AbortSignal.timeout(2_000),
  });
  await response.body?.cancel();
  if (response.status !== 204)
    throw new Error(`ending the long polls on ${queueName} answered HTTP ${response.status}`);
}
