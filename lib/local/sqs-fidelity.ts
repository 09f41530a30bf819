/**
 * Where the local SQS (fauxqs 2.4.1) is made to behave like SQS, because Conveyor's guarantees
 * are tested against it:
 *
 *  - **Retention.** SQS deletes a message once it has been in its queue longer than the queue's
 *    MessageRetentionPeriod, measured from its original enqueue time (SentTimestamp). A dead letter
 *    moved by a standard queue's redrive policy keeps that time: its age in the source queue counts
 *    against the dead-letter queue's retention (SQS Developer Guide, "Setting-up dead-letter queue
 *    retention"). fauxqs keeps the timestamp on a redrive move (the same message object goes to the
 *    DLQ, and its row keeps sent_timestamp) but never expires anything; here every queue is swept
 *    each second, and a receive never hands out a message past its retention. A message in flight
 *    expires when it would become visible again.
 *  - **Chaos on standard queues** (`CONVEYOR_CHAOS=stage:p:duplicate|reorder`, set per queue by the
 *    runtime). SQS stores copies of a message on several servers; a copy that missed a receive or
 *    a delete is delivered again later ("at-least-once delivery"), and standard queues make only a
 *    best effort at ordering. fauxqs delivers in strict FIFO order and exactly once. `duplicate`:
 *    each receive of a message leaves, with probability p, a copy of it (its own message id, same
 *    body, attributes and enqueue time) that becomes visible within DUPLICATE_LAG_MAX_MS — to
 *    another poller while the first delivery may still run, or after it was deleted. The copy is a
 *    real message (persisted with `dataDir`); copies are not copied again. `reorder`: a message
 *    about to be handed out is, with probability p, moved behind a random number of the messages
 *    sent after it (each message at most once).
 *  - **Abandoned long polls.** fauxqs's ReceiveMessage waits for messages, then takes them off the
 *    queue whether or not its caller is still there: a receive whose connection has closed takes
 *    nothing here, so the messages stay ready for the next receiver.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { QueueChaos } from '../runtime/chaos.ts';
import {
  fauxqsInternals,
  type FauxqsMessage,
  type FauxqsQueue,
  type FauxqsReceived,
  type FauxqsSqsStore,
} from './fauxqs-internals.ts';

/** Longest a `duplicate` copy lags behind the delivery it copies. */
export const DUPLICATE_LAG_MAX_MS = 5_000;
/** How often every queue is checked for expired messages. */
const RETENTION_SWEEP_MS = 1_000;
/** fauxqs's default MessageRetentionPeriod, as SQS's: 4 days. */
const DEFAULT_RETENTION_SECONDS = 345_600;

export interface SqsFidelityOptions {
  /** The clock retention is measured by (epoch ms); tests move it forward. @default Date.now */
  readonly clock?: () => number;
  /** Random numbers in [0, 1) for the chaos effects; tests seed it. @default Math.random */
  readonly random?: () => number;
  /** Longest lag of a `duplicate` copy; tests shorten it. @default DUPLICATE_LAG_MAX_MS */
  readonly duplicateLagMaxMs?: number;
}

/** The connection of the request being served, so a receive can tell that its caller is gone. */
export const requestConnection = new AsyncLocalStorage<{ destroyed: boolean }>();

const fidelityOf = new WeakMap<FauxqsQueue, SqsFidelity>();

/** SQS behaviour for the queues of one store (one emulator). */
export class SqsFidelity {
  readonly #clock: () => number;
  readonly #random: () => number;
  readonly #duplicateLagMaxMs: number;
  #store: FauxqsSqsStore | undefined;
  #chaos = new Map<string, QueueChaos>();
  /** Copies made by `duplicate`: never copied again. */
  readonly #copies = new WeakSet<FauxqsMessage>();
  /** Messages `reorder` has decided on (moved or left in place): each is decided once. */
  readonly #decided = new WeakSet<FauxqsMessage>();
  /** Copies waiting for their lag, per queue (a purge drops them). */
  readonly #pending = new Map<FauxqsQueue, Set<NodeJS.Timeout>>();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: SqsFidelityOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#duplicateLagMaxMs = options.duplicateLagMaxMs ?? DUPLICATE_LAG_MAX_MS;
  }

  /** Takes charge of a store's queues; call before its saved state is loaded into it. */
  async attach(store: FauxqsSqsStore): Promise<void> {
    await patchQueues();
    this.#store = store;
    const create = store.createQueue.bind(store);
    store.createQueue = (...args: unknown[]) => {
      const queue = create(...args);
      fidelityOf.set(queue, this);
      return queue;
    };
    this.#sweeper = setInterval(() => this.expire(), RETENTION_SWEEP_MS).unref();
  }

  /**
   * Sets the chaos effects per queue name (replacing earlier ones; queues not named: none).
   * @throws Error naming a queue that does not exist.
   */
  setQueueChaos(chaos: Readonly<Record<string, QueueChaos>>): void {
    for (const name of Object.keys(chaos)) {
      if (!this.#store?.getQueueByName(name)) throw new Error(`queue chaos: no queue named "${name}"`);
    }
    this.#chaos = new Map(Object.entries(chaos));
  }

  /** Ends the long polls waiting on a queue; false if there is no such queue. */
  endLongPolls(queueName: string): boolean {
    const queue = this.#store?.getQueueByName(queueName);
    queue?.cancelWaiters();
    return queue !== undefined;
  }

  /** Deletes every ready or delayed message past its queue's retention (the sweep; also callable). */
  expire(): void {
    const now = this.#clock();
    for (const queue of this.#store?.allQueues() ?? []) {
      if (!queue.isFifo()) {
        queue.messages = unexpired(queue, queue.messages, now);
        queue.delayedMessages = unexpired(queue, queue.delayedMessages, now);
        continue;
      }
      for (const groups of [queue.fifoMessages, queue.fifoDelayed]) {
        for (const [group, list] of groups) {
          const kept = unexpired(queue, list, now);
          if (kept.length === 0) groups.delete(group);
          else groups.set(group, kept);
        }
      }
    }
  }

  /** Stops the sweep and drops copies not yet delivered. */
  close(): void {
    clearInterval(this.#sweeper);
    for (const timers of this.#pending.values()) for (const timer of timers) clearTimeout(timer);
    this.#pending.clear();
  }

  /** One ReceiveMessage's take from a queue: `take` is fauxqs's own dequeue. */
  dequeue(queue: FauxqsQueue, maxCount: number, take: () => FauxqsReceived[]): FauxqsReceived[] {
    const chaos = queue.isFifo() ? undefined : this.#chaos.get(queue.name);
    if (chaos && chaos.reorder > 0) this.#displace(queue, maxCount, chaos.reorder);
    const now = this.#clock();
    const received = take().filter((r) => {
      const entry = queue.inflightMessages.get(r.ReceiptHandle);
      if (!entry || !expired(queue, entry.message, now)) return true;
      queue.deleteMessage(r.ReceiptHandle); // past retention: SQS would have deleted it already
      return false;
    });
    if (chaos && chaos.duplicate > 0) {
      for (const r of received) {
        const message = queue.inflightMessages.get(r.ReceiptHandle)?.message;
        if (message && !this.#copies.has(message) && this.#random() < chaos.duplicate) this.#leaveCopy(queue, message);
      }
    }
    return received;
  }

  /** A purge deletes the copies still to come too. */
  purged(queue: FauxqsQueue): void {
    for (const timer of this.#pending.get(queue) ?? []) clearTimeout(timer);
    this.#pending.delete(queue);
  }

  /** `reorder`: moves some of the next messages to hand out behind later ones. */
  #displace(queue: FauxqsQueue, maxCount: number, probability: number): void {
    const ready = queue.messages;
    const candidates = Math.min(maxCount, 10, ready.length);
    for (let i = 0; i < candidates; i++) {
      const message = ready[i] as FauxqsMessage;
      if (this.#decided.has(message)) continue;
      this.#decided.add(message);
      if (ready.length - i < 2 || this.#random() >= probability) continue;
      // Behind 1 to (all) of the messages after it; then look again at the one now at i.
      const to = i + 1 + Math.floor(this.#random() * (ready.length - i - 1));
      ready.splice(i, 1);
      ready.splice(to, 0, message);
      i--;
    }
  }

  /** `duplicate`: a copy of a delivered message, enqueued after a random lag. */
  #leaveCopy(queue: FauxqsQueue, message: FauxqsMessage): void {
    const copy: FauxqsMessage = {
      ...message,
      messageId: randomUUID(),
      messageAttributes: { ...message.messageAttributes },
      approximateReceiveCount: 0,
      approximateFirstReceiveTimestamp: undefined,
      delayUntil: undefined,
    };
    this.#copies.add(copy);
    const timers = this.#pending.get(queue) ?? new Set<NodeJS.Timeout>();
    this.#pending.set(queue, timers);
    const timer = setTimeout(
      () => {
        timers.delete(timer);
        // The queue may have been deleted meanwhile: then the copy goes with it.
        if (this.#store?.getQueueByName(queue.name) === queue) queue.enqueue(copy);
      },
      Math.floor(this.#random() * this.#duplicateLagMaxMs),
    );
    timers.add(timer);
  }
}

/** The messages of `list` still within retention; the others are deleted from the store. */
function unexpired(queue: FauxqsQueue, list: FauxqsMessage[], now: number): FauxqsMessage[] {
  if (!list.some((m) => expired(queue, m, now))) return list; // the common case: nothing to do
  const kept: FauxqsMessage[] = [];
  for (const message of list) {
    if (expired(queue, message, now)) queue.persistence?.deleteMessage(message.messageId);
    else kept.push(message);
  }
  return kept;
}

function expired(queue: FauxqsQueue, message: FauxqsMessage, now: number): boolean {
  const retentionSeconds = Number(queue.attributes.MessageRetentionPeriod ?? DEFAULT_RETENTION_SECONDS);
  return now - message.sentTimestamp >= retentionSeconds * 1000;
}

let patched: Promise<void> | undefined;

/** Routes fauxqs's dequeue and purge through the queue's SqsFidelity (once per process). */
function patchQueues(): Promise<void> {
  patched ??= (async () => {
    const { SqsQueue } = await fauxqsInternals();
    const { dequeue, purge } = SqsQueue.prototype;
    SqsQueue.prototype.dequeue = function (this: FauxqsQueue, maxCount, visibilityTimeoutOverride, dlqResolver) {
      if (requestConnection.getStore()?.destroyed) return []; // abandoned long poll: take nothing
      const take = () => dequeue.call(this, maxCount, visibilityTimeoutOverride, dlqResolver);
      const fidelity = fidelityOf.get(this);
      return fidelity ? fidelity.dequeue(this, maxCount, take) : take();
    };
    SqsQueue.prototype.purge = function (this: FauxqsQueue) {
      fidelityOf.get(this)?.purged(this);
      purge.call(this);
    };
  })();
  return patched;
}
