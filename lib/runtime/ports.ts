/**
 * What the stage runtime needs from the outside world, as two small ports: queues to send to and
 * whose visibility it sets (SQS), and a ledger that records each item's progress and fate. The real
 * adapters are SqsQueues (below) and the order ledger (lib/ledger); tests plug in-memory ones in.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  changeVisibility,
  sendMessages,
  type OutgoingMessage,
  type SendOutcome,
  type VisibilityChange,
} from '../aws/sqs.ts';

export type { OutgoingMessage, SendOutcome, VisibilityChange } from '../aws/sqs.ts';

/** The queues a stage sends to, and the visibility of the records it holds. */
export interface Queues {
  /** Sends messages (batched, failed entries retried); reports what was sent and what not, by key. */
  send(queueUrl: string, messages: readonly OutgoingMessage[]): Promise<SendOutcome>;
  /** Sets the visibility timeout of received records; returns how many changes failed. */
  changeVisibility(queueUrl: string, changes: readonly VisibilityChange[]): Promise<number>;
}

/** Queues on SQS (or the local emulator). */
export class SqsQueues implements Queues {
  readonly #sqs: SQSClient;

  constructor(sqs: SQSClient) {
    this.#sqs = sqs;
  }

  send(queueUrl: string, messages: readonly OutgoingMessage[]): Promise<SendOutcome> {
    return sendMessages(this.#sqs, queueUrl, messages);
  }

  changeVisibility(queueUrl: string, changes: readonly VisibilityChange[]): Promise<number> {
    return changeVisibility(this.#sqs, queueUrl, changes);
  }
}

/** Short, id-only facts about a result, kept in the item's history. */
export type Facts = Readonly<Record<string, string | number>>;

/** The states an item's head records (the ledger's words). */
export type ItemState = 'open' | 'delivered' | 'dead-lettered' | 'cancelled' | 'purged';

/**
 * `applied` (`previous`: the state it replaced; absent when the write created the item's record);
 * `duplicate`: the item was already completed; `closed`: cancelled or purged first; `ignored`: the
 * write did not apply (the item is further along, or final); `error`: it failed — retry later.
 */
export type RecordResult =
  | { readonly kind: 'applied'; readonly previous?: ItemState }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'closed'; readonly state: ItemState }
  | { readonly kind: 'ignored' }
  | { readonly kind: 'error'; readonly message: string };

/** A dead letter to record: which item, where it died (stage and its position in the chain), why, and when. */
export interface DeadLetterEntry {
  readonly id: string;
  readonly partition?: string;
  readonly stage: string;
  readonly position: number;
  readonly reason: string;
  readonly kind: string;
  readonly at: string;
  /** The dead letter's SQS message id: each is recorded once, however often it is reported. */
  readonly messageId?: string;
}

/** Where the ledger records an item's progress and fate. Positions number a pipeline's stages from 1. */
export interface ProgressLedger {
  /** Eventually consistent hints: each item's state and whether `stage` recorded its step. */
  lookup(
    ids: readonly string[],
    stage?: string,
  ): Promise<
    ReadonlyMap<string, { readonly state?: ItemState; readonly deadPosition?: number; readonly done: boolean }>
  >;
  /** Finished steps, in batches; returns the ids not recorded. */
  recordSteps(
    steps: readonly {
      id: string;
      partition: string;
      stage: string;
      position: number;
      next: string;
      at: string;
      detail?: Facts;
    }[],
  ): Promise<string[]>;
  /** The last stage's record: exactly once per item. */
  complete(
    entries: readonly { id: string; partition: string; stage: string; at: string; result: Facts }[],
  ): Promise<RecordResult[]>;
  /** Dead-lettered items, with the reason. */
  deadLetter(entries: readonly DeadLetterEntry[]): Promise<RecordResult[]>;
  /** Items dead-lettered at or before `position` that this stage processed again (a redrive). */
  revive(entries: readonly { id: string; position: number; at: string }[]): Promise<RecordResult[]>;
}
