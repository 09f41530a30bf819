/**
 * Dead letters as operators see them, with the plain SQS API (the same code against AWS and the
 * local emulator): read a dead-letter queue without consuming it — all of it, or what a filter
 * selects — and, in dead-letter-redrive.ts, move dead letters back to their stage's queue.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  ReceiveMessageCommand,
  type Message,
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
  type DeadLetterKind,
} from '../runtime/attributes.ts';
import { chunkByCount, SQS_MAX_BATCH_ENTRIES } from '../aws/chunking.ts';
import { matchesFilter, type DeadLetterFilter } from './dead-letter-filter.ts';

/** A dead letter as operators see it. */
export interface DeadLetter {
  readonly messageId: string;
  readonly orderId?: string;
  readonly traceId?: string;
  /** Why it was dead-lettered. */
  readonly reason?: string;
  /** `poison`, `rejected` or `exhausted`. */
  readonly kind?: string;
  /** e.g. `wh-1/picking` */
  readonly stage?: string;
  readonly receiveCount?: number;
  readonly deadLetteredAt?: string;
  readonly sentAt?: string;
  /**
   * `redrive-policy` when SQS moved it (no reason of Conveyor's on the message): its kind and reason
   * are then the ones the dead-letter auditor records in the ledger.
   */
  readonly movedBy?: 'stage' | 'redrive-policy';
  /** The message body, cut to 2,000 characters unless asked for whole. */
  readonly body: string;
}

/** The dead-letter queue a letter was read from: what its defaults are derived from. */
export interface DeadLetterQueueRef {
  readonly pipelineId: string;
  /** The stage's name, e.g. `picking`. */
  readonly stage: string;
  /** The stage queue's maxReceiveCount: after it, SQS's redrive policy moves a message (undefined: not known). */
  readonly maxReceiveCount: number | undefined;
}

/** The kind of a dead letter SQS's redrive policy moved: it ran out of receives. */
export const REDRIVE_POLICY_KIND: DeadLetterKind = 'exhausted';

/**
 * Why SQS itself moved a message: it carries no reason of Conveyor's. The dead-letter auditor records
 * this reason in the ledger; peek shows the same.
 */
export function redrivePolicyReason(stage: string, maxReceiveCount: number | undefined): string {
  return `moved to the dead-letter queue by the queue's redrive policy after ${maxReceiveCount ?? 'its maxReceiveCount'} receives: the ${stage} function timed out, crashed or was throttled on its last attempt`;
}

/** While a queue is read, received messages are hidden this long at first, then longer the longer the read runs. */
export const PEEK_HIDE_SECONDS = 30;
/** SQS keeps a message invisible at most 12 hours. */
const MAX_HIDE_SECONDS = 43_200;
const MAX_BODY_SHOWN = 2000;
/** A read that meets only messages it has seen, this many receives in a row, has gone round: it ends. */
const MAX_STALE_RECEIVES = 50;

export interface DescribeOptions {
  /** Fills in the kind and reason of letters SQS's redrive policy moved, as the auditor records them. */
  readonly queue?: DeadLetterQueueRef;
  /** The whole body (export), not the first 2,000 characters. */
  readonly fullBody?: boolean;
}

export function describeDeadLetter(message: Message, options: DescribeOptions = {}): DeadLetter {
  const attr = (name: string) => message.MessageAttributes?.[name]?.StringValue;
  const receiveCount = attr(ATTR_DEAD_LETTER_RECEIVE_COUNT);
  const sent = message.Attributes?.SentTimestamp;
  const body = message.Body ?? '';
  const { queue } = options;
  const byPolicy = attr(ATTR_DEAD_LETTER_REASON) === undefined && attr(ATTR_DEAD_LETTER_KIND) === undefined;
  const optional = {
    orderId: attr(ATTR_ORDER_ID),
    traceId: attr(ATTR_TRACE_ID),
    reason:
      attr(ATTR_DEAD_LETTER_REASON) ?? (queue ? redrivePolicyReason(queue.stage, queue.maxReceiveCount) : undefined),
    kind: attr(ATTR_DEAD_LETTER_KIND) ?? (queue ? REDRIVE_POLICY_KIND : undefined),
    stage: attr(ATTR_DEAD_LETTER_STAGE) ?? (queue ? `${queue.pipelineId}/${queue.stage}` : undefined),
    receiveCount: receiveCount === undefined ? undefined : Number(receiveCount),
    deadLetteredAt: attr(ATTR_DEAD_LETTERED_AT),
    sentAt: sent ? new Date(Number(sent)).toISOString() : undefined,
    movedBy: queue ? (byPolicy ? 'redrive-policy' : 'stage') : undefined,
  };
  return {
    messageId: message.MessageId as string,
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
    body: options.fullBody || body.length <= MAX_BODY_SHOWN ? body : `${body.slice(0, MAX_BODY_SHOWN)}…`,
  };
}

/** What a visit of received messages did: the messages it took (deleted) are not made visible again. */
export interface WalkStep {
  readonly taken: readonly Message[];
  readonly stop?: boolean;
}

export interface WalkOptions {
  /** Messages to ask for per receive (1–10). @default 10 */
  readonly perReceive?: () => number;
  /** Stops between receives when aborted. */
  readonly signal?: AbortSignal;
  readonly now?: () => number;
  /**
   * Trust an empty receive only after a long poll of a second and one more look: a short poll on SQS
   * samples some of its servers and may come back empty while messages wait, and another reader of
   * the queue (the dead-letter auditor, a second operator) hides what it reads for a moment.
   */
  readonly confirmEmpty?: boolean;
}

/**
 * How long a message received while reading a queue stays hidden: 30 s, plus twice the time the read
 * has taken so far. A long read (a slow redrive) then does not meet the same messages over and over,
 * and a read that dies leaves them hidden for about as long as it had run.
 */
export function holdSeconds(elapsedSeconds: number): number {
  return Math.min(MAX_HIDE_SECONDS, PEEK_HIDE_SECONDS + 2 * Math.floor(Math.max(0, elapsedSeconds)));
}

/**
 * Receives every message of a queue once and hands each batch of new ones to `visit`; what `visit`
 * does not take is made visible again at the end (and reappears by itself if the caller dies). SQS has
 * no peek: this is how one reads a queue without consuming it.
 *
 * @returns how many messages were received (each counted once).
 */
export async function walkQueue(
  sqs: SQSClient,
  queueUrl: string,
  visit: (messages: readonly Message[]) => Promise<WalkStep>,
  options: WalkOptions = {},
): Promise<number> {
  const now = options.now ?? Date.now;
  const started = now();
  const held = new Map<string, Message>();
  let received = 0;
  let stale = 0;
  try {
    while (!options.signal?.aborted && stale < MAX_STALE_RECEIVES) {
      const hold = holdSeconds((now() - started) / 1000);
      const want = Math.max(1, Math.min(SQS_MAX_BATCH_ENTRIES, options.perReceive?.() ?? SQS_MAX_BATCH_ENTRIES));
      let messages = await receive(sqs, queueUrl, want, hold, 0);
      if (messages.length === 0 && options.confirmEmpty) messages = await receive(sqs, queueUrl, want, hold, 1);
      if (messages.length === 0 && options.confirmEmpty) messages = await receive(sqs, queueUrl, want, hold, 0);
      if (messages.length === 0) break;
      // A message met again (its hold ran out in a long read) keeps its latest receipt handle.
      const fresh = messages.filter((m) => !held.has(m.MessageId as string));
      for (const m of messages) held.set(m.MessageId as string, m);
      if (fresh.length === 0) {
        stale++;
        continue;
      }
      stale = 0;
      received += fresh.length;
      const step = await visit(fresh);
      for (const m of step.taken) held.delete(m.MessageId as string);
      if (step.stop) break;
    }
  } finally {
    await reveal(sqs, queueUrl, [...held.values()]);
  }
  return received;
}

async function receive(
  sqs: SQSClient,
  queueUrl: string,
  max: number,
  hold: number,
  waitSeconds: number,
): Promise<Message[]> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: max,
      VisibilityTimeout: hold,
      WaitTimeSeconds: waitSeconds,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return Messages.filter((m) => m.MessageId && m.ReceiptHandle);
}

/** Makes messages visible again at once (best effort: they reappear after their hold anyway). */
export async function reveal(sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<void> {
  for (const chunk of chunkByCount(
    messages.filter((m) => m.ReceiptHandle),
    SQS_MAX_BATCH_ENTRIES,
  )) {
    await sqs
      .send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((m, i) => ({
            Id: String(i),
            ReceiptHandle: m.ReceiptHandle as string,
            VisibilityTimeout: 0,
          })),
        }),
      )
      .catch(() => undefined);
  }
}

/**
 * Up to `limit` dead letters, without consuming them (the auditor's read; no defaults filled in).
 *
 * @example
 * const letters = await peekDeadLetters(sqs, dlqUrl, 10);
 * letters[0]?.reason; // "scanner offline (gave up after 10 attempts)"
 */
export async function peekDeadLetters(sqs: SQSClient, queueUrl: string, limit: number): Promise<DeadLetter[]> {
  return (await findDeadLetters(sqs, queueUrl, { limit })).letters;
}

export interface FindOptions extends DescribeOptions {
  readonly filter?: DeadLetterFilter;
  /** Stop once this many matched. */
  readonly limit: number;
  readonly signal?: AbortSignal;
  readonly now?: () => number;
  /** See `WalkOptions.confirmEmpty`. */
  readonly confirmEmpty?: boolean;
}

export interface DeadLetterPage {
  readonly letters: DeadLetter[];
  /** Dead letters read to find them. */
  readonly scanned: number;
  /** The read stopped at `limit`: more may match. */
  readonly truncated: boolean;
}

/**
 * The dead letters a filter selects, without consuming any: the whole queue is read until `limit`
 * matched or it ends.
 *
 * @example
 * const { letters } = await findDeadLetters(sqs, dlqUrl, { limit: 100, filter: { kinds: ['poison'] }, queue });
 */
export async function findDeadLetters(sqs: SQSClient, queueUrl: string, options: FindOptions): Promise<DeadLetterPage> {
  const letters: DeadLetter[] = [];
  let truncated = false;
  const filtered = options.filter !== undefined;
  const scanned = await walkQueue(
    sqs,
    queueUrl,
    async (messages) => {
      for (const message of messages) {
        const letter = describeDeadLetter(message, options);
        if (options.filter && !matchesFilter(letter, options.filter)) continue;
        if (letters.length >= options.limit) {
          truncated = true;
          break;
        }
        letters.push(letter);
      }
      // Unfiltered, a full page is the answer; filtered, one more match proves there are more.
      const stop = truncated || (!filtered && letters.length >= options.limit);
      return { taken: [], stop };
    },
    {
      perReceive: () => (filtered ? SQS_MAX_BATCH_ENTRIES : options.limit - letters.length),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.now ? { now: options.now } : {}),
      ...(options.confirmEmpty ? { confirmEmpty: true } : {}),
    },
  );
  return { letters, scanned, truncated };
}

export { redriveDeadLetters } from './dead-letter-redrive.ts';
