/** `conveyor dlq peek` and `conveyor dlq redrive`: dead letters, and sending them back. */
import { Option, type Command } from 'commander';
import type { DeadLetter } from '../../operations/dead-letters.ts';
import { say, sayJson, styleFor, type CliContext } from '../context.ts';
import { CliError } from '../errors.ts';
import { plural, timestamp } from '../format.ts';
import { selectStages, targetFlags, withTarget, type GlobalOptions } from '../open-target.ts';
import { stageName, wholeNumber } from '../options.ts';
import type { RunState } from '../program.ts';
import type { Style } from '../style.ts';
import { renderTable } from '../table.ts';
import { stageKey, type RedriveResult, type StageRef, type Target } from '../target.ts';

const MAX_PEEK = 100;

const PEEK_HELP = `
SQS has no peek: messages are received with a short visibility timeout and made visible again at
once, so nothing is consumed (if the CLI dies meanwhile, they reappear by themselves within 30 s).
Each dead letter carries why it died: KIND is poison (failed validation — never retried),
rejected (a permanent business failure) or exhausted (out of retries); REASON is the last error.
With --json: one entry per stage, {"stage", "messages", "limit", "total", "truncated"}: "total" is
the DLQ's depth (null on AWS, where peeking cannot count), "truncated" true when the DLQ holds more
than shown, or on AWS when --limit was reached (stderr says so too) — raise --limit to see more.

Examples:
  $ npx conveyor dlq peek --stage picking                      every warehouse
  $ npx conveyor dlq peek --stage picking --warehouse wh-1 --limit 50
  $ npx conveyor dlq peek --stage delivery --json | jq '.[].messages[].reason'
  $ npx conveyor dlq peek --stage picking --target aws --region eu-west-1
`;

const REDRIVE_HELP = `
Moves the stage's dead letters back to its queue, where they are processed again — do it after
fixing what killed them (\`conveyor dlq peek\` shows why). Stages are idempotent per order, so a
redriven order is never delivered twice. Locally the move is immediate and prints how many moved;
on AWS it starts an SQS message move task (StartMessageMoveTask) and prints its handle and the
approximate number to move (--wait follows it to the end).

Examples:
  $ npx conveyor dlq redrive --stage picking --warehouse wh-1
  $ npx conveyor dlq redrive --stage packing --rate 50          every warehouse, 50 messages/s
  $ npx conveyor dlq redrive --stage picking --target aws --region eu-west-1 --wait
`;

export function registerDlqCommands(program: Command, context: CliContext, _state: RunState): void {
  const dlq = program
    .command('dlq')
    .description("a stage's dead-letter queue: peek at dead letters and their reasons, redrive them")
    .addHelpText('after', '\nExamples:\n  $ npx conveyor dlq peek --stage picking\n  $ npx conveyor dlq redrive --stage picking --warehouse wh-1\n');

  dlq
    .command('peek')
    .description('show dead letters with their reasons, without consuming them')
    .requiredOption('--stage <stage>', 'picking, packing or delivery (required)', stageName)
    .option('--warehouse <id>', 'this warehouse only (default: all)')
    .addOption(new Option('--limit <n>', `dead letters per stage, 1–${MAX_PEEK}`).default(10).argParser(wholeNumber('--limit', 1, MAX_PEEK, '--limit 50')))
    .option('--json', 'print them as JSON')
    .addHelpText('after', PEEK_HELP)
    .action(async (options: { stage: string; warehouse?: string; limit: number; json?: boolean }, command: Command) => {
      const globals = command.optsWithGlobals() as GlobalOptions;
      const found = await withTarget(globals, context, async (target) => {
        const refs = await selectStages(target, options.stage, options.warehouse);
        return Promise.all(refs.map(async (ref) => ({ stage: stageKey(ref), ...(await peekAtMost(target, ref, options.limit)) })));
      });
      if (options.json) {
        sayJson(context, found);
        // stdout stays JSON for scripts; the reader is told on stderr that the list is not complete.
        for (const entry of found.filter((f) => f.truncated)) context.stderr.write(`conveyor: ${entry.stage}: ${truncationNote(entry)}\n`);
        return;
      }
      const style = styleFor(context);
      found.forEach((entry, i) => {
        if (i > 0) say(context);
        for (const line of renderDeadLetters(entry.stage, entry.messages, entry, style)) say(context, line);
      });
      if (found.some((f) => f.messages.length > 0)) {
        say(context);
        say(context, style.dim(`once the cause is fixed: conveyor dlq redrive --stage ${options.stage}${options.warehouse ? ` --warehouse ${options.warehouse}` : ''}${targetFlags(globals)}`));
      }
    });

  dlq
    .command('redrive')
    .description("move a stage's dead letters back to its queue (after a fix); prints how many moved")
    .requiredOption('--stage <stage>', 'picking, packing or delivery (required)', stageName)
    .option('--warehouse <id>', 'this warehouse only (default: all)')
    .addOption(new Option('--rate <perSecond>', 'messages moved per second at most, 1–500 (default: as fast as possible)').argParser(wholeNumber('--rate', 1, 500, '--rate 50')))
    .option('--wait', 'on AWS: follow the move task until it ends (locally the move is always immediate)')
    .option('--json', 'print the results as JSON')
    .addHelpText('after', REDRIVE_HELP)
    .action(async (options: { stage: string; warehouse?: string; rate?: number; wait?: boolean; json?: boolean }, command: Command) => {
      const globals = command.optsWithGlobals() as GlobalOptions;
      const results: Array<{ stage: string } & RedriveResult> = [];
      await withTarget(globals, context, async (target) => {
        for (const ref of await selectStages(target, options.stage, options.warehouse)) {
          const result = await target.redrive(ref, { ...(options.rate === undefined ? {} : { ratePerSecond: options.rate }), ...(options.wait ? { wait: true } : {}) });
          results.push({ stage: stageKey(ref), ...result });
          if (!options.json) say(context, describeRedrive(ref, result, styleFor(context)));
        }
      });
      if (options.json) sayJson(context, results);
      const failed = results.find((r) => r.kind === 'task' && r.status === 'FAILED');
      if (failed && failed.kind === 'task') throw new CliError(`the move task of ${failed.stage} failed: ${failed.failureReason ?? 'no reason given'} — check the queue policies and try again`);
    });
}

/** What a peek found, and whether the DLQ holds more than it shows. */
export interface PeekResult {
  readonly messages: DeadLetter[];
  readonly limit: number;
  /** Dead letters in the DLQ, where the target can count them (locally); null where it cannot. */
  readonly total: number | null;
  /** True when the DLQ holds more than shown; where it cannot be counted, when --limit was reached (there may be more). */
  readonly truncated: boolean;
}

async function peekAtMost(target: Target, ref: StageRef, limit: number): Promise<PeekResult> {
  const [messages, total] = await Promise.all([target.peekDeadLetters(ref, limit), target.deadLetterCount ? target.deadLetterCount(ref) : null]);
  return { messages, limit, total, truncated: total === null ? messages.length >= limit : total > messages.length };
}

function truncationNote(peek: PeekResult): string {
  const shown = `showing ${plural(peek.messages.length, 'dead letter')}`;
  const more = peek.total === null ? '--limit reached; the DLQ may hold more' : `the DLQ holds ${peek.total}`;
  return `${shown}, ${more}${peek.limit < MAX_PEEK ? ` — raise --limit (up to ${MAX_PEEK})` : ''}`;
}

export function renderDeadLetters(stage: string, messages: readonly DeadLetter[], peek: Pick<PeekResult, 'limit' | 'truncated' | 'total'>, style: Style): string[] {
  if (messages.length === 0) return [`${style.bold(stage)} — ${style.green('no dead letters')}`];
  const more = peek.truncated ? ` (${truncationNote({ messages: [...messages], ...peek })})` : '';
  const rows = messages.map((m) => [m.orderId ?? style.dim('(none)'), m.kind ?? '—', m.receiveCount === undefined ? '—' : String(m.receiveCount), timestamp(m.deadLetteredAt ?? m.sentAt), m.reason ?? style.dim('unknown (moved by the queue redrive policy)')]);
  return [
    `${style.bold(stage)} — ${style.red(plural(messages.length, 'dead letter'))}${more}, not consumed`,
    ...renderTable([{ header: 'ORDER' }, { header: 'KIND' }, { header: 'RECEIVES', align: 'right' }, { header: 'DEAD-LETTERED AT (UTC)' }, { header: 'REASON' }], rows, { headerStyle: style.dim }),
  ];
}

function describeRedrive(ref: StageRef, result: RedriveResult, style: Style): string {
  const key = style.bold(stageKey(ref));
  if (result.kind === 'moved') {
    return result.moved === 0 ? `${key}: no dead letters to move` : `${key}: moved ${plural(result.moved, 'dead letter')} back to the ${ref.stage} queue`;
  }
  const toMove = result.approximateNumberToMove === null ? 'its dead letters' : `~${plural(result.approximateNumberToMove, 'dead letter')}`;
  if (result.status === undefined) return `${key}: move task started — ${toMove} back to the ${ref.stage} queue (task ${result.taskHandle}); add --wait to follow it`;
  const moved = result.moved === undefined ? '' : `moved ${plural(result.moved, 'dead letter')} back to the ${ref.stage} queue — `;
  return `${key}: ${moved}move task ${result.status === 'COMPLETED' ? style.green(result.status) : style.red(result.status)}${result.failureReason ? ` (${result.failureReason})` : ''}`;
}
