/** `conveyor send`: the load generator and bulk sender, through the order API. */
import { Option, type Command } from 'commander';
import { sendInBulk, type SendTally } from '../bulk-sender.ts';
import { say, sayJson, styleFor, type CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import { count, plural } from '../format.ts';
import { withTarget, type GlobalOptions } from '../open-target.ts';
import { chooseWarehouses, positiveNumber, wholeNumber } from '../options.ts';
import { generatedOrders, readOrderFile, runPrefix, type OrderSource } from '../order-source.ts';
import { progressBar } from '../progress.ts';
import type { RunState } from '../program.ts';
import type { Style } from '../style.ts';

const MAX_COUNT = 1_000_000;
/** Bad lines listed before "… and N more". */
const BAD_LINES_SHOWN = 20;

const HELP = `
Orders go through the order API (POST /orders, up to 100 per request), exactly as clients send
them. Generated orders get ids load-<run>-0, load-<run>-1, … (printed at the end), spread over
every warehouse unless --warehouse names one. With --file, each line is one order as JSON
({"orderId"?, "warehouseId"?, "items": [{"sku", "quantity"}], …}), or a dead letter as
\`conveyor dlq export\` writes it ({"order": {…}, "deadLetter": {…}}: its "order" is sent); every
line is checked first — a bad one is named by line and field — and nothing is sent while any is
bad (unless --skip-invalid). Exit code 1 when any order was rejected or could not be queued.

Examples:
  $ npx conveyor send --count 10 --warehouse wh-1
  $ npx conveyor send --count 10000 --rate 500                  paced load over all warehouses
  $ npx conveyor send --file orders.jsonl
  $ npx conveyor send --file orders.jsonl --warehouse wh-2 --skip-invalid
  $ npx conveyor send --file dead.jsonl                        dead letters fixed after \`conveyor dlq export\`
  $ npx conveyor send --count 100 --json
  $ npx conveyor send --count 1000 --target aws --region eu-west-1   signed with your AWS credentials (SigV4)
`;

interface SendOptions {
  readonly count?: number;
  readonly warehouse?: string;
  readonly rate?: number;
  readonly file?: string;
  readonly skipInvalid?: boolean;
  readonly json?: boolean;
}

export function registerSendCommand(program: Command, context: CliContext, state: RunState): void {
  program
    .command('send')
    .description(
      'send orders through the API: a load generator (--count) or a bulk sender (--file); progress bar, then a summary',
    )
    .addOption(
      new Option(
        '--count <n>',
        `orders to generate (1–${count(MAX_COUNT)}); with --file, send only the first n`,
      ).argParser(wholeNumber('--count', 1, MAX_COUNT, '--count 100')),
    )
    .option('--warehouse <id>', 'send to this warehouse only (default: spread over all)')
    .addOption(
      new Option('--rate <perSecond>', 'orders per second at most (default: as fast as the API takes them)').argParser(
        positiveNumber('--rate', 100_000, '--rate 200'),
      ),
    )
    .option('--file <path>', 'send the orders in this JSON Lines file (one order per line, or `dlq export` lines)')
    .option('--skip-invalid', 'with --file: send the valid lines even if some are bad')
    .option('--json', 'print the summary as JSON')
    .addHelpText('after', HELP)
    .action(async (options: SendOptions, command: Command) => {
      const globals = command.optsWithGlobals() as GlobalOptions;
      if (options.count === undefined && options.file === undefined) {
        throw new UsageError(
          'send needs --count N (generate N orders) or --file orders.jsonl — e.g. conveyor send --count 100',
        );
      }
      if (options.skipInvalid && options.file === undefined)
        throw new UsageError('--skip-invalid applies to --file — add --file orders.jsonl, or leave it out');
      await withTarget(globals, context, async (target) => {
        const known = await target.warehouses();
        const warehouses = chooseWarehouses(options.warehouse, known);
        let source: OrderSource;
        if (options.file !== undefined) {
          const read = readOrderFile(options.file, {
            known,
            ...(options.warehouse ? { warehouse: options.warehouse } : {}),
          });
          if (read.bad.length > 0) {
            for (const bad of read.bad.slice(0, BAD_LINES_SHOWN))
              context.stderr.write(`${options.file}:${bad.line}: ${bad.message}\n`);
            if (read.bad.length > BAD_LINES_SHOWN)
              context.stderr.write(`… and ${read.bad.length - BAD_LINES_SHOWN} more bad lines\n`);
            if (!options.skipInvalid) {
              throw new UsageError(
                `${plural(read.bad.length, 'bad line')} in ${options.file} (listed above); nothing was sent — fix them, or pass --skip-invalid to send the valid ${read.source.total === 1 ? 'one' : `${count(read.source.total)}`}`,
              );
            }
          }
          if (read.source.total === 0)
            throw new UsageError(
              `${options.file} holds no valid order — one JSON order per line, e.g. {"warehouseId":"wh-1","items":[{"sku":"SKU-1","quantity":2}]}`,
            );
          source =
            options.count === undefined || options.count >= read.source.total
              ? read.source
              : { ...read.source, total: options.count };
        } else {
          source = generatedOrders(options.count as number, warehouses, runPrefix(context.now()));
        }

        const bar = progressBar(context.stderr, source.total, 'orders', context.now);
        let tally: SendTally;
        try {
          tally = await sendInBulk(target, source, {
            ...(options.rate === undefined ? {} : { ratePerSecond: options.rate }),
            onProgress: (done) => bar.update(done),
            now: context.now,
            sleep: context.sleep,
          });
        } finally {
          bar.finish();
        }
        if (tally.rejected + tally.unavailable > 0) state.exitCode = 1;
        if (options.json)
          return sayJson(context, {
            ...tally,
            warehouses: source.warehouses,
            ...(source.idRange ? { orderIds: source.idRange } : {}),
          });
        for (const line of renderSummary(tally, source, styleFor(context))) say(context, line);
      });
    });
}

/** The closing summary: what happened to every order, rejections grouped by reason. */
export function renderSummary(tally: SendTally, source: OrderSource, style: Style): string[] {
  const width = String(tally.requested).length + 2;
  const row = (label: string, n: number, paint: (s: string) => string = (s) => s) => {
    const text = count(n).padStart(width);
    return `  ${label.padEnd(12)}${n > 0 ? paint(text) : text}`;
  };
  const lines = [
    `sent ${plural(tally.requested, 'order')} to ${source.warehouses.join(', ')} in ${tally.seconds.toFixed(tally.seconds < 10 ? 2 : 1)} s — ${count(Math.round(tally.ordersPerSecond))} orders/s`,
    row('accepted', tally.accepted, style.green),
    row('duplicates', tally.duplicates),
    row('rejected', tally.rejected, style.red),
    row('unavailable', tally.unavailable, style.red),
  ];
  if (tally.rejections.length > 0) {
    lines.push('', 'rejected, by reason:');
    for (const r of tally.rejections)
      lines.push(
        `  ${count(r.count).padStart(width)} × ${r.reason}${r.orderIds.length > 0 ? style.dim(` (e.g. ${r.orderIds.join(', ')})`) : ''}`,
      );
  }
  if (tally.unavailable > 0)
    lines.push(
      '',
      style.yellow(
        `${plural(tally.unavailable, 'order')} could not be queued after retries (the API answered 503/429) — nothing was recorded for them; send them again`,
      ),
    );
  if (source.idRange) lines.push(style.dim(`order ids: ${source.idRange}`));
  return lines;
}
