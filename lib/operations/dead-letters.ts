/**
 * Dead-letter operations for operators, with the plain SQS API (they work against AWS and the
 * local emulator alike): look at dead letters without consuming them, and move them back to
 * their stage's queue.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  ATTR_DEAD_LETTER_KIND,
  ATTR_DEAD_LETTER_RECEIVE_COUNT,
  ATTR_DEAD_LETTER_REASON,
  ATTR_DEAD_LETTER_STAGE,
  ATTR_DEAD_LETTERED_AT,
  ATTR_ORDER_ID,
  ATTR_TRACE_ID,
} from '../runtime/attributes.ts';
import { chunkByCount, SQS_MAX_BATCH_ENTRIES } from '../aws/chunking.ts';
import { sleep } from '../aws/concurrency.ts';

/** A dead letter as operators see it. */
export interface DeadLetter {
  readonly messageId: string;
  readonly orderId?: string;
  readonly traceId?: string;
  /** Why it was dead-lettered (absent when SQS's redrive policy moved it: the reason is then unknown). */
  readonly reason?: string;
  /** `poison`, `rejected` or `exhausted`. */
  readonly kind?: string;
  /** e.g. `wh-1/picking` */
  readonly stage?: string;
  readonly receiveCount?: number;
  readonly deadLetteredAt?: string;
  readonly sentAt?: string;
  /** The message body, cut to 2,000 characters. */
  readonly body: string;
}

/** While peeking, collected messages are hidden this long, then made visible again at once. */
const PEEK_HIDE_SECONDS = 30;
const MAX_BODY_SHOWN = 2000;

/**
 * Up to `limit` dead letters, without consuming them. SQS has no peek: messages are received with
 * a short visibility timeout (so paging moves on) and made visible again before returning; if the
 * caller dies meanwhile they reappear by themselves after 30 s.
 *
 * @example
 * const letters = await peekDeadLetters(sqs, dlqUrl, 10);
 * letters[0]?.reason; // "scanner offline (gave up after 10 attempts)"
 */
export async function peekDeadLetters(sqs: SQSClient, queueUrl: string, limit: number): Promise<DeadLetter[]> {
  const seen = new Map<string, Message>();
  try {
    while (seen.size < limit) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(SQS_MAX_BATCH_ENTRIES, limit - seen.size),
          VisibilityTimeout: PEEK_HIDE_SECONDS,
          WaitTimeSeconds: 0,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
      );
      const fresh = Messages.filter((m) => m.MessageId && !seen.has(m.MessageId));
      for (const m of fresh) seen.set(m.MessageId as string, m);
      if (fresh.length === 0) break;
    }
  } finally {
    await reveal(sqs, queueUrl, [...seen.values()]);
  }
  return [...seen.values()].map(describe);
}

export interface RedriveOptions {
  /** Most messages moved per second (like StartMessageMoveTask's MaxNumberOfMessagesPerSecond). */
  readonly ratePerSecond?: number;
  /** Stops after this many. */
  readonly limit?: number;
  /** Called after each moved batch with the running total. */
  readonly onProgress?: (moved: number) => void;
}

/**
 * Moves dead letters back to `targetUrl` (their stage's queue), oldest first, without their
 * dead-letter attributes: send, then delete, so a crash in between duplicates a message (which the
 * stage skips as already processed) and never loses one.
 *
 * @returns how many were moved.
 * @example
 * const moved = await redriveDeadLetters(sqs, dlqUrl, queueUrl, { ratePerSecond: 50 });
 */
export async function redriveDeadLetters(sqs: SQSClient, dlqUrl: string, targetUrl: string, options: RedriveOptions = {}): Promise<number> {
  const { ratePerSecond, limit = Number.POSITIVE_INFINITY, onProgress } = options;
  let moved = 0;
  const started = Date.now();
  while (moved < limit) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: Math.min(SQS_MAX_BATCH_ENTRIES, limit - moved, ratePerSecond ?? SQS_MAX_BATCH_ENTRIES),
        VisibilityTimeout: PEEK_HIDE_SECONDS,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) break;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: targetUrl,
        Entries: Messages.map((m, i) => ({ Id: String(i), MessageBody: m.Body ?? '', MessageAttributes: originalAttributes(m) })),
      }),
    );
    const delivered = (sent.Successful ?? []).map((s) => Messages[Number(s.Id)]).filter((m): m is Message => m !== undefined);
    if (delivered.length > 0) {
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: dlqUrl, Entries: delivered.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })) }));
    }
    const failed = Messages.filter((m) => !delivered.includes(m));
    if (failed.length > 0) {
      await reveal(sqs, dlqUrl, failed);
      const reason = sent.Failed?.[0]?.Message ?? 'unknown error';
      throw new Error(`moved ${moved + delivered.length}, then could not send ${failed.length} back to the queue: ${reason}`);
    }
    moved += delivered.length;
    onProgress?.(moved);
    if (ratePerSecond) {
      const due = started + (moved / ratePerSecond) * 1000;
      if (due > Date.now()) await sleep(due - Date.now());
    }
  }
  return moved;
}

/** The attributes a redriven message goes back with: its order and trace ids, nothing of its death. */
function originalAttributes(message: Message): Record<string, MessageAttributeValue> {
  const kept: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    if (!name.startsWith('conveyor.')) kept[name] = value;
  }
  return kept;
}

async function reveal(sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<void> {
  for (const chunk of chunkByCount(messages.filter((m) => m.ReceiptHandle), SQS_MAX_BATCH_ENTRIES)) {
    await sqs
      .send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: chunk.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string, VisibilityTimeout: 0 })) }))
      .catch(() => undefined); // They reappear after the short timeout anyway.
  }
}

function describe(message: Message): DeadLetter {
  const attr = (name: string) => message.MessageAttributes?.[name]?.StringValue;
  const receiveCount = attr(ATTR_DEAD_LETTER_RECEIVE_COUNT);
  const sent = message.Attributes?.SentTimestamp;
  const body = message.Body ?? '';
  const optional = {
    orderId: attr(ATTR_ORDER_ID),
    traceId: attr(ATTR_TRACE_ID),
    reason: attr(ATTR_DEAD_LETTER_REASON),
    kind: attr(ATTR_DEAD_LETTER_KIND),
    stage: attr(ATTR_DEAD_LETTER_STAGE),
    receiveCount: receiveCount === undefined ? undefined : Number(receiveCount),
    deadLetteredAt: attr(ATTR_DEAD_LETTERED_AT),
    sentAt: sent ? new Date(Number(sent)).toISOString() : undefined,
  };
  return {
    messageId: message.MessageId as string,
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
    body: body.length > MAX_BODY_SHOWN ? `${body.slice(0, MAX_BODY_SHOWN)}…` : body,
  };
}
