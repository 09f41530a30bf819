/**
 * Moving dead letters back to their stage's queue — all of them, or only those a filter selects —
 * so that an interrupted move loses none and repeats none.
 *
 * SQS moves nothing atomically between queues: a move is a send of a copy to the stage queue, then a
 * delete of the original from the DLQ. Per batch, the redrive journal (redrive-journal.ts) is written
 * before the send (`sending`), after it (`sent`) and after the delete (`deleted`):
 *
 * - a crash before the send leaves the original in the DLQ: the next run moves it;
 * - a crash between the send and the delete leaves a copy in the queue and the original in the DLQ,
 *   journaled `sent`: the next run deletes the original and does not send it again;
 * - only a crash while SQS is answering the send itself (journaled `sending`, not `sent`) leaves it
 *   unknown whether the copy arrived: the next run sends it again and says so (`resent`); the stage
 *   skips an order it already processed, so no order is processed twice.
 *
 * Each copy carries the original's message id (`conveyor.redriveOf`), so a redriven message says
 * where it came from. The original's own attributes go with it, its death's (`conveyor.*`) do not.
 */
import {
  DeleteMessageBatchCommand,
  SendMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { stringAttribute } from '../runtime/attributes.ts';
import { chunkBySize, messageBytes, SQS_MAX_BATCH_ENTRIES } from '../aws/chunking.ts';
import { matchesFilter, type DeadLetterFilter } from './dead-letter-filter.ts';
import { describeDeadLetter, walkQueue, type DeadLetter, type DeadLetterQueueRef } from './dead-letters.ts';
import { MemoryJournal, type JournalState, type RedriveJournal } from './redrive-journal.ts';

/** On a redriven copy: the message id of the dead letter it was copied from. */
export const ATTR_REDRIVE_OF = 'conveyor.redriveOf';

/** A dry run lists at most this many of the dead letters it would move (it counts them all). */
export const DRY_RUN_LISTED = 100;

export interface RedriveRequest {
  readonly deadLetterQueueUrl: string;
  /** The stage queue the dead letters go back to. */
  readonly queueUrl: string;
  /** Fills in what SQS's redrive policy left out (kind, reason), so filters see what peek shows. */
  readonly queue?: DeadLetterQueueRef;
  readonly filter?: DeadLetterFilter;
  /** Most dead letters moved per second (like StartMessageMoveTask's MaxNumberOfMessagesPerSecond). */
  readonly ratePerSecond?: number;
  /** Stops after this many matched. */
  readonly limit?: number;
  /** Count and list what would move; move nothing. */
  readonly dryRun?: boolean;
  /** Where the steps are written down; a run in memory when absent (nothing to resume after a crash). */
  readonly journal?: RedriveJournal;
  /** Called after each moved batch with the running total. */
  readonly onProgress?: (moved: number) => void;
  /** Stops between batches: the batch in hand is finished first. */
  readonly signal?: AbortSignal;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** See `WalkOptions.confirmEmpty` (SQS's short polls may come back empty while messages wait). */
  readonly confirmEmpty?: boolean;
}

export interface RedriveReport {
  readonly dryRun: boolean;
  /** Dead letters read. */
  readonly scanned: number;
  /** Dead letters the filter selected (all of them without a filter). */
  readonly matched: number;
  /** Copies sent to the stage queue by this run. */
  readonly moved: number;
  /** Dead letters an interrupted run had already copied: this run only deleted them. */
  readonly finished: number;
  /** Dead letters whose interrupted send may have reached the queue, sent again (the stage skips a repeat). */
  readonly resent: number;
  /** Copied, but the original could not be deleted: still in the DLQ, and the next run only deletes it. */
  readonly notDeleted: number;
  /** Stopped early by the signal. */
  readonly interrupted: boolean;
  /** Dry run: the dead letters that would move (at most DRY_RUN_LISTED). */
  readonly letters: DeadLetter[];
}

/** A redrive that stopped because SQS refused a send; what it did before is in `report`. */
export class RedriveFailedError extends Error {
  readonly report: RedriveReport;

  constructor(message: string, report: RedriveReport) {
    super(message);
    this.name = 'RedriveFailedError';
    this.report = report;
  }
}

/**
 * Moves the dead letters that match back to their stage's queue (or, as a dry run, lists them).
 *
 * @example
 * const report = await redriveMatching(sqs, { deadLetterQueueUrl, queueUrl, filter: { grep: 'scanner' }, journal: new FileJournal(path) });
 * report.moved; // 12
 */
export async function redriveMatching(sqs: SQSClient, request: RedriveRequest): Promise<RedriveReport> {
  const now = request.now ?? Date.now;
  const sleep = request.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const journal = request.journal ?? new MemoryJournal(now);
  const earlier = await journal.read();
  const limit = request.limit ?? Number.POSITIVE_INFINITY;
  const tally = { matched: 0, moved: 0, finished: 0, resent: 0, notDeleted: 0 };
  const letters: DeadLetter[] = [];
  const started = now();
  let failure: string | undefined;

  const scanned = await walkQueue(
    sqs,
    request.deadLetterQueueUrl,
    async (messages) => {
      const selected = messages.filter(
        (m) =>
          !request.filter ||
          matchesFilter(describeDeadLetter(m, request.queue ? { queue: request.queue } : {}), request.filter),
      );
      const matching = selected.slice(0, Math.max(0, limit - tally.matched));
      tally.matched += matching.length;
      if (request.dryRun) {
        for (const m of matching.slice(0, DRY_RUN_LISTED - letters.length))
          letters.push(describeDeadLetter(m, request.queue ? { queue: request.queue } : {}));
        return { taken: [], stop: tally.matched >= limit };
      }
      if (matching.length === 0) return { taken: [] };
      const step = await moveBatch(sqs, request, journal, earlier, matching);
      tally.moved += step.sent;
      tally.finished += step.finished;
      tally.resent += step.resent;
      tally.notDeleted += step.notDeleted;
      request.onProgress?.(tally.moved + tally.finished);
      failure = step.failure;
      if (request.ratePerSecond && !failure) {
        const due = started + ((tally.moved + tally.finished) / request.ratePerSecond) * 1000;
        if (due > now()) await untilOrAborted(sleep(due - now()), request.signal);
      }
      return { taken: step.deleted, stop: failure !== undefined || tally.matched >= limit };
    },
    {
      perReceive: () =>
        Math.min(SQS_MAX_BATCH_ENTRIES, request.ratePerSecond ?? SQS_MAX_BATCH_ENTRIES, limit - tally.matched),
      now,
      ...(request.signal ? { signal: request.signal } : {}),
      ...(request.confirmEmpty ? { confirmEmpty: true } : {}),
    },
  );
  if (!request.dryRun) await journal.compact();
  const report: RedriveReport = {
    dryRun: request.dryRun === true,
    scanned,
    ...tally,
    interrupted: request.signal?.aborted === true,
    letters,
  };
  if (failure !== undefined) {
    throw new RedriveFailedError(
      `moved ${report.moved + report.finished}, then SQS refused to take dead letters back into the queue: ${failure}`,
      report,
    );
  }
  return report;
}

/** Waits for `pause`, or less if the signal stops the redrive meanwhile. */
function untilOrAborted(pause: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return pause;
  if (signal.aborted) return Promise.resolve();
  return Promise.race([
    pause,
    new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
  ]);
}

interface BatchStep {
  /** Originals deleted from the DLQ. */
  readonly deleted: Message[];
  readonly sent: number;
  readonly finished: number;
  readonly resent: number;
  readonly notDeleted: number;
  readonly failure?: string;
}

/** One batch: journal `sending` → send copies → journal `sent` → delete originals → journal `deleted`. */
async function moveBatch(
  sqs: SQSClient,
  request: RedriveRequest,
  journal: RedriveJournal,
  earlier: ReadonlyMap<string, JournalState>,
  matching: readonly Message[],
): Promise<BatchStep> {
  const idOf = (m: Message) => m.MessageId as string;
  const copied = matching.filter((m) => earlier.get(idOf(m)) === 'sent');
  const toSend = matching.filter((m) => earlier.get(idOf(m)) !== 'sent');
  await journal.write(toSend.map((m) => ({ id: idOf(m), state: 'sending' })));

  const { sent, failure } = await sendCopies(sqs, request.queueUrl, toSend);
  await journal.write(toSend.map((m) => ({ id: idOf(m), state: sent.includes(m) ? 'sent' : 'unsent' })));

  const deleted = await deleteOriginals(sqs, request.deadLetterQueueUrl, [...copied, ...sent]);
  await journal.write(deleted.map((m) => ({ id: idOf(m), state: 'deleted' })));
  return {
    deleted,
    sent: sent.length,
    finished: copied.filter((m) => deleted.includes(m)).length,
    resent: sent.filter((m) => earlier.get(idOf(m)) === 'sending').length,
    notDeleted: copied.length + sent.length - deleted.length,
    ...(failure === undefined ? {} : { failure }),
  };
}

async function sendCopies(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly Message[],
): Promise<{ sent: Message[]; failure?: string }> {
  const entries = messages.map((m, i) => ({
    Id: String(i),
    MessageBody: m.Body ?? '',
    MessageAttributes: copyAttributes(m),
  }));
  const sent: Message[] = [];
  for (const chunk of chunkBySize(entries, (e) => messageBytes(e.MessageBody, e.MessageAttributes))) {
    const answer = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: chunk }));
    for (const ok of answer.Successful ?? []) sent.push(messages[Number(ok.Id)] as Message);
    const refused = answer.Failed?.[0];
    if (refused) return { sent, failure: `${refused.Code ?? 'error'}: ${refused.Message ?? 'no reason given'}` };
  }
  return { sent };
}

async function deleteOriginals(sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<Message[]> {
  if (messages.length === 0) return [];
  const answer = await sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
    }),
  );
  return (answer.Successful ?? []).map((ok) => messages[Number(ok.Id)] as Message);
}

/** The attributes a copy goes back with: the original's (order and trace id), not its death's, plus where it came from. */
function copyAttributes(message: Message): Record<string, MessageAttributeValue> {
  const kept: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    if (!name.startsWith('conveyor.')) kept[name] = value;
  }
  kept[ATTR_REDRIVE_OF] = stringAttribute(message.MessageId as string);
  return kept;
}

/**
 * Moves every dead letter back, in memory (no journal): the number moved.
 *
 * @example
 * const moved = await redriveDeadLetters(sqs, dlqUrl, queueUrl, { ratePerSecond: 50 });
 */
export async function redriveDeadLetters(
  sqs: SQSClient,
  dlqUrl: string,
  targetUrl: string,
  options: {
    readonly ratePerSecond?: number;
    readonly limit?: number;
    readonly onProgress?: (moved: number) => void;
  } = {},
): Promise<number> {
  const report = await redriveMatching(sqs, { deadLetterQueueUrl: dlqUrl, queueUrl: targetUrl, ...options });
  return report.moved + report.finished;
}
