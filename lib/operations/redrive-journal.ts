/**
 * The redrive journal: what a redrive has done to each dead letter, written down before and after
 * each step, so that a redrive interrupted at any point (Ctrl-C, kill -9, a crash) is finished by the
 * next run instead of being guessed at. SQS cannot move a message atomically from one queue to
 * another: a move is a send to the stage queue, then a delete from the DLQ. The journal says which
 * dead letters already have their copy in the stage queue (`sent`: the next run only deletes them)
 * and which were being sent when the run died (`sending`: SQS may or may not have taken the copy).
 *
 * A file of JSON lines, appended and flushed to disk (fsync) before the step it guards; a line torn
 * by a crash is ignored. Hand-written rather than a database: a few lines per move, read once per run.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * `sending`: about to be sent to the stage queue; `sent`: SQS took the copy; `unsent`: SQS refused it
 * (the dead letter stays, as if never tried); `deleted`: the original is gone from the DLQ.
 */
export type JournalState = 'sending' | 'sent' | 'unsent' | 'deleted';
const STATES: readonly string[] = ['sending', 'sent', 'unsent', 'deleted'] satisfies readonly JournalState[];

export interface JournalEntry {
  /** The dead letter's message id in the DLQ. */
  readonly id: string;
  readonly state: JournalState;
}

export interface RedriveJournal {
  /** The last state recorded for each dead letter by earlier runs. */
  read(): Promise<ReadonlyMap<string, JournalState>>;
  /** Records states; they are durable once this resolves. */
  write(entries: readonly JournalEntry[]): Promise<void>;
  /** Forgets what can no longer matter: all but `sending` and `sent`, and entries older than a DLQ keeps a message. */
  compact(): Promise<void>;
}

/** SQS keeps a message at most 14 days: a journal entry older than that names a message that cannot exist. */
const MAX_RETENTION_MS = 14 * 86_400_000;

interface Line {
  readonly id: string;
  readonly state: JournalState;
  /** Epoch ms. */
  readonly at: number;
}

/** What the lines say, the last one for a dead letter winning. */
function replay(lines: readonly Line[]): Map<string, Line> {
  const last = new Map<string, Line>();
  for (const line of lines) last.set(line.id, line);
  return last;
}

function keep(line: Line, now: number): boolean {
  return (line.state === 'sending' || line.state === 'sent') && now - line.at < MAX_RETENTION_MS;
}

/** A journal kept in memory (an in-memory runtime, whose queues die with it; tests). */
export class MemoryJournal implements RedriveJournal {
  #lines: Line[] = [];
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  async read(): Promise<ReadonlyMap<string, JournalState>> {
    return new Map([...replay(this.#lines)].map(([id, line]) => [id, line.state]));
  }

  async write(entries: readonly JournalEntry[]): Promise<void> {
    const at = this.#now();
    this.#lines.push(...entries.map((e) => ({ id: e.id, state: e.state, at })));
  }

  async compact(): Promise<void> {
    const now = this.#now();
    this.#lines = [...replay(this.#lines).values()].filter((line) => keep(line, now));
  }
}

/**
 * A journal in a file, one per dead-letter queue.
 *
 * @example
 * const journal = new FileJournal('.conveyor/redrive/wh-1-picking.jsonl');
 * await journal.write([{ id: 'm-1', state: 'sending' }]);
 */
export class FileJournal implements RedriveJournal {
  readonly path: string;
  readonly #now: () => number;

  constructor(path: string, now: () => number = Date.now) {
    this.path = path;
    this.#now = now;
  }

  async read(): Promise<ReadonlyMap<string, JournalState>> {
    return new Map([...replay(await this.#lines())].map(([id, line]) => [id, line.state]));
  }

  async write(entries: readonly JournalEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const at = this.#now();
    await mkdir(dirname(this.path), { recursive: true });
    const file = await open(this.path, 'a');
    try {
      await file.write(entries.map((e) => `${JSON.stringify({ id: e.id, state: e.state, at })}\n`).join(''));
      await file.sync();
    } finally {
      await file.close();
    }
  }

  async compact(): Promise<void> {
    const now = this.#now();
    const kept = [...replay(await this.#lines()).values()].filter((line) => keep(line, now));
    if (kept.length === 0) return void (await rm(this.path, { force: true }));
    // Written aside, then renamed over: a crash leaves the old journal or the new one, never half of one.
    const aside = `${this.path}.${randomUUID()}.tmp`;
    const file = await open(aside, 'w');
    try {
      await file.write(kept.map((line) => `${JSON.stringify(line)}\n`).join(''));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(aside, this.path);
  }

  async #lines(): Promise<Line[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return text.split('\n').flatMap((raw) => {
      try {
        const line = JSON.parse(raw) as Partial<Line>;
        const valid =
          typeof line.id === 'string' && STATES.includes(line.state as string) && typeof line.at === 'number';
        return valid ? [line as Line] : [];
      } catch {
        return []; // A line torn by a crash mid-write (or the empty last one).
      }
    });
  }
}
