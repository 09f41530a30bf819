/** `conveyor orders get ID`: one order's status, stage and history as a timeline. */
import type { Command } from 'commander';
import { ORDER_ID_PATTERN, ORDER_ID_RULE } from '../../domain/order.ts';
import { say, sayJson, styleFor, type CliContext } from '../context.ts';
import { CliError, UsageError } from '../errors.ts';
import { timestamp } from '../format.ts';
import { targetFlags, withTarget, type GlobalOptions } from '../open-target.ts';
import type { RunState } from '../program.ts';
import type { Style } from '../style.ts';
import { renderTable } from '../table.ts';
import { registerOrderList } from './orders-list.ts';
import { registerCancelCommand } from './orders-cancel.ts';

const HELP = `
The order's record from the ledger, through the order API (GET /orders/{id}; on AWS signed
with your credentials): status, the stage it waits in (or whose DLQ holds it), and every
transition with who made it and when. With tracking "terminal", the history has no middle-stage steps.

Examples:
  $ npx conveyor orders get o-1
  $ npx conveyor orders get load-m3x1abc-7 --json
  $ npx conveyor orders get o-1 --target aws --region eu-west-1
`;

interface HistoryEntry {
  readonly at?: string;
  readonly status?: string;
  readonly by?: string;
  readonly detail?: Record<string, unknown>;
  readonly reason?: string;
}

export function registerOrderCommands(program: Command, context: CliContext, state: RunState): void {
  const orders = program
    .command('orders')
    .description('look up and cancel orders')
    .addHelpText(
      'after',
      '\nExamples:\n  $ npx conveyor orders get o-1\n  $ npx conveyor orders get o-1 --json\n  $ npx conveyor orders cancel o-1 o-2\n',
    );
  orders
    .command('get')
    .description("an order's status, stage and history (a timeline)")
    .argument('<orderId>', 'the order id')
    .option('--json', 'print the record as JSON')
    .addHelpText('after', HELP)
    .action(async (orderId: string, options: { json?: boolean }, command: Command) => {
      if (!ORDER_ID_PATTERN.test(orderId))
        throw new UsageError(`"${orderId}" is not an order id — ids are ${ORDER_ID_RULE}`);
      const globals = command.optsWithGlobals() as GlobalOptions;
      const record = await withTarget(globals, context, (target) => target.getOrder(orderId));
      if (!record)
        throw new CliError(`no order "${orderId}" — check the id (\`conveyor send\` prints the ids it used)`);
      if (options.json) return sayJson(context, record);
      for (const line of renderOrder(record, styleFor(context), targetFlags(globals))) say(context, line);
    });
  registerOrderList(orders, context);
  registerCancelCommand(orders, context, state);
}

/**
 * @example
 * renderOrder({ orderId: 'o-1', status: 'delivered', stage: 'delivery', history: [...] }, createStyle(false), '');
 */
export function renderOrder(record: Record<string, unknown>, style: Style, flags: string): string[] {
  const status = String(record.status ?? 'unknown');
  const paint = status === 'delivered' ? style.green : status === 'dead-lettered' ? style.red : style.cyan;
  const history = (Array.isArray(record.history) ? record.history : []) as HistoryEntry[];
  const first = Date.parse(history[0]?.at ?? '');
  const rows = history.map((h) => {
    const offset = Number.isNaN(first) || !h.at ? '' : `+${((Date.parse(h.at) - first) / 1000).toFixed(2)} s`;
    const detail = [
      h.detail
        ? Object.entries(h.detail)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(' ')
        : '',
      h.reason ? style.red(`reason: ${h.reason}`) : '',
    ]
      .filter(Boolean)
      .join('  ');
    const entryStatus = h.status === 'dead-lettered' ? style.red(h.status) : (h.status ?? '');
    return [timestamp(h.at), offset, entryStatus, h.by ?? '', detail];
  });
  const lines = [
    `${style.bold(`order ${String(record.orderId)}`)}${record.warehouseId ? ` · ${String(record.warehouseId)}` : ''} · ${paint(status)} · stage ${String(record.stage ?? '—')}`,
    style.dim(
      `created ${timestamp(record.createdAt as string | undefined)} · updated ${timestamp(record.updatedAt as string | undefined)} (UTC)`,
    ),
    '',
    ...renderTable(
      [
        { header: 'TIME (UTC)' },
        { header: 'SINCE', align: 'right' },
        { header: 'STATUS' },
        { header: 'BY' },
        { header: 'DETAIL' },
      ],
      rows,
      { headerStyle: style.dim },
    ),
  ];
  const delivery = record.delivery as Record<string, unknown> | undefined;
  if (delivery && typeof delivery === 'object')
    lines.push(
      '',
      `delivery: ${Object.entries(delivery)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' · ')}`,
    );
  if (status === 'dead-lettered') {
    lines.push('', `${style.red('dead-lettered')}${record.reason ? `: ${String(record.reason)}` : ''}`);
    if (record.stage)
      lines.push(
        `after fixing the cause: conveyor dlq redrive --stage ${String(record.stage)}${record.warehouseId ? ` --warehouse ${String(record.warehouseId)}` : ''}${flags}`,
      );
  }
  return lines;
}
