/**
 * `conveyor orders cancel ID [ID…] [--file F]`: cancel orders that are not delivered yet (DELETE
 * /orders/{id}), one line per order — cancelled, already final (409: delivered or purged), not found
 * (404) — and exit code 1 when any was not cancelled.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ORDER_ID_PATTERN } from '../../domain/order.ts';
import { asExportedLine } from '../../operations/dead-letter-export.ts';
import { say, sayJson, styleFor, type CliContext } from '../context.ts';
import { describeHttpProblem, UsageError } from '../errors.ts';
import { plural } from '../format.ts';
import { withTarget, type GlobalOptions } from '../open-target.ts';
import type { RunState } from '../program.ts';
import type { Style } from '../style.ts';
import { renderTable } from '../table.ts';
import type { Target } from '../target.ts';

/** Cancels in flight at once. */
const CONCURRENCY = 4;
const BAD_LINES_SHOWN = 20;

const HELP = `
Cancels each order while it is not delivered (DELETE /orders/{id}; on AWS signed with your
credentials): its messages are then acknowledged by every later stage without being worked on.
Cancelling is idempotent (a cancelled order answers "cancelled" again); a delivered (or purged)
order cannot be cancelled (409). Exit code 1 when any order was not cancelled.

--file takes one order id per line (blank lines and # comments skipped), or JSON lines with an
"orderId" (plain orders) or a "deadLetter.orderId" (\`conveyor dlq export\`: the dead-lettered
order, not its resubmission), or a JSON list of such objects (e.g. a --json list of orders).

Examples:
  $ npx conveyor orders cancel o-1
  $ npx conveyor orders cancel o-1 o-2 o-3 --json
  $ npx conveyor orders cancel --file ids.txt
  $ npx conveyor orders cancel --file dead.jsonl            close the orders a dlq export holds
`;

export type CancelOutcome = 'cancelled' | 'already-final' | 'not-found' | 'failed';

export interface CancelResult {
  readonly orderId: string;
  readonly outcome: CancelOutcome;
  readonly httpStatus: number;
  /** The order's status after the call (cancelled, delivered, purged…), when the API said. */
  readonly status?: string;
  /** Where it was (cancelled) or what it became (already final), or what went wrong. */
  readonly detail?: string;
}

export function registerCancelCommand(orders: Command, context: CliContext, state: RunState): void {
  orders
    .command('cancel')
    .description('cancel orders not yet delivered: ids as arguments or --file; one line per order')
    .argument('[orderIds...]', 'order ids')
    .option('--file <path>', 'read order ids from this file (ids, JSON lines, or a dlq export)')
    .option('--json', 'print the results as JSON')
    .addHelpText('after', HELP)
    .action(async (ids: string[], options: { file?: string; json?: boolean }, command: Command) => {
      const wanted = [...new Set([...ids.map(checkId), ...(options.file === undefined ? [] : readIdFile(options.file, context))])];
      if (wanted.length === 0) throw new UsageError('orders cancel needs order ids — e.g. conveyor orders cancel o-1 o-2, or --file ids.txt');
      const globals = command.optsWithGlobals() as GlobalOptions;
      const results = await withTarget(globals, context, (target) => cancelAll(target, wanted));
      if (results.some((r) => r.outcome !== 'cancelled')) state.exitCode = 1;
      if (options.json) return sayJson(context, results);
      for (const line of renderCancels(results, styleFor(context))) say(context, line);
    });
}

function checkId(id: string): string {
  if (!ORDER_ID_PATTERN.test(id)) throw new UsageError(`"${id}" is not an order id — ids are 1–64 letters, digits, ".", "_", ":" or "-", starting with a letter or digit`);
  return id;
}

/** Order ids from a file: a JSON list, JSON lines, or one id per line. Bad lines stop everything, listed. */
export function readIdFile(path: string, context: Pick<CliContext, 'stderr'>): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read --file ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message} — one order id per line`);
  }
  const whole = parseJson(text.trim());
  const entries: Array<{ line: number; value: unknown }> = Array.isArray(whole)
    ? whole.map((value, i) => ({ line: i + 1, value }))
    : text.split(/\r?\n/).flatMap((raw, i) => {
        const trimmed = raw.trim();
        if (trimmed === '' || trimmed.startsWith('#')) return [];
        return [{ line: i + 1, value: trimmed.startsWith('{') ? (parseJson(trimmed) ?? Symbol.for('bad json')) : trimmed }];
      });
  const ids: string[] = [];
  const bad: string[] = [];
  for (const { line, value } of entries) {
    const id = idOf(value);
    if (typeof id === 'string' && ORDER_ID_PATTERN.test(id)) ids.push(id);
    else bad.push(`${path}:${Array.isArray(whole) ? `[${line - 1}]` : line}: ${typeof id === 'string' ? `"${id.slice(0, 70)}" is not an order id` : id.problem}`);
  }
  if (bad.length > 0) {
    for (const message of bad.slice(0, BAD_LINES_SHOWN)) context.stderr.write(`${message}\n`);
    if (bad.length > BAD_LINES_SHOWN) context.stderr.write(`… and ${bad.length - BAD_LINES_SHOWN} more\n`);
    throw new UsageError(`${plural(bad.length, 'bad line')} in ${path} (listed above); nothing was cancelled — one order id per line, or JSON with "orderId"`);
  }
  return ids;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The order id a file entry names: an export's dead-lettered order, an object's orderId, or the text itself. */
function idOf(value: unknown): string | { problem: string } {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: 'not valid JSON, or not an object with "orderId"' };
  const exported = asExportedLine(value);
  const id = exported ? exported.deadLetter.orderId : (value as { orderId?: unknown }).orderId;
  return typeof id === 'string' ? id : { problem: exported ? 'deadLetter.orderId: missing — this dead letter names no order' : 'orderId: missing' };
}

async function cancelAll(target: Target, ids: readonly string[]): Promise<CancelResult[]> {
  const results: CancelResult[] = new Array(ids.length);
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const i = next++;
      const id = ids[i] as string;
      results[i] = classify(id, await target.cancelOrder(id));
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, ids.length) }, worker));
  return results;
}

/**
 * @example
 * classify('o-1', { status: 200, body: { status: 'cancelled', stage: 'packing' } }); // { orderId: 'o-1', outcome: 'cancelled', httpStatus: 200, status: 'cancelled', detail: 'was waiting in packing' }
 */
export function classify(orderId: string, answer: { status: number; body: unknown }): CancelResult {
  const body = (answer.body ?? {}) as { status?: unknown; stage?: unknown; order?: { status?: unknown; delivery?: Record<string, unknown> } };
  if (answer.status === 200) {
    return { orderId, outcome: 'cancelled', httpStatus: 200, status: String(body.status ?? 'cancelled'), ...(typeof body.stage === 'string' ? { detail: `was waiting in ${body.stage}` } : {}) };
  }
  if (answer.status === 409) {
    const status = typeof body.order?.status === 'string' ? body.order.status : 'final';
    const delivery = body.order?.delivery;
    const detail = delivery ? Object.entries(delivery).filter(([k]) => ['carrier', 'trackingNumber'].includes(k)).map(([k, v]) => `${k} ${String(v)}`).join(', ') : undefined;
    return { orderId, outcome: 'already-final', httpStatus: 409, status, ...(detail ? { detail } : {}) };
  }
  if (answer.status === 404) return { orderId, outcome: 'not-found', httpStatus: 404 };
  return { orderId, outcome: 'failed', httpStatus: answer.status, detail: describeHttpProblem(answer.status, answer.body) };
}

export function renderCancels(results: readonly CancelResult[], style: Style): string[] {
  const label = (r: CancelResult) =>
    r.outcome === 'cancelled' ? style.green('cancelled') : r.outcome === 'already-final' ? style.yellow(`already ${r.status ?? 'final'} (409)`) : r.outcome === 'not-found' ? style.red('not found (404)') : style.red(`failed (${r.httpStatus})`);
  const rows = results.map((r) => [r.orderId, label(r), r.detail ?? '']);
  const tally = (outcome: CancelOutcome) => results.filter((r) => r.outcome === outcome).length;
  const summary = [`${tally('cancelled')} cancelled`, `${tally('already-final')} already final`, `${tally('not-found')} not found`, ...(tally('failed') > 0 ? [`${tally('failed')} failed`] : [])].join(' · ');
  return [...renderTable([{ header: 'ORDER' }, { header: 'RESULT' }, { header: 'DETAIL' }], rows, { headerStyle: (t) => style.dim(t) }), '', summary];
}
