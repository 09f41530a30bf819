/**
 * Filtered redrive on an in-memory SQS, with the process doing it killed at every step: before and
 * after each SQS call and each journal write. Whatever the crash, the next run leaves every matching
 * dead letter in the stage queue and none of the others; a dead letter is sent twice only when the
 * crash hit while SQS answered its send (the one step no journal can settle), and the next run says so.
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ATTR_DEAD_LETTER_KIND,
  ATTR_DEAD_LETTER_REASON,
  ATTR_DEAD_LETTER_STAGE,
  ATTR_ORDER_ID,
  stringAttribute,
} from '../../lib/runtime/attributes.ts';
import { ATTR_REDRIVE_OF, redriveMatching, type RedriveReport } from '../../lib/operations/dead-letter-redrive.ts';
import {
  findDeadLetters,
  holdSeconds,
  REDRIVE_POLICY_KIND,
  redrivePolicyReason,
  type DeadLetterQueueRef,
} from '../../lib/operations/dead-letters.ts';
import {
  FileJournal,
  MemoryJournal,
  type JournalEntry,
  type RedriveJournal,
} from '../../lib/operations/redrive-journal.ts';
import { MemorySqs } from '../support/memory-sqs.ts';

const DLQ = 'http://sqs.memory/wh-1-picking-dlq';
const QUEUE = 'http://sqs.memory/wh-1-picking';
const queue: DeadLetterQueueRef = { pipelineId: 'wh-1', stage: 'picking', maxReceiveCount: 3 };

class Crash extends Error {}

/** Counts effects (SQS writes and journal writes) and dies at the `at`-th: before it takes effect, or after. */
class Killer {
  count = 0;
  /** What each effect was, in order: an SQS command's name, or `journal`. */
  readonly kinds: string[] = [];
  readonly at: number;
  readonly mode: 'before' | 'after';
  constructor(at: number, mode: 'before' | 'after') {
    this.at = at;
    this.mode = mode;
  }
  async effect<T>(apply: () => Promise<T>, kind: string): Promise<T> {
    const n = this.count++;
    this.kinds.push(kind);
    if (n === this.at && this.mode === 'before') throw new Crash();
    const result = await apply();
    if (n === this.at && this.mode === 'after') throw new Crash();
    return result;
  }
}

function killable(client: SQSClient, killer: Killer): SQSClient {
  return {
    send: (command: { constructor: { name: string } }) =>
      command.constructor.name === 'ReceiveMessageCommand'
        ? client.send(command as never)
        : killer.effect(() => client.send(command as never), command.constructor.name),
  } as unknown as SQSClient;
}

/** A journal whose writes survive the crash (what was written is on disk), read again by the next run. */
class DiskLikeJournal implements RedriveJournal {
  readonly inner = new MemoryJournal();
  killer: Killer | undefined;
  read() {
    return this.inner.read();
  }
  write(entries: readonly JournalEntry[]) {
    return this.killer && entries.length > 0
      ? this.killer.effect(() => this.inner.write(entries), 'journal')
      : this.inner.write(entries);
  }
  compact() {
    return this.inner.compact();
  }
}

interface Letter {
  id: string;
  orderId: string;
  reason?: string;
  kind?: string;
}

/** 12 dead letters the scanner killed, 6 rejected ones, 4 SQS's redrive policy moved (no reason on them). */
function deadLetters(): Letter[] {
  return [
    ...Array.from({ length: 12 }, (_, i) => ({
      id: `scan-${i}`,
      orderId: `o-scan-${i}`,
      reason: 'Scanner offline (gave up after 3 attempts)',
      kind: 'exhausted',
    })),
    ...Array.from({ length: 6 }, (_, i) => ({
      id: `box-${i}`,
      orderId: `o-box-${i}`,
      reason: 'no box fits SKU-9',
      kind: 'rejected',
    })),
    ...Array.from({ length: 4 }, (_, i) => ({ id: `policy-${i}`, orderId: `o-policy-${i}` })),
  ];
}

function world(letters: readonly Letter[]) {
  let time = Date.parse('2026-12-01T12:00:00.000Z');
  const sqs = new MemorySqs(() => time);
  sqs.createQueue(DLQ, { visibilityTimeoutSeconds: 30 });
  sqs.createQueue(QUEUE, { visibilityTimeoutSeconds: 30 });
  return {
    sqs,
    now: () => time,
    advance: (ms: number) => (time += ms),
    async fill() {
      for (let i = 0; i < letters.length; i += 10) {
        const entries = letters.slice(i, i + 10).map((l, j) => ({
          Id: String(j),
          MessageBody: JSON.stringify({ v: 1, order: { orderId: l.orderId }, tag: l.id }),
          MessageAttributes: {
            [ATTR_ORDER_ID]: stringAttribute(l.orderId),
            ...(l.reason
              ? {
                  [ATTR_DEAD_LETTER_REASON]: stringAttribute(l.reason),
                  [ATTR_DEAD_LETTER_KIND]: stringAttribute(l.kind as string),
                  [ATTR_DEAD_LETTER_STAGE]: stringAttribute('wh-1/picking'),
                }
              : {}),
          },
        }));
        await sqs.client.send(new SendMessageBatchCommand({ QueueUrl: DLQ, Entries: entries }));
      }
    },
    /** The dead letter each message holds, by its body's tag. */
    tags: (url: string) => sqs.messages(url).map((m) => (JSON.parse(m.Body) as { tag: string }).tag),
  };
}

const grep = { grep: 'scanner' };
const matching = deadLetters()
  .filter((l) => l.reason?.toLowerCase().includes(grep.grep))
  .map((l) => l.id);
const others = deadLetters()
  .filter((l) => !matching.includes(l.id))
  .map((l) => l.id);

describe('a filtered redrive', () => {
  it('moves exactly the matching dead letters, with their order id and where they came from, and nothing of their death', async () => {
    const w = world(deadLetters());
    await w.fill();
    const report = await redriveMatching(w.sqs.client, {
      deadLetterQueueUrl: DLQ,
      queueUrl: QUEUE,
      queue,
      filter: grep,
      now: w.now,
    });
    expect(report).toMatchObject({
      matched: matching.length,
      moved: matching.length,
      resent: 0,
      finished: 0,
      notDeleted: 0,
      scanned: deadLetters().length,
    });
    expect(w.tags(QUEUE).sort()).toEqual([...matching].sort());
    expect(w.tags(DLQ).sort()).toEqual([...others].sort());
    // Everything not moved is visible again at once: nothing was consumed.
    expect(w.sqs.depth(DLQ)).toEqual({ visible: others.length, invisible: 0 });
    const dlqIds = new Set(w.sqs.messages(QUEUE).map((m) => m.MessageAttributes[ATTR_REDRIVE_OF]?.StringValue));
    expect(dlqIds.size).toBe(matching.length);
    for (const copy of w.sqs.messages(QUEUE)) {
      expect(Object.keys(copy.MessageAttributes).sort()).toEqual([ATTR_ORDER_ID, ATTR_REDRIVE_OF].sort());
    }
  });

  it('as a dry run lists what would move and moves nothing', async () => {
    const w = world(deadLetters());
    await w.fill();
    const report = await redriveMatching(w.sqs.client, {
      deadLetterQueueUrl: DLQ,
      queueUrl: QUEUE,
      queue,
      filter: grep,
      dryRun: true,
      now: w.now,
    });
    expect(report).toMatchObject({ dryRun: true, matched: matching.length, moved: 0 });
    expect(report.letters.map((l) => l.orderId).sort()).toEqual(
      deadLetters()
        .filter((l) => matching.includes(l.id))
        .map((l) => l.orderId)
        .sort(),
    );
    expect(w.sqs.messages(QUEUE)).toHaveLength(0);
    expect(w.sqs.depth(DLQ)).toEqual({ visible: deadLetters().length, invisible: 0 });
  });

  it('sees a dead letter SQS moved as the auditor records it: kind and reason of the redrive policy', async () => {
    const w = world(deadLetters());
    await w.fill();
    const { letters } = await findDeadLetters(w.sqs.client, DLQ, {
      limit: 100,
      queue,
      filter: { kinds: [REDRIVE_POLICY_KIND] },
    });
    const byPolicy = letters.filter((l) => l.movedBy === 'redrive-policy');
    expect(byPolicy.map((l) => l.orderId).sort()).toEqual(
      deadLetters()
        .filter((l) => !l.reason)
        .map((l) => l.orderId)
        .sort(),
    );
    for (const l of byPolicy)
      expect(l).toMatchObject({
        kind: REDRIVE_POLICY_KIND,
        reason: redrivePolicyReason(queue.stage, queue.maxReceiveCount),
        stage: 'wh-1/picking',
      });
    // The exhausted ones the stage dead-lettered itself match too; the rejected ones do not.
    expect(letters).toHaveLength(deadLetters().filter((l) => !l.reason || l.kind === REDRIVE_POLICY_KIND).length);
  });

  it('interrupted at any step, then run again: none lost, none repeated unless SQS took a send whose answer was lost — and then it says so', async () => {
    const clean = world(deadLetters());
    await clean.fill();
    const counter = new Killer(Number.POSITIVE_INFINITY, 'before');
    const cleanJournal = new DiskLikeJournal();
    cleanJournal.killer = counter;
    await redriveMatching(killable(clean.sqs.client, counter), {
      deadLetterQueueUrl: DLQ,
      queueUrl: QUEUE,
      queue,
      filter: grep,
      journal: cleanJournal,
      now: clean.now,
      ratePerSecond: 5,
      sleep: async (ms) => void clean.advance(ms),
    });
    const steps = counter.count;
    const kinds = counter.kinds;
    expect(steps).toBeGreaterThan(6);
    /** The one window no journal can settle: SQS applied a send, and `sent` was not written yet. */
    const unsettled = (at: number, mode: 'before' | 'after') =>
      (mode === 'after' && kinds[at] === 'SendMessageBatchCommand') ||
      (mode === 'before' && kinds[at] === 'journal' && kinds[at - 1] === 'SendMessageBatchCommand');

    let repeatedRuns = 0;
    for (let at = 0; at < steps; at++) {
      for (const mode of ['before', 'after'] as const) {
        const w = world(deadLetters());
        await w.fill();
        const journal = new DiskLikeJournal();
        const killer = new Killer(at, mode);
        journal.killer = killer;
        const first = redriveMatching(killable(w.sqs.client, killer), {
          deadLetterQueueUrl: DLQ,
          queueUrl: QUEUE,
          queue,
          filter: grep,
          journal,
          now: w.now,
          ratePerSecond: 5,
          sleep: async (ms) => void w.advance(ms),
        });
        const ended = await first.then(
          () => 'finished',
          (error: unknown) => error,
        );
        // Making hidden dead letters visible again is best effort (they reappear after their hold anyway): a crash there goes unnoticed.
        if (kinds[at] !== 'ChangeMessageVisibilityBatchCommand')
          expect(ended, `crash ${mode} step ${at}`).toBeInstanceOf(Crash);
        const copiesBefore = w.tags(QUEUE).length;

        // The process is gone; what it held reappears after its hold. The next run uses the same journal.
        w.advance(holdSeconds(3600) * 1000);
        journal.killer = undefined;
        const second: RedriveReport = await redriveMatching(w.sqs.client, {
          deadLetterQueueUrl: DLQ,
          queueUrl: QUEUE,
          queue,
          filter: grep,
          journal,
          now: w.now,
        });

        const copies = w.tags(QUEUE);
        expect(w.tags(DLQ).sort(), `crash ${mode} step ${at}: the DLQ keeps exactly the others`).toEqual(
          [...others].sort(),
        );
        expect([...new Set(copies)].sort(), `crash ${mode} step ${at}: every matching one is in the queue`).toEqual(
          [...matching].sort(),
        );
        const repeated = copies.length - matching.length;
        // `resent` counts what MAY have reached the queue twice (a send was under way): every repeat is among them.
        expect(repeated, `crash ${mode} step ${at}: repeats are announced`).toBeLessThanOrEqual(second.resent);
        if (repeated > 0) {
          repeatedRuns++;
          // Only a send SQS applied and whose answer the dead process never wrote down, and only that batch.
          expect(unsettled(at, mode), `crash ${mode} step ${at} (${kinds[at]})`).toBe(true);
          expect(repeated).toBeLessThanOrEqual(copiesBefore);
        }
        expect(second.moved + second.finished + (copiesBefore - repeated)).toBeGreaterThanOrEqual(matching.length);
      }
    }
    // The unsettleable step exists (a send's lost answer), and it is the only one: every other crash repeats nothing.
    expect(repeatedRuns).toBeGreaterThan(0);
    expect(repeatedRuns).toBeLessThan(steps);
  });
});

describe('the redrive journal on disk', () => {
  it('keeps what it was told across instances, ignores a torn last line, and compacts to nothing when all is done', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-journal-'));
    try {
      const path = join(dir, 'nested', 'wh-1-picking.jsonl');
      await new FileJournal(path).write([
        { id: 'a', state: 'sending' },
        { id: 'b', state: 'sending' },
      ]);
      await new FileJournal(path).write([{ id: 'a', state: 'sent' }]);
      writeFileSync(path, `${readFileSync(path, 'utf8')}{"id":"b","sta`);
      expect(Object.fromEntries(await new FileJournal(path).read())).toEqual({ a: 'sent', b: 'sending' });
      await new FileJournal(path).compact();
      expect(Object.fromEntries(await new FileJournal(path).read())).toEqual({ a: 'sent', b: 'sending' });
      await new FileJournal(path).write([
        { id: 'a', state: 'deleted' },
        { id: 'b', state: 'unsent' },
      ]);
      await new FileJournal(path).compact();
      expect(() => readFileSync(path)).toThrow(/ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
