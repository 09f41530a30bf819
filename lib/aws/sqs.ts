/**
 * Batched SQS operations of the stage runtime: sending with per-entry retries, and setting
 * visibility timeouts. Every call is a batch call (≤ 10 entries): it is what keeps the SQS
 * request count — and the bill — near one request per ten messages.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  SendMessageBatchCommand,
  type MessageAttributeValue,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { chunkBySize, messageBytes, SQS_MAX_BATCH_ENTRIES, chunkByCount } from './chunking.ts';
import { mapConcurrent, sleep } from './concurrency.ts';

/** The SQS system attribute that carries a message's X-Ray trace header (lib/runtime/attributes.ts says how the stages use it). */
export const TRACE_HEADER_ATTRIBUTE = 'AWSTraceHeader';

export interface OutgoingMessage {
  /** Caller's key for the message (e.g. the source record's messageId); failures are reported by it. */
  readonly key: string;
  readonly body: string;
  readonly attributes: Record<string, MessageAttributeValue>;
  /** The X-Ray trace header it carries (see TRACE_HEADER_ATTRIBUTE); SQS counts it in neither size nor attribute limits. */
  readonly traceHeader?: string;
}

export interface SendOptions {
  /** Attempts per entry, counting the first (entries failing with a sender fault are not retried). */
  readonly attempts?: number;
  /** Batch calls in flight at once. */
  readonly concurrency?: number;
  /** Base delay between attempts; doubled each time, with jitter. */
  readonly retryDelayMs?: number;
}

/** What a send did, by the caller's keys: the message id SQS gave each sent message, the last reason for each unsent one. */
export interface SendOutcome {
  readonly sent: ReadonlyMap<string, string>;
  readonly unsent: ReadonlyMap<string, string>;
}

/**
 * Sends messages with `SendMessageBatch`, chunked by count and size, retrying failed entries a
 * bounded number of times. A call once started is awaited, never abandoned: a message it sent must
 * be counted as sent.
 *
 * @returns by key: the message ids of the sent messages, and the last reason of those not sent.
 * @example
 * const { unsent } = await sendMessages(sqs, nextQueueUrl, [{ key: r.messageId, body, attributes }]);
 * if (unsent.size > 0) // report those records as batch item failures
 */
export async function sendMessages(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly OutgoingMessage[],
  { attempts = 3, concurrency = 10, retryDelayMs = 25 }: SendOptions = {},
): Promise<SendOutcome> {
  const failed = new Map<string, string>();
  const sent = new Map<string, string>();
  const chunks = chunkBySize(messages, (m) => messageBytes(m.body, m.attributes));
  await mapConcurrent(chunks, concurrency, async (chunk) => {
    let pending = chunk;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const retryable: OutgoingMessage[] = [];
      try {
        const entries: SendMessageBatchRequestEntry[] = pending.map((m, i) => ({
          Id: String(i),
          MessageBody: m.body,
          MessageAttributes: m.attributes,
          ...(m.traceHeader
            ? {
                MessageSystemAttributes: {
                  [TRACE_HEADER_ATTRIBUTE]: { DataType: 'String', StringValue: m.traceHeader },
                },
              }
            : {}),
        }));
        const response = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
        for (const success of response.Successful ?? []) {
          const message = pending[Number(success.Id)];
          if (message) sent.set(message.key, success.MessageId ?? '');
        }
        for (const failure of response.Failed ?? []) {
          const message = pending[Number(failure.Id)];
          if (!message) continue;
          const reason = `${failure.Code ?? 'error'}: ${failure.Message ?? 'send failed'}`;
          failed.set(message.key, reason);
          // A sender fault (bad entry) fails again on retry; anything else may pass.
          if (!failure.SenderFault) retryable.push(message);
        }
      } catch (error) {
        for (const message of pending) {
          failed.set(message.key, (error as Error).message);
          retryable.push(message);
        }
      }
      if (retryable.length === 0 || attempt >= attempts) break;
      for (const message of retryable) failed.delete(message.key);
      pending = retryable;
      await sleep(retryDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random()));
    }
  });
  return { sent, unsent: failed };
}

export interface VisibilityChange {
  readonly receiptHandle: string;
  readonly seconds: number;
}

/**
 * Sets the visibility timeout of received messages with `ChangeMessageVisibilityBatch`.
 * @returns how many changes failed (those messages reappear after the queue's visibility timeout instead).
 */
export async function changeVisibility(
  sqs: SQSClient,
  queueUrl: string,
  changes: readonly VisibilityChange[],
): Promise<number> {
  let failures = 0;
  await mapConcurrent(chunkByCount(changes, SQS_MAX_BATCH_ENTRIES), 10, async (chunk) => {
    try {
      const response = await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((c, i) => ({
            Id: String(i),
            ReceiptHandle: c.receiptHandle,
            VisibilityTimeout: c.seconds,
          })),
        }),
      );
      failures += response.Failed?.length ?? 0;
    } catch {
      failures += chunk.length;
    }
  });
  return failures;
}
