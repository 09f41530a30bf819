/**
 * An in-memory SQS behind the AWS SDK's own `SQSClient.send` signature, for tests that need many
 * fast, fully controlled runs (model-based tests, unit tests of the runtime): standard queues with
 * visibility timeouts, receive counts, redrive policies (the move happens on the receive after
 * `maxReceiveCount`, keeping the message id and send time, as SQS does), batch calls with per-entry
 * results, the 12-hour visibility limit — and the liberties real SQS takes that fauxqs does not:
 * duplicate deliveries and out-of-order receives, on a seeded random source. Messages keep the
 * `AWSTraceHeader` system attribute they were sent with (fauxqs drops it). Time is a clock the
 * test moves. Code under test uses it through the real SDK command objects (SqsQueues, sendMessages,
 * peekDeadLetters, redriveDeadLetters), so what runs here is what runs against SQS.
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

export interface QueueOptions {
  readonly visibilityTimeoutSeconds: number;
  readonly redrive?: { readonly deadLetterQueueUrl: string; readonly maxReceiveCount: number };
}

export interface Liberties {
  /** Probability that a sent message is delivered twice (a second copy, with its own id). */
  readonly duplicate: number;
  /** Probability that a receive takes messages from anywhere in the queue rather than the front. */
  readonly reorder: number;
  readonly random: () => number;
}

interface Stored {
  readonly MessageId: string;
  readonly Body: string;
  readonly MessageAttributes: Record<string, MessageAttributeValue>;
  /** The `AWSTraceHeader` system attribute it was sent with, returned among its attributes as SQS does. */
  readonly traceHeader?: string;
  readonly sentAt: number;
  receiveCount: number;
  visibleAt: number;
  receivedAt?: number;
  handle?: string;
}

const MAX_VISIBILITY_SECONDS = 43_200;

export class MemorySqs {
  readonly #queues = new Map<string, { options: QueueOptions; messages: Stored[] }>();
  readonly #now: () => number;
  #liberties: Liberties | undefined;
  #ids = 0;
  /** Every message ever accepted, by queue, in order (duplicated deliveries once): what was sent. */
  readonly sent: {
    readonly queueUrl: string;
    readonly body: string;
    readonly attributes: Record<string, MessageAttributeValue>;
    readonly traceHeader?: string;
  }[] = [];
  /** Keys (message bodies) whose sends fail, and why — to test what happens when SQS refuses an entry. */
  failSends: ((queueUrl: string, body: string) => string | undefined) | undefined;

  constructor(now: () => number, liberties?: Liberties) {
    this.#now = now;
    this.#liberties = liberties;
  }

  /** The client to hand to code under test. */
  get client(): SQSClient {
    return { send: (command: unknown) => this.#send(command), destroy: () => undefined } as unknown as SQSClient;
  }

  createQueue(url: string, options: QueueOptions): void {
    this.#queues.set(url, { options, messages: [] });
  }

  /** Messages in a queue: visible now, and in flight or delayed. */
  depth(url: string): { visible: number; invisible: number } {
    const now = this.#now();
    const messages = this.#queue(url).messages;
    const visible = messages.filter((m) => m.visibleAt <= now).length;
    return { visible, invisible: messages.length - visible };
  }

  /** Every message of a queue, as stored (for assertions). */
  messages(url: string): readonly {
    readonly MessageId: string;
    readonly Body: string;
    readonly MessageAttributes: Record<string, MessageAttributeValue>;
  }[] {
    return this.#queue(url).messages;
  }

  #queue(url: string) {
    const queue = this.#queues.get(url);
    if (!queue)
      throw Object.assign(new Error(`The specified queue does not exist: ${url}`), { name: 'QueueDoesNotExist' });
    return queue;
  }

  async #send(command: unknown): Promise<unknown> {
    if (command instanceof SendMessageBatchCommand) return this.#sendBatch(command.input);
    if (command instanceof ReceiveMessageCommand) return this.#receive(command.input);
    if (command instanceof DeleteMessageBatchCommand) return this.#delete(command.input);
    if (command instanceof ChangeMessageVisibilityBatchCommand) return this.#changeVisibility(command.input);
    throw new Error(`MemorySqs does not implement ${(command as object).constructor.name}`);
  }

  #sendBatch(input: SendMessageBatchCommand['input']) {
    const queue = this.#queue(input.QueueUrl as string);
    const Successful: { Id: string; MessageId: string }[] = [];
    const Failed: { Id: string; Code: string; Message: string; SenderFault: boolean }[] = [];
    for (const entry of input.Entries ?? []) {
      const refused = this.failSends?.(input.QueueUrl as string, entry.MessageBody ?? '');
      if (refused) {
        Failed.push({ Id: entry.Id as string, Code: 'InternalError', Message: refused, SenderFault: false });
        continue;
      }
      const traceHeader = entry.MessageSystemAttributes?.AWSTraceHeader?.StringValue;
      this.sent.push({
        queueUrl: input.QueueUrl as string,
        body: entry.MessageBody ?? '',
        attributes: entry.MessageAttributes ?? {},
        ...(traceHeader ? { traceHeader } : {}),
      });
      const copies = this.#liberties && this.#liberties.random() < this.#liberties.duplicate ? 2 : 1;
      let id = '';
      for (let i = 0; i < copies; i++) {
        id = `m-${++this.#ids}`;
        queue.messages.push({
          MessageId: id,
          Body: entry.MessageBody ?? '',
          MessageAttributes: entry.MessageAttributes ?? {},
          ...(traceHeader ? { traceHeader } : {}),
          sentAt: this.#now(),
          receiveCount: 0,
          visibleAt: this.#now(),
        });
      }
      Successful.push({ Id: entry.Id as string, MessageId: id });
    }
    return { Successful, Failed };
  }

  #receive(input: ReceiveMessageCommand['input']) {
    const url = input.QueueUrl as string;
    const queue = this.#queue(url);
    const now = this.#now();
    const max = Math.min(10, input.MaxNumberOfMessages ?? 1);
    const visible = queue.messages.filter((m) => m.visibleAt <= now);
    if (this.#liberties && this.#liberties.random() < this.#liberties.reorder)
      visible.sort(() => (this.#liberties as Liberties).random() - 0.5);
    const Messages: Message[] = [];
    for (const m of visible) {
      if (Messages.length >= max) break;
      const redrive = queue.options.redrive;
      if (redrive && m.receiveCount >= redrive.maxReceiveCount) {
        // SQS moves the message on the receive after its last: same id, same send time.
        queue.messages.splice(queue.messages.indexOf(m), 1);
        this.#queue(redrive.deadLetterQueueUrl).messages.push({
          ...m,
          receiveCount: 0,
          visibleAt: now,
          handle: undefined,
        });
        continue;
      }
      m.receiveCount++;
      m.receivedAt = now;
      m.handle = `${m.MessageId}#${m.receiveCount}#${++this.#ids}`;
      m.visibleAt = now + (input.VisibilityTimeout ?? queue.options.visibilityTimeoutSeconds) * 1000;
      Messages.push({
        MessageId: m.MessageId,
        ReceiptHandle: m.handle,
        Body: m.Body,
        MessageAttributes: m.MessageAttributes,
        Attributes: {
          ApproximateReceiveCount: String(m.receiveCount),
          SentTimestamp: String(m.sentAt),
          ApproximateFirstReceiveTimestamp: String(now),
          ...(m.traceHeader ? { AWSTraceHeader: m.traceHeader } : {}),
        },
      });
    }
    return { Messages };
  }

  #delete(input: DeleteMessageBatchCommand['input']) {
    const queue = this.#queue(input.QueueUrl as string);
    for (const entry of input.Entries ?? []) {
      const index = queue.messages.findIndex((m) => m.handle === entry.ReceiptHandle);
      if (index >= 0) queue.messages.splice(index, 1);
    }
    return { Successful: (input.Entries ?? []).map((e) => ({ Id: e.Id })), Failed: [] };
  }

  #changeVisibility(input: ChangeMessageVisibilityBatchCommand['input']) {
    const queue = this.#queue(input.QueueUrl as string);
    const Successful: { Id: string }[] = [];
    const Failed: { Id: string; Code: string; Message: string; SenderFault: boolean }[] = [];
    for (const entry of input.Entries ?? []) {
      const m = queue.messages.find((x) => x.handle === entry.ReceiptHandle);
      const seconds = entry.VisibilityTimeout ?? 0;
      // SQS refuses to keep a message invisible more than 12 hours from its receive.
      if (!m || (this.#now() - (m.receivedAt ?? 0)) / 1000 + seconds > MAX_VISIBILITY_SECONDS) {
        Failed.push({
          Id: entry.Id as string,
          Code: m ? 'InvalidParameterValue' : 'ReceiptHandleIsInvalid',
          Message: 'refused',
          SenderFault: true,
        });
        continue;
      }
      m.visibleAt = this.#now() + seconds * 1000;
      Successful.push({ Id: entry.Id as string });
    }
    return { Successful, Failed };
  }
}
