/**
 * `conveyor dlq peek | redrive | export`: the dead-letter workbench — find dead letters by reason,
 * kind, order and time without consuming them; move back only those that match (or see first what
 * would move); write them out as JSON lines to fix and send again.
 */
import { Option, type Command } from 'commander';
import { describeFilter, type DeadLetterFilter } from '../../operations/dead-letter-filter.ts';
import type { DeadLetter } from '../../operations/dead-letters.ts';
import { say, sayJson, styleFor, type CliContext } from '../context.ts';
import { addFilterFlags, filterFlagsText, filterOf, type FilterFlags } from '../dead-letter-flags.ts';
import { CliError } from '../errors.ts';
import { plural, timestamp } from '../format.ts';
import { selectStages, targetFlags, withTarget, type GlobalOptions } from '../open-target.ts';
import { stageName, wholeNumber } from '../options.ts';
import type { RunState } from '../program.ts';
import type { Style } from '../style.ts';
import { renderTable } from '../table.ts';
import { stageKey, type RedriveResult, type StageRef, type Target } from '../target.ts';
import { registerExportCommand } from './dlq-export.ts';

const MAX_PEEK = 100;

const FILTER_HELP = `
Filters (peek, redrive and export take the same; together they must all hold):
  --grep TEXT     the reason contains TEXT, in any case (e.g. --grep "scanner offline")
  --order ID      one order's dead letters
  --kind K[,K]    poison (failed validation — never retried), rejected (a permanent business
                  failure) or exhausted (out of retries; also every dead letter SQS's redrive policy
                  moved — a function that timed out, crashed or was throttled — with the reason the
                  dead-letter auditor records for it)
  --since WHEN    dead-lettered in the last 30m / 2h / 7d, or since a time (2025-06-01T12:00:00Z);
                  for a dead letter SQS moved: since its order was first sent to the stage
`;

const PEEK_HELP = `
SQS has no peek: messages are received with a short visibility timeout and made visible again at
once, so nothing is consumed (if the CLI dies meanwhile, they reappear by themselves within 30 s).
With a filter, the whole DLQ is read until --limit dead letters matched.
Each dead letter carries why it died: KIND and REASON (the last error).
With --json: one entry per stage, {"stage", "filter", "messages", "limit", "total", "scanned",
"truncated"}: "total" is the DLQ's depth (null on AWS, where peeking cannot count), "truncated" true
when there are more than shown (stderr says so too) — raise --limit to see more.
${FILTER_HELP}
Examples:
  $ npx conveyor dlq peek --stage picking                      every warehouse
  $ npx conveyor dlq peek --stage picking --warehouse wh-1 --limit 50
  $ npx conveyor dlq peek --stage packing --grep "no box" --since 2h
  $ npx conveyor dlq peek --stage delivery --kind rejected --json | jq '.[].messages[].reason'
  $ npx conveyor dlq peek --stage picking --target aws --region eu-west-1
`;

const REDRIVE_HELP = `
Moves the stage's dead letters back to its queue, where they are processed again — do it after
fixing what killed them (\`conveyor dlq peek\` shows why). With a filter only the dead letters that
match move; --dry-run lists them and moves nothing. Stages are idempotent per order, so a redriven
order is never delivered twice.

Each dead letter is copied to the queue, then deleted from the DLQ, with a journal of each step: a
redrive interrupted at any point (Ctrl-C, a crash, kill -9) loses none, and the next run finishes
it without sending any twice (it says so in the one case it cannot know: a send cut off while SQS
answered it). Locally the runtime moves them (its journal is in the data directory) and stops when
the CLI goes away; on AWS the CLI moves them (journal in CONVEYOR_STATE_DIR, default
~/.local/state/conveyor) — except an unfiltered redrive, which starts an SQS message move task
(StartMessageMoveTask; --wait follows it to the end). On AWS, dead letters a killed CLI held stay
hidden for a while (30 s, plus twice as long as it had run): if some are missing from the next run,
run it again after that. Every redrive writes an audit line: locally to the runtime's log, on AWS to
stderr.
${FILTER_HELP}
Examples:
  $ npx conveyor dlq redrive --stage picking --warehouse wh-1
  $ npx conveyor dlq redrive --stage picking --grep "scanner" --dry-run      what would move
  $ npx conveyor dlq redrive --stage picking --grep "scanner" --rate 20
  $ npx conveyor dlq redrive --stage packing --rate 50          every warehouse, 50 messages/s
  $ npx conveyor dlq redrive --stage picking --target aws --region eu-west-1 --wait
`;

type PeekOptions = FilterFlags & { stage: string; warehouse?: string; limit: number; json?: boolean };
type RedriveFlags = FilterFlags & {
  stage: string;
  warehouse?: string;
  rate?: number;
  wait?: boolean;
  dryRun?: boolean;
  json?: boolean;
};

export function registerDlqCommands(program: Command, context: CliContext, state: RunState): void {
  const dlq = program
    .command('dlq')
    .description(
      "a stage's dead-letter queue: find dead letters and their reasons, redrive them, export them to fix and resend",
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ npx conveyor dlq peek --stage picking\n  $ npx conveyor dlq redrive --stage picking --grep scanner --dry-run\n  $ npx conveyor dlq export --stage packing --kind rejected --out dead.jsonl\n',
    );

  addFilterFlags(
    dlq
      .command('peek')
      .description('show dead letters with their reasons (all, or those a filter selects), without consuming them')
      .requiredOption('--stage <stage>', 'the stage, as `conveyor status` lists it (required)', stageName)
      .option('--warehouse <id>', 'this warehouse only (default: all)'),
  )
    .addOption(
      new Option('--limit <n>', `dead letters per stage, 1–${MAX_PEEK}`)
        .default(10)
        .argParser(wholeNumber('--limit', 1, MAX_PEEK, '--limit 50')),
    )
    .option('--json', 'print them as JSON')
    .addHelpText('after', PEEK_HELP)
    .action(async (options: PeekOptions, command: Command) => {
      const globals = command.optsWithGlobals() as GlobalOptions;
      const filter = filterOf(options, context.now());
      const found = await withTarget(globals, context, async (target) => {
        const refs = await selectStages(target, options.stage, options.warehouse);
        return Promise.all(
          refs.map(async (ref) => ({
            stage: stageKey(ref),
            ...(filter ? { filter } : {}),
            ...(await peekAtMost(target, ref, options.limit, filter)),
          })),
        );
      });
      if (options.json) {
        sayJson(context, found);
        // stdout stays JSON for scripts; the reader is told on stderr that the list is not complete.
        for (const entry of found.filter((f) => f.truncated))
          context.stderr.write(`conveyor: ${entry.stage}: ${truncationNote(entry)}\n`);
        return;
      }
      const style = styleFor(context);
      found.forEach((entry, i) => {
        if (i > 0) say(context);
        for (const line of renderDeadLetters(entry.stage, entry.messages, entry, style)) say(context, line);
      });
      if (found.some((f) => f.messages.length > 0)) {
        say(context);
        const where = `--stage ${options.stage}${options.warehouse ? ` --warehouse ${options.warehouse}` : ''}${filterFlagsText(options)}${targetFlags(globals)}`;
        say(
          context,
          style.dim(
            `once the cause is fixed: conveyor dlq redrive ${where}${filter ? ' --dry-run (then without --dry-run)' : ''}`,
          ),
        );
      }
    });

  addFilterFlags(
    dlq
      .command('redrive')
      .description(
        "move a stage's dead letters (all, or those a filter selects) back to its queue, after a fix; prints how many moved",
      )
      .requiredOption('--stage <stage>', 'the stage, as `conveyor status` lists it (required)', stageName)
      .option('--warehouse <id>', 'this warehouse only (default: all)'),
  )
    .option('--dry-run', 'list the dead letters that would move, and move nothing')
    .addOption(
      new Option(
        '--rate <perSecond>',
        'messages moved per second at most, 1–500 (default: as fast as possible)',
      ).argParser(wholeNumber('--rate', 1, 500, '--rate 50')),
    )
    .option(
      '--wait',
      'on AWS, unfiltered: follow the move task until it ends (otherwise the move is always waited for)',
    )
    .option('--json', 'print the results as JSON')
    .addHelpText('after', REDRIVE_HELP)
    .action(async (options: RedriveFlags, command: Command) => {
      const globals = command.optsWithGlobals() as GlobalOptions;
      await redriveStages(context, state, globals, options);
    });

  registerExportCommand(dlq, context, state);
}

async function redriveStages(
  context: CliContext,
  state: RunState,
  globals: GlobalOptions,
  options: RedriveFlags,
): Promise<void> {
  const filter = filterOf(options, context.now());
  const results: Array<{ stage: string } & RedriveResult> = [];
  const stop = new AbortController();
  const undo = context.onInterrupt?.(() => {
    stop.abort();
    context.stderr.write(
      'conveyor: stopping after the batch in hand (nothing is lost) — Ctrl-C again to quit at once\n',
    );
  });
  try {
    await withTarget(globals, context, async (target) => {
      for (const ref of await selectStages(target, options.stage, options.warehouse)) {
        if (stop.signal.aborted) break;
        const result = await target.redrive(ref, {
          ...(options.rate === undefined ? {} : { ratePerSecond: options.rate }),
          ...(options.wait ? { wait: true } : {}),
          ...(filter ? { filter } : {}),
          ...(options.dryRun ? { dryRun: true } : {}),
          signal: stop.signal,
        });
        results.push({ stage: stageKey(ref), ...result });
        if (!options.json)
          for (const line of describeRedrive(ref, result, filter, styleFor(context))) say(context, line);
      }
    });
  } finally {
    undo?.();
  }
  if (options.json)
    sayJson(
      context,
      results.map((r) => ({ ...r, ...(filter ? { filter } : {}) })),
    );
  if (results.some((r) => r.kind === 'moved' && r.interrupted) || stop.signal.aborted) state.exitCode = 1;
  const failed = results.find((r) => r.kind === 'task' && r.status === 'FAILED');
  if (failed && failed.kind === 'task')
    throw new CliError(
      `the move task of ${failed.stage} failed: ${failed.failureReason ?? 'no reason given'} — check the queue policies and try again`,
    );
}

/** What a peek found, and whether the DLQ holds more than it shows. */
export interface PeekResult {
  readonly messages: DeadLetter[];
  readonly limit: number;
  /** Dead letters in the DLQ, where the target can count them (locally); null where it cannot. */
  readonly total: number | null;
  /** Dead letters read to find them. */
  readonly scanned: number;
  /** True when there are more than shown; where that cannot be told, when --limit was reached. */
  readonly truncated: boolean;
  readonly filter?: DeadLetterFilter;
}

async function peekAtMost(
  target: Target,
  ref: StageRef,
  limit: number,
  filter: DeadLetterFilter | undefined,
): Promise<Omit<PeekResult, 'filter'>> {
  const [page, total] = await Promise.all([
    target.peekDeadLetters(ref, limit, filter),
    target.deadLetterCount ? target.deadLetterCount(ref) : null,
  ]);
  const messages = page.letters;
  // Filtered, only the read can tell whether more match; unfiltered, the DLQ's depth can (where known).
  const truncated = filter ? page.truncated : total === null ? messages.length >= limit : total > messages.length;
  return { messages, limit, total, scanned: page.scanned, truncated };
}

function truncationNote(peek: Omit<PeekResult, 'scanned'> & { scanned?: number }): string {
  const shown = `showing ${plural(peek.messages.length, 'dead letter')}`;
  const more = peek.filter
    ? '--limit reached; more match'
    : peek.total === null
      ? '--limit reached; the DLQ may hold more'
      : `the DLQ holds ${peek.total}`;
  return `${shown}, ${more}${peek.limit < MAX_PEEK ? ` — raise --limit (up to ${MAX_PEEK})` : ''}`;
}

/**
 * @example
 * renderDeadLetters('wh-1/picking', letters, { limit: 10, truncated: false, total: 2 }, createStyle(false));
 */
export function renderDeadLetters(
  stage: string,
  messages: readonly DeadLetter[],
  peek: Pick<PeekResult, 'limit' | 'truncated' | 'total'> & { scanned?: number; filter?: DeadLetterFilter },
  style: Style,
): string[] {
  const notes = [
    peek.filter ? `filter: ${describeFilter(peek.filter)}` : '',
    peek.filter && peek.scanned !== undefined ? `${plural(peek.scanned, 'dead letter')} read` : '',
  ]
    .filter(Boolean)
    .join('; ');
  const context = notes ? ` (${notes})` : '';
  if (messages.length === 0) return [`${style.bold(stage)} — ${style.green('no dead letters')}${context}`];
  const more = peek.truncated ? ` — ${truncationNote({ messages: [...messages], ...peek })}` : '';
  return [
    `${style.bold(stage)} — ${style.red(plural(messages.length, 'dead letter'))}${context}${more}, not consumed`,
    ...deadLetterTable(messages, style),
  ];
}

/** The dead letters as a table: order, kind, receives, when, reason. */
export function deadLetterTable(messages: readonly DeadLetter[], style: Style): string[] {
  const rows = messages.map((m) => [
    m.orderId ?? style.dim('(none)'),
    m.kind ?? '—',
    m.receiveCount === undefined ? '—' : String(m.receiveCount),
    timestamp(m.deadLetteredAt ?? m.sentAt),
    m.reason === undefined
      ? style.dim('unknown (moved by the queue redrive policy)')
      : m.movedBy === 'redrive-policy'
        ? style.dim(m.reason)
        : m.reason,
  ]);
  return renderTable(
    [
      { header: 'ORDER' },
      { header: 'KIND' },
      { header: 'RECEIVES', align: 'right' },
      { header: 'DEAD-LETTERED AT (UTC)' },
      { header: 'REASON' },
    ],
    rows,
    { headerStyle: (t) => style.dim(t) },
  );
}

/**
 * @example
 * describeRedrive({ warehouse: 'wh-1', stage: 'picking' }, { kind: 'moved', moved: 3, matched: 3, … }, undefined, createStyle(false));
 * // ['wh-1/picking: moved 3 dead letters back to the picking queue']
 */
export function describeRedrive(
  ref: StageRef,
  result: RedriveResult,
  filter: DeadLetterFilter | undefined,
  style: Style,
): string[] {
  const key = style.bold(stageKey(ref));
  const matching = filter ? ` (filter: ${describeFilter(filter)})` : '';
  if (result.kind === 'dry-run') {
    const read = `${plural(result.scanned, 'dead letter')} read`;
    if (result.matched === 0)
      return [
        `${key}: dry run — no dead letters would move${filter ? ` (filter: ${describeFilter(filter)}; ${read})` : ''}; nothing moved`,
      ];
    const listed =
      result.letters.length < result.matched ? ` ${style.dim(`(the first ${result.letters.length} listed)`)}` : '';
    return [
      `${key}: dry run — ${plural(result.matched, 'dead letter')} would move back to the ${ref.stage} queue (${filter ? `filter: ${describeFilter(filter)}; ` : ''}${read}); nothing moved${listed}`,
      ...deadLetterTable(result.letters, style),
    ];
  }
  if (result.kind === 'moved') {
    const total = result.moved + result.finished;
    const stayed = result.scanned - result.matched;
    const lines = [
      total === 0 && !result.interrupted
        ? `${key}: no dead letters to move${matching}`
        : `${key}: moved ${plural(total, 'dead letter')} back to the ${ref.stage} queue${matching}${filter ? ` — ${plural(stayed, 'other')} stay in the DLQ` : ''}`,
    ];
    if (result.finished > 0)
      lines.push(
        style.dim(
          `  ${plural(result.finished, 'of them', 'of them')} had been copied by an interrupted redrive: only deleted from the DLQ now`,
        ),
      );
    if (result.resent > 0)
      lines.push(
        style.yellow(
          `  ${plural(result.resent, 'dead letter')} sent again: an interrupted redrive was sending ${result.resent === 1 ? 'it' : 'them'} when it stopped — the stage skips an order it already processed`,
        ),
      );
    if (result.notDeleted > 0)
      lines.push(
        style.yellow(
          `  ${plural(result.notDeleted, 'dead letter')} copied but not yet deleted from the DLQ — run the redrive again to delete ${result.notDeleted === 1 ? 'it' : 'them'} (not sent again)`,
        ),
      );
    if (result.interrupted)
      lines.push(style.yellow('  interrupted — the rest stays in the DLQ; run the same redrive again to move it'));
    return lines;
  }
  const toMove =
    result.approximateNumberToMove === null
      ? 'its dead letters'
      : `~${plural(result.approximateNumberToMove, 'dead letter')}`;
  if (result.status === undefined)
    return [
      `${key}: move task started — ${toMove} back to the ${ref.stage} queue (task ${result.taskHandle}); add --wait to follow it`,
    ];
  const moved =
    result.moved === undefined ? '' : `moved ${plural(result.moved, 'dead letter')} back to the ${ref.stage} queue — `;
  return [
    `${key}: ${moved}move task ${result.status === 'COMPLETED' ? style.green(result.status) : style.red(result.status)}${result.failureReason ? ` (${result.failureReason})` : ''}`,
  ];
}
