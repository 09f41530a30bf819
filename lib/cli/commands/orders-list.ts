/** `conveyor orders list --status S`: the orders in a state an operator acts on, newest first. */
import { Option, type Command } from 'commander';
import { LISTED_STATES, MAX_LISTED, type ListedOrders, type ListedState } from '../../ledger/listing.ts';
import { say, sayJson, styleFor, type CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import { plural, timestamp } from '../format.ts';
import { targetFlags, withTarget, type GlobalOptions } from '../open-target.ts';
import { chooseWarehouses, wholeNumber } from '../options.ts';
import { sinceFlag, sinceTime, type Since } from '../since.ts';
import type { Style } from '../style.ts';
import { renderTable } from '../table.ts';

const DEFAULT_LIMIT = 100;

const HELP = `
Orders that need an operator: dead-lettered (with the reason), cancelled and purged (with who did
it). In-flight and delivered orders are not listed — look one up with \`conveyor orders get ID\`.
Read through an index that holds only these states (on AWS: DynamoDB Query on the status table's
listing index, then each order's record; your role needs dynamodb:Query on the table and its index).
Each order is shown as its record is now; an index entry whose order has moved on (redriven) is left
out and counted. --since takes a duration back from now (30m, 1h, 7d) or a time (2026-12-01T09:00Z).
With --json: {"orders": [...], "truncated", "skipped"}.

Examples:
  $ npx conveyor orders list --status dead-lettered
  $ npx conveyor orders list --status dead-lettered,cancelled --warehouse wh-1 --since 1h
  $ npx conveyor orders list --status purged --json | jq -r '.orders[].orderId'
  $ npx conveyor orders list --status dead-lettered --target aws --region eu-west-1
`;

interface ListOptions {
  readonly status: ListedState[];
  readonly warehouse?: string;
  readonly since?: Since;
  readonly limit: number;
  readonly json?: boolean;
}

/** `--status`: one or more listed states, comma-separated. */
function listedStates(value: string): ListedState[] {
  const states = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const wrong = states.find((s) => !(LISTED_STATES as readonly string[]).includes(s));
  if (states.length === 0 || wrong !== undefined) {
    throw new UsageError(
      `--status must be ${LISTED_STATES.join(', ')} or several of them comma-separated${wrong !== undefined ? `, got "${wrong}"` : ''} — in-flight and delivered orders are not listed; look one up with \`conveyor orders get ID\``,
    );
  }
  return [...new Set(states)] as ListedState[];
}

/** Adds `list` to the `orders` command. */
export function registerOrderList(orders: Command, context: CliContext): void {
  orders
    .command('list')
    .description('orders by state — dead-lettered, cancelled, purged — newest first')
    .requiredOption(
      '--status <states>',
      `${LISTED_STATES.join(', ')}; several comma-separated (required)`,
      listedStates,
    )
    .option('--warehouse <id>', 'this warehouse only (default: all)')
    .addOption(
      new Option('--since <when>', 'entered the state since: 30m, 1h, 7d or a time').argParser(sinceFlag('--since')),
    )
    .addOption(
      new Option('--limit <n>', `at most this many, 1–${MAX_LISTED}`)
        .default(DEFAULT_LIMIT)
        .argParser(wholeNumber('--limit', 1, MAX_LISTED, '--limit 500')),
    )
    .option('--json', 'print them as JSON')
    .addHelpText('after', HELP)
    .action(async (options: ListOptions, command: Command) => {
      const globals = command.optsWithGlobals() as GlobalOptions;
      const since = options.since ? new Date(sinceTime(options.since, context.now())).toISOString() : undefined;
      const listed = await withTarget(globals, context, async (target) => {
        if (options.warehouse !== undefined) chooseWarehouses(options.warehouse, await target.warehouses());
        return target.listOrders({
          states: options.status,
          limit: options.limit,
          ...(options.warehouse ? { warehouse: options.warehouse } : {}),
          ...(since ? { since } : {}),
        });
      });
      if (options.json) {
        sayJson(context, listed);
        if (listed.truncated) context.stderr.write(`conveyor: ${truncationNote(listed, options.limit)}\n`);
        return;
      }
      for (const line of renderOrderList(
        listed,
        { ...options, ...(since ? { sinceIso: since } : {}) },
        styleFor(context),
        targetFlags(globals),
      ))
        say(context, line);
    });
}

function truncationNote(listed: ListedOrders, limit: number): string {
  return `more orders may match than the ${listed.orders.length + listed.skipped} found — raise --limit (now ${limit}, at most ${MAX_LISTED}) or narrow with --since or --warehouse`;
}

/**
 * The list as lines: a table, then what it covers and where to look next.
 * @example
 * renderOrderList({ orders: [...], truncated: false, skipped: 0 }, { status: ['dead-lettered'], limit: 100 }, createStyle(false), '');
 */
export function renderOrderList(
  listed: ListedOrders,
  query: Pick<ListOptions, 'status' | 'warehouse' | 'limit'> & { sinceIso?: string },
  style: Style,
  flags: string,
): string[] {
  const what = `${query.status.join(' or ')} orders${query.warehouse ? ` in ${query.warehouse}` : ''}${query.sinceIso ? ` since ${timestamp(query.sinceIso)} UTC` : ''}`;
  if (listed.orders.length === 0)
    return [
      `no ${what}${listed.skipped > 0 ? ` (${plural(listed.skipped, 'index entry', 'index entries')} skipped: those orders moved on)` : ''}`,
    ];
  const paint = (status: string) => (status === 'dead-lettered' ? style.red(status) : style.yellow(status));
  const rows = listed.orders.map((o) => [
    o.orderId,
    o.warehouseId ?? '—',
    paint(o.status),
    o.stage || '—',
    timestamp(o.since),
    o.reason ?? (o.by ? `by ${o.by}` : ''),
  ]);
  const first = listed.orders[0]?.orderId as string;
  return [
    ...renderTable(
      [
        { header: 'ORDER' },
        { header: 'WAREHOUSE' },
        { header: 'STATUS' },
        { header: 'STAGE' },
        { header: 'SINCE (UTC)' },
        { header: 'REASON / BY' },
      ],
      rows,
      { headerStyle: style.dim },
    ),
    '',
    `${plural(listed.orders.length, 'order')}: ${what}, newest first`,
    ...(listed.truncated ? [style.yellow(truncationNote(listed, query.limit))] : []),
    ...(listed.skipped > 0
      ? [
          style.dim(
            `${plural(listed.skipped, 'index entry', 'index entries')} left out: the order moved on since (a redrive)`,
          ),
        ]
      : []),
    style.dim(`one order's story: conveyor trace ${first}${flags}`),
  ];
}
