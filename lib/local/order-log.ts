/**
 * The local runtime's log of order lines, for `conveyor trace`: every structured line a function
 * prints that names an order (`orderId`, or `orderIds` for the intake's per-request lines) is kept,
 * indexed by order — what CloudWatch Logs and a Logs Insights query are for on AWS.
 *
 * Bounded: the lines kept take at most `maxBytes` of memory (16 MiB by default), estimated per line
 * from its size and the ids it names. Measured (node --expose-gc, heap after against before, 400,000
 * lines fed): at the 16 MiB estimate the heap held 14.3 MiB with ~24,000 retry lines, 14.9 MiB with
 * ~1,100 intake lines naming 100 orders each — the estimate errs on the safe side. Past the budget
 * the oldest lines go first, whatever order they are about, and a trace says from when on its log is
 * complete. Hand-written (a queue and a map) because no kept library indexes one value under many
 * keys with a byte budget.
 *
 * Durable with a data directory: kept lines are appended (every `flushMs`, one write) to
 * `order-log.jsonl`; past `maxFileBytes` the file becomes `order-log.1.jsonl` (the one before is
 * dropped), so at most two files take at most 2 × `maxFileBytes` on disk. A start reads both back, so
 * a trace still shows the lines after a restart — except those of the last `flushMs` before a
 * `kill -9`. In memory (`--in-memory`), nothing is written.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ordersNamed, traceLineOf, type TraceLine } from '../operations/order-trace.ts';

export interface OrderLogLimits {
  /** Memory the kept lines may take, estimated. */
  readonly maxBytes: number;
  /** Size of the current file before it is rotated. */
  readonly maxFileBytes: number;
  /** How often kept lines are written to the file. */
  readonly flushMs: number;
}

export const ORDER_LOG_LIMITS: OrderLogLimits = {
  maxBytes: 16 * 1024 * 1024,
  maxFileBytes: 8 * 1024 * 1024,
  flushMs: 200,
};

export const ORDER_LOG_FILE = 'order-log.jsonl';
const PREVIOUS_FILE = 'order-log.1.jsonl';
/** Estimated heap per kept line besides its JSON size (objects, arrays, the queue slot) and per id it names (a map entry and a list). */
const LINE_OVERHEAD_BYTES = 300;
const ID_OVERHEAD_BYTES = 120;

interface Kept {
  readonly ids: readonly string[];
  readonly line: TraceLine;
  readonly bytes: number;
}

export class OrderLog {
  readonly #limits: OrderLogLimits;
  readonly #file: string | undefined;
  /** Kept lines, oldest first from `#head` (slots before it are released, and compacted away now and then). */
  readonly #queue: (Kept | undefined)[] = [];
  #head = 0;
  #bytes = 0;
  readonly #byOrder = new Map<string, Kept[]>();
  /** The newest line dropped for room: lines from before it may be missing. */
  #droppedUpTo: string | undefined;
  #pending: string[] = [];
  #fileBytes = 0;
  readonly #timer: NodeJS.Timeout | undefined;

  private constructor(dataDir: string | undefined, limits: OrderLogLimits) {
    this.#limits = limits;
    this.#file = dataDir === undefined ? undefined : join(dataDir, ORDER_LOG_FILE);
    if (dataDir !== undefined) {
      this.#replay(join(dataDir, PREVIOUS_FILE));
      // A kill can leave the last line unfinished: what is appended next starts on a line of its own.
      if (!this.#replay(this.#file as string)) appendFileSync(this.#file as string, '\n');
      this.#fileBytes = existsSync(this.#file as string) ? statSync(this.#file as string).size : 0;
      this.#timer = setInterval(() => this.flush(), limits.flushMs);
      this.#timer.unref();
    }
  }

  /**
   * The log of a data directory (what it kept before is read back), or in memory.
   * @example
   * const log = OrderLog.open('.conveyor');
   * log.observe(line, 'conveyor-wh-1-picking');
   * log.linesOf('o-1');
   */
  static open(dataDir: string | undefined, limits: OrderLogLimits = ORDER_LOG_LIMITS): OrderLog {
    return new OrderLog(dataDir, limits);
  }

  /** A line a function printed: kept when it is a structured line that names orders. */
  observe(line: string, functionName: string): void {
    // Cheap test first: most lines (batch summaries, metrics) name no order.
    if (!line.startsWith('{') || !line.includes('"orderId')) return;
    let fields: Record<string, unknown>;
    try {
      fields = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const ids = ordersNamed(fields);
    const kept =
      ids.length > 0 ? traceLineOf(fields, { source: functionName, at: new Date().toISOString() }) : undefined;
    if (!kept) return;
    this.#keep([...new Set(ids)], kept);
    if (this.#file) this.#pending.push(`${JSON.stringify({ ids, line: kept })}\n`);
  }

  /** The kept lines about an order, oldest first. */
  linesOf(orderId: string): TraceLine[] {
    return (this.#byOrder.get(orderId) ?? []).map((k) => k.line);
  }

  /** Lines written before this time may have been dropped for room (undefined: nothing was dropped). */
  get completeSince(): string | undefined {
    return this.#droppedUpTo;
  }

  /** Memory the kept lines take, as estimated against `maxBytes`. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Writes what was kept since the last flush (and rotates the file when it is full). */
  flush(): void {
    if (!this.#file || this.#pending.length === 0) return;
    const text = this.#pending.join('');
    this.#pending = [];
    appendFileSync(this.#file, text);
    this.#fileBytes += Buffer.byteLength(text);
    if (this.#fileBytes >= this.#limits.maxFileBytes) {
      renameSync(this.#file, join(this.#file, '..', PREVIOUS_FILE));
      this.#fileBytes = 0;
    }
  }

  /** Stops the flush timer after a last flush. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.flush();
  }

  #keep(ids: readonly string[], line: TraceLine): void {
    const kept: Kept = {
      ids,
      line,
      bytes:
        JSON.stringify(line).length + LINE_OVERHEAD_BYTES + ids.reduce((n, id) => n + id.length + ID_OVERHEAD_BYTES, 0),
    };
    this.#queue.push(kept);
    this.#bytes += kept.bytes;
    for (const id of ids) {
      const list = this.#byOrder.get(id);
      if (list) list.push(kept);
      else this.#byOrder.set(id, [kept]);
    }
    while (this.#bytes > this.#limits.maxBytes && this.#head < this.#queue.length) this.#dropOldest();
  }

  /** The oldest line goes: it is the first of each of its orders' lists, as lines are kept in order. */
  #dropOldest(): void {
    const oldest = this.#queue[this.#head] as Kept;
    this.#queue[this.#head++] = undefined;
    this.#bytes -= oldest.bytes;
    this.#droppedUpTo = oldest.line.at;
    for (const id of oldest.ids) {
      const list = this.#byOrder.get(id);
      list?.shift();
      if (list && list.length === 0) this.#byOrder.delete(id);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /**
   * Reads a file of kept lines back; a line cut short by a crash is skipped.
   * @returns whether the file is missing, empty or ends with a whole line.
   */
  #replay(path: string): boolean {
    if (!existsSync(path)) return true;
    const content = readFileSync(path, 'utf8');
    for (const text of content.split('\n')) {
      if (text === '') continue;
      try {
        const { ids, line } = JSON.parse(text) as { ids: unknown; line: TraceLine };
        if (
          Array.isArray(ids) &&
          ids.every((id) => typeof id === 'string') &&
          typeof line?.at === 'string' &&
          typeof line.message === 'string'
        )
          this.#keep([...new Set(ids as string[])], line);
      } catch {
        // The last line of a file written when the runtime was killed: incomplete, skipped.
      }
    }
    return content === '' || content.endsWith('\n');
  }
}
