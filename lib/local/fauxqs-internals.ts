/**
 * The parts of fauxqs's internal API the local SQS relies on (fauxqs 2.4.1, pinned exactly in
 * package.json): its store, queue and persistence classes. They are not in the package's
 * "exports", which restrict bare specifiers only, so they are imported by file URL next to the
 * resolved entry. Re-read dist/sqs/sqsStore.js and dist/persistence.js before upgrading fauxqs.
 */
import type { buildApp } from 'fauxqs';

/** A stored message (dist/sqs/sqsStore.js `createMessage`). */
export interface FauxqsMessage {
  messageId: string;
  body: string;
  messageAttributes: Record<string, unknown>;
  /** Enqueue time (epoch ms): SQS's SentTimestamp, from which retention is measured. */
  sentTimestamp: number;
  approximateReceiveCount: number;
  approximateFirstReceiveTimestamp?: number;
  delayUntil?: number;
  messageGroupId?: string;
}

export interface FauxqsPersistenceManager {
  load(sqsStore: FauxqsStore, snsStore: FauxqsStore, s3Store: FauxqsStore): void;
  deleteMessage(messageId: string): void;
  updateMessageReady(messageId: string): void;
  close(): void;
  /** private in fauxqs; used for the synchronous pragma and one fix in emulators.ts */
  readonly db: { prepare(sql: string): { run(...values: unknown[]): unknown }; exec(sql: string): void };
}

export interface FauxqsQueue {
  persistence?: FauxqsPersistenceManager;
  name: string;
  arn: string;
  attributes: Record<string, string>;
  messages: FauxqsMessage[];
  delayedMessages: FauxqsMessage[];
  inflightMessages: Map<string, { message: FauxqsMessage; receiptHandle: string; visibilityDeadline: number }>;
  fifoMessages: Map<string, FauxqsMessage[]>;
  fifoDelayed: Map<string, FauxqsMessage[]>;
  isFifo(): boolean;
  enqueue(message: FauxqsMessage): void;
  deleteMessage(receiptHandle: string): boolean;
  cancelWaiters(): void;
}

export interface FauxqsStore {
  persistence?: FauxqsPersistenceManager;
}

export interface FauxqsSqsStore extends FauxqsStore {
  allQueues(): Iterable<FauxqsQueue>;
  getQueueByName(name: string): FauxqsQueue | undefined;
  createQueue(...args: unknown[]): FauxqsQueue;
}

/** What `SqsQueue.prototype.dequeue` returns per message (ReceiveMessage's entries). */
export interface FauxqsReceived {
  MessageId: string;
  ReceiptHandle: string;
}

export type DeadLetterResolver = (arn: string) => FauxqsQueue | undefined;

export interface FauxqsQueuePrototype {
  dequeue(
    this: FauxqsQueue,
    maxCount: number,
    visibilityTimeoutOverride?: number,
    dlqResolver?: DeadLetterResolver,
  ): FauxqsReceived[];
  purge(this: FauxqsQueue): void;
}

export interface FauxqsInternals {
  PersistenceManager: new (dataDir: string) => FauxqsPersistenceManager;
  SqsQueue: { prototype: FauxqsQueuePrototype };
  SqsStore: new () => FauxqsSqsStore;
  SnsStore: new () => FauxqsStore;
  S3Store: new () => FauxqsStore;
}

export type BuildAppStores = NonNullable<NonNullable<Parameters<typeof buildApp>[0]>['stores']>;

let internals: Promise<FauxqsInternals> | undefined;

/** Loads fauxqs's internal classes once per process; fails clearly if they moved. */
export function fauxqsInternals(): Promise<FauxqsInternals> {
  internals ??= (async () => {
    const entry = import.meta.resolve('fauxqs'); // …/node_modules/fauxqs/dist/app.js
    const load = (path: string) => import(new URL(path, entry).href) as Promise<Record<string, unknown>>;
    const [persistence, sqs, sns, s3] = await Promise.all([
      load('./persistence.js'),
      load('./sqs/sqsStore.js'),
      load('./sns/snsStore.js'),
      load('./s3/s3Store.js'),
    ]);
    const found = {
      PersistenceManager: persistence.PersistenceManager,
      SqsQueue: sqs.SqsQueue,
      SqsStore: sqs.SqsStore,
      SnsStore: sns.SnsStore,
      S3Store: s3.S3Store,
    };
    for (const [name, value] of Object.entries(found)) {
      if (typeof value !== 'function')
        throw new Error(`fauxqs internals changed: ${name} not found (this code expects fauxqs 2.4.1)`);
    }
    return found as unknown as FauxqsInternals;
  })();
  return internals;
}
