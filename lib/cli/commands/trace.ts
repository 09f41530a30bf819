/** `conveyor trace ID`: one order's whole story — its history and every log line about it — in time order. */
import { Option, type Command } from 'commander';
import { ORDER_ID_PATTERN, ORDER_ID_RULE } from '../../domain/order.ts';
import { ORDER_LOG_LIMITS } from '../../local/order-log.ts';
import type { OrderTrace, TraceEntry } from '../../operations/order-trace.ts';
import { say, sayJson, styleFor, type CliContext } from '../context.ts';
import { CliError, UsageError } from '../errors.ts';
import { count, plural, timestamp } from '../format.ts';
import { targetFlags, withTarget, type GlobalOptions } from '../open-target.ts';
import type { RunState } from '../program.ts';
import { spinner } from '../progress.ts';
import { sinceFlag, sinceTime, type Since } from '../since.ts';
import type { Style } from '../style.ts';
import { renderTable } from '../table.ts';

const HELP = `
Everything that happened to one order, oldest first: each entry of its history (the ledger: accepted,
each stage's step, delivered / dead-lettered / cancelled) and every log line a function wrote about
it — the intake's, each stage's retries and dead letters with the receive count and the reason, the
dead-letter auditor's. A stage that handled the order without trouble shows its history entry (with
tracking "full"); stages log a line of their own only when something went wrong.

Locally the runtime keeps the functions' order lines (${ORDER_LOG_LIMITS.maxBytes / 1024 / 1024} MiB at most, oldest dropped first; in the
data directory across restarts). On AWS a CloudWatch Logs Insights query searches the log groups of
the order's warehouse's stages, the intake and the auditor, from the order's creation (or --since)
to its end; a spinner shows it working. Your role needs logs:StartQuery and logs:GetQueryResults
(and logs:StopQuery, to stop a query that runs too long), besides execute-api:Invoke for the record.
With --json: {"orderId", "record", "entries": [{"type": "history" | "log", "at", …}], "logs"}.

Examples:
  $ npx conveyor trace o-1
  $ npx conveyor trace load-m3x1abc-7 --json | jq '.entries[] | select(.type == "log")'
  $ npx conveyor trace o-1 --target aws --region eu-west-1 --since 2d
`;

export function registerTraceCommand(program: Command, context: CliContext, _state: RunState): void {
  program
    .command('trace')
    .description("one order's story: its history and every log line about it, in time order")
    .argument('<orderId>', 'the order id')
    .addOption(
      new Option(
        '--since <when>',
        'log lines from then on: 30m, 2h, 7d or a time (default: since the order was created)',
      ).argParser(sinceFlag('--since')),
    )
    .option('--json', 'print the trace as JSON')
    .addHelpText('after', HELP)
    .action(async (orderId: string, options: { since?: Since; json?: boolean }, command: Command) => {
      if (!ORDER_ID_PATTERN.test(orderId))
        throw new UsageError(`"${orderId}" is not an order id — ids are ${ORDER_ID_RULE}`);
      const globals = command.optsWithGlobals() as GlobalOptions;
      const spin = options.json ? undefined : spinner(context.stderr, `tracing ${orderId}`);
      let trace: OrderTrace | undefined;
      try {
        trace = await withTarget(globals, context, (target) =>
          target.trace(orderId, {
            ...(options.since ? { since: sinceTime(options.since, context.now()) } : {}),
            onProgress: (p) =>
              spin?.update(
                `querying CloudWatch Logs Insights (${p.status}) — ${count(p.recordsScanned)} records scanned, ${count(p.recordsMatched)} matched`,
              ),
          }),
        );
      } finally {
        spin?.finish();
      }
      if (!trace)
        throw new CliError(
          `no order "${orderId}" — neither the ledger nor the logs know it; check the id (\`conveyor orders list\` finds dead-lettered, cancelled and purged ones)`,
        );
      if (options.json) return sayJson(context, trace);
      for (const line of renderTrace(trace, styleFor(context), targetFlags(globals))) say(context, line);
    });
}

/**
 * The trace as lines: the order, a table of entries, and what the logs covered.
 * @example
 * renderTrace({ orderId: 'o-1', record: { … }, entries: [...], logs: { source: '…' } }, createStyle(false), '');
 */
export function renderTrace(trace: OrderTrace, style: Style, flags: string): string[] {
  const { record, entries } = trace;
  const first = Date.parse(entries[0]?.at ?? '');
  const rows = entries.map((e) => {
    const offset = Number.isNaN(first) ? '' : `+${((Date.parse(e.at) - first) / 1000).toFixed(2)} s`;
    return [timestamp(e.at), offset, whereOf(e), eventOf(e, style), detailOf(e, style)];
  });
  const failures = entries.filter((e) => e.type === 'log' && e.receiveCount !== undefined);
  const stages = [...new Set(entries.filter((e) => e.type === 'history').map((e) => e.by))];
  const status = record?.status ?? 'not in the ledger';
  const paint = status === 'delivered' ? style.green : status === 'dead-lettered' ? style.red : style.cyan;
  return [
    `${style.bold(`order ${trace.orderId}`)}${record?.warehouseId ? ` · ${record.warehouseId}` : ''} · ${paint(status)}${record ? ` · stage ${record.stage || '—'}` : ''}`,
    ...(record
      ? [style.dim(`created ${timestamp(record.createdAt)} · updated ${timestamp(record.updatedAt)} (UTC)`)]
      : []),
    '',
    ...renderTable(
      [
        { header: 'TIME (UTC)' },
        { header: 'SINCE', align: 'right' },
        { header: 'WHERE' },
        { header: 'EVENT' },
        { header: 'DETAIL' },
      ],
      rows,
      { headerStyle: style.dim },
    ),
    '',
    `history from ${stages.length > 0 ? stages.join(', ') : 'nobody'} · ${plural(entries.length - entries.filter((e) => e.type === 'history').length, 'log line')} · ${plural(failures.length, 'failed receive')}`,
    style.dim(
      `log lines: ${trace.logs.source}${trace.logs.from ? `, ${timestamp(trace.logs.from)} to ${timestamp(trace.logs.to)} UTC` : ''}`,
    ),
    ...(trace.logs.incomplete ? [style.yellow(trace.logs.incomplete)] : []),
    ...(status === 'dead-lettered' && record?.stage
      ? [
          style.dim(
            `after fixing the cause: conveyor dlq redrive --stage ${record.stage}${record.warehouseId ? ` --warehouse ${record.warehouseId}` : ''}${flags}`,
          ),
        ]
      : []),
  ];
}

function whereOf(e: TraceEntry): string {
  return e.type === 'history' ? e.by : e.source;
}

function eventOf(e: TraceEntry, style: Style): string {
  if (e.type === 'history')
    return e.status === 'dead-lettered' ? style.red(`status ${e.status}`) : `status ${e.status}`;
  const paint =
    e.level === 'ERROR' || e.level === 'CRITICAL'
      ? style.red
      : e.level === 'WARN'
        ? style.yellow
        : (text: string) => text;
  return paint(e.message);
}

function detailOf(e: TraceEntry, style: Style): string {
  if (e.type === 'history') {
    return [
      e.detail
        ? Object.entries(e.detail)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(' ')
        : '',
      e.reason ? style.red(`reason: ${e.reason}`) : '',
    ]
      .filter(Boolean)
      .join('  ');
  }
  return [
    e.stage ? `stage ${e.stage}` : '',
    e.receiveCount !== undefined ? `receive ${e.receiveCount}` : '',
    e.retryInSeconds !== undefined ? `retry in ${e.retryInSeconds} s` : '',
    e.kind ? `kind ${e.kind}` : '',
    e.orders !== undefined ? `${plural(e.orders, 'order')} in the request` : '',
    e.reason ? `reason: ${e.reason}` : '',
    e.error ? `error: ${e.error}` : '',
  ]
    .filter(Boolean)
    .join(' · ');
}
