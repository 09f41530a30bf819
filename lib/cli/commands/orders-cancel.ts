/**
 * `conveyor orders cancel ID [ID…] [--file F]`: cancel orders that are not delivered yet (DELETE
 * /orders/{id}), one line per order — cancelled, already final (409: delivered or purged), not found
 * (404) — and exit code 1 when any was not cancelled.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ORDER_ID_PATTERN, ORDER_ID_RULE } from '../../domain/order.ts';
import { asExportedLine } from '../../operations/dead-letter-export.ts';
import { say, sayJson, styleFor, type CliContext } from '../context.ts';
import { explainError, UsageError } from '../errors.ts';
import { plural } from '../format.ts';
import { withTarget, type GlobalOptions } from '../open-target.ts';
import type { RunState } from '../program.ts';
import type { Style } from '../style.ts';
import { renderTable } from '../table.ts';
import type { CancelResult, Target } from '../target.ts';

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

export interface CancelLine {
  readonly orderId: string;
  readonly outcome: CancelOutcome;
  /** The order's status after the call (cancelled, delivered, purged…), when the API said. */
  readonly status?: string;
  /** Where it was (cancelled), what it became (already final), or what went wrong (failed). */
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
      const wanted = [
        ...new Set([...ids.map(checkId), ...(options.file === undefined ? [] : readIdFile(options.file, context))]),
      ];
      if (wanted.length === 0)
        throw new UsageError('orders cancel needs order ids — e.g. conveyor orders cancel o-1 o-2, or --file ids.txt');
      const globals = command.optsWithGlobals() as GlobalOptions;
      const results = await withTarget(globals, context, (target) => cancelAll(target, wanted));
      if (results.some((r) => r.outcome !== 'cancelled')) state.exitCode = 1;
      if (options.json) return sayJson(context, results);
      for (const line of renderCancels(results, styleFor(context))) say(context, line);
    });
}

function checkId(id: string): string {
  if (!ORDER_ID_PATTERN.test(id)) throw new UsageError(`"${id}" is not an order id — ids are ${ORDER_ID_RULE}`);
  return id;
}

/** Order ids from a file: a JSON list, JSON lines, or one id per line. Bad lines stop everything, listed. */
export function readIdFile(path: string, context: Pick<CliContext, 'stderr'>): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      `cannot read --file ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message} — one order id per line`,
    );
  }
  const whole = parseJson(text.trim());
  const entries: Array<{ line: number; value: unknown }> = Array.isArray(whole)
    ? whole.map((value, i) => ({ line: i + 1, value }))
    : text.split(/\r?\n/).flatMap((raw, i) => {
        const trimmed = raw.trim();
        if (trimmed === '' || trimmed.startsWith('#')) return [];
        return [
          { line: i + 1, value: trimmed.startsWith('{') ? (parseJson(trimmed) ?? Symbol.for('bad json')) : trimmed },
        ];
      });
  const ids: string[] = [];
  const bad: string[] = [];
  for (const { line, value } of entries) {
    const id = idOf(value);
    if (typeof id === 'string' && ORDER_ID_PATTERN.test(id)) ids.push(id);
    else
      bad.push(
        `${path}:${Array.isArray(whole) ? `[${line - 1}]` : line}: ${typeof id === 'string' ? `"${id.slice(0, 70)}" is not an order id` : id.problem}`,
      );
  }
  if (bad.length > 0) {
    for (const message of bad.slice(0, BAD_LINES_SHOWN)) context.stderr.write(`${message}\n`);
    if (bad.length > BAD_LINES_SHOWN) context.stderr.write(`… and ${bad.length - BAD_LINES_SHOWN} more\n`);
    throw new UsageError(
      `${plural(bad.length, 'bad line')} in ${path} (listed above); nothing was cancelled — one order id per line, or JSON with "orderId"`,
    );
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
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { problem: 'not valid JSON, or not an object with "orderId"' };
  const exported = asExportedLine(value);
  const id = exported ? exported.deadLetter.orderId : (value as { orderId?: unknown }).orderId;
  return typeof id === 'string'
    ? id
    : { problem: exported ? 'deadLetter.orderId: missing — this dead letter names no order' : 'orderId: missing' };
}

async function cancelAll(target: Target, ids: readonly string[]): Promise<CancelLine[]> {
  const results: CancelLine[] = new Array(ids.length);
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const i = next++;
      const id = ids[i] as string;
      // One order the API would not answer for is reported on its line; the others go on.
      results[i] = await target.cancelOrder(id).then(
        (result) => lineOf(id, result),
        (error: unknown): CancelLine => ({ orderId: id, outcome: 'failed', detail: explainError(error).message }),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, ids.length) }, worker));
  return results;
}

/**
 * @example
 * lineOf('o-1', { outcome: 'cancelled', order: { status: 'cancelled', stage: 'packing' } }); // { orderId: 'o-1', outcome: 'cancelled', status: 'cancelled', detail: 'was waiting in packing' }
 */
export function lineOf(orderId: string, result: CancelResult | undefined): CancelLine {
  if (result === undefined) return { orderId, outcome: 'not-found' };
  const { order } = result;
  const status = typeof order.status === 'string' ? order.status : undefined;
  if (result.outcome === 'cancelled')
    return {
      orderId,
      outcome: 'cancelled',
      status: status ?? 'cancelled',
      ...(typeof order.stage === 'string' ? { detail: `was waiting in ${order.stage}` } : {}),
    };
  const delivery = order.delivery as Record<string, unknown> | undefined;
  const detail =
    delivery && typeof delivery === 'object'
      ? Object.entries(delivery)
          .filter(([k]) => ['carrier', 'trackingNumber'].includes(k))
          .map(([k, v]) => `${k} ${String(v)}`)
          .join(', ')
      : result.reason;
  return { orderId, outcome: 'already-final', status: status ?? 'final', ...(detail ? { detail } : {}) };
}

export function renderCancels(results: readonly CancelLine[], style: Style): string[] {
  const label = (r: CancelLine) =>
    r.outcome === 'cancelled'
      ? style.green('cancelled')
      : r.outcome === 'already-final'
        ? style.yellow(`already ${r.status ?? 'final'} (409)`)
        : r.outcome === 'not-found'
          ? style.red('not found (404)')
          : style.red('failed');
  const rows = results.map((r) => [r.orderId, label(r), r.detail ?? '']);
  const tally = (outcome: CancelOutcome): number => results.filter((r) => r.outcome === outcome).length;
  const summary = [
    `${tally('cancelled')} cancelled`,
    `${tally('already-final')} already final`,
    `${tally('not-found')} not found`,
    ...(tally('failed') > 0 ? [`${tally('failed')} failed`] : []),
  ].join(' · ');
  return [
    ...renderTable([{ header: 'ORDER' }, { header: 'RESULT' }, { header: 'DETAIL' }], rows, {
      headerStyle: (t) => style.dim(t),
    }),
    '',
    summary,
  ];
}
