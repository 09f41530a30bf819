/**
 * `conveyor dlq export`: dead letters with their reasons as JSON lines to fix and send again with
 * `conveyor send --file` — `{"order": {…}, "deadLetter": {…}}` per line (lib/operations/dead-letter-export.ts).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { exportLine, type ExportedDeadLetter } from '../../operations/dead-letter-export.ts';
import { describeFilter } from '../../operations/dead-letter-filter.ts';
import { say, sayJson, styleFor, type CliContext } from '../context.ts';
import { addFilterFlags, filterOf, type FilterFlags } from '../dead-letter-flags.ts';
import { CliError, UsageError } from '../errors.ts';
import { count, plural } from '../format.ts';
import { selectStages, targetFlags, withTarget, type GlobalOptions } from '../open-target.ts';
import { stageName, wholeNumber } from '../options.ts';
import type { RunState } from '../program.ts';
import { stageKey } from '../target.ts';

/** What one export takes per stage at most (the local runtime's and the AWS target's limit alike). */
const MAX_EXPORT = 10_000;

const EXPORT_HELP = `
Writes the dead letters (all, or those the filters select — see \`conveyor dlq peek --help\`) as
JSON lines, one per dead letter, without consuming any:

  {"order": {"orderId": "o-1.r1", "warehouseId": "wh-1", "items": [...], ...},
   "deadLetter": {"orderId": "o-1", "stage": "wh-1/packing", "kind": "rejected", "reason": "...", ...}}

"order" is the order as the API takes it, under a new id (o-1 → o-1.r1 → o-1.r2): an order id is
never processed twice, so a corrected order goes in as a new one (sending the same file twice sends
each once). Fix what killed it, then send the file: \`conveyor send --file dead.jsonl\` (it reads
these lines as well as plain orders). Where a dead letter holds no readable order (poison),
"order" is null and "deadLetter.body" has what arrived: write the order by hand or drop the line.
The old dead letters stay in the DLQ (\`conveyor orders cancel --file dead.jsonl\` closes the old
orders). Every export writes an audit line (locally the runtime's log, on AWS stderr).

Examples:
  $ npx conveyor dlq export --stage packing --kind rejected --out dead.jsonl
  $ npx conveyor dlq export --stage delivery --grep "no express carrier" --since 1d --out express.jsonl
  $ npx conveyor dlq export --stage picking --out - | jq -c .order     to stdout
`;

type ExportFlags = FilterFlags & {
  stage: string;
  warehouse?: string;
  out: string;
  force?: boolean;
  limit: number;
  json?: boolean;
};

export function registerExportCommand(dlq: Command, context: CliContext, _state: RunState): void {
  addFilterFlags(
    dlq
      .command('export')
      .description('write dead letters and their reasons as JSON lines to fix and send again (`conveyor send --file`)')
      .requiredOption('--stage <stage>', 'the stage, as `conveyor status` lists it (required)', stageName)
      .option('--warehouse <id>', 'this warehouse only (default: all)'),
  )
    .requiredOption('--out <file>', 'the JSON Lines file to write (- for stdout)')
    .option('--force', 'overwrite --out if it exists')
    .addOption(
      new Option('--limit <n>', `dead letters per stage at most, 1–${count(MAX_EXPORT)}`)
        .default(MAX_EXPORT)
        .argParser(wholeNumber('--limit', 1, MAX_EXPORT, '--limit 500')),
    )
    .option('--json', 'print the summary as JSON')
    .addHelpText('after', EXPORT_HELP)
    .action(async (options: ExportFlags, command: Command) => {
      const globals = command.optsWithGlobals() as GlobalOptions;
      const toStdout = options.out === '-';
      if (!toStdout && existsSync(options.out) && !options.force)
        throw new UsageError(`--out ${options.out} exists — pass --force to overwrite it, or choose another file`);
      const filter = filterOf(options, context.now());
      const found = await withTarget(globals, context, async (target) => {
        const refs = await selectStages(target, options.stage, options.warehouse);
        const pages = [];
        for (const ref of refs)
          pages.push({ stage: stageKey(ref), ...(await target.exportDeadLetters(ref, options.limit, filter)) });
        return pages;
      });
      const lines = found.flatMap((page) => page.letters.map(exportLine));
      const text = lines.map((line) => `${JSON.stringify(line)}\n`).join('');
      if (toStdout) context.stdout.write(text);
      else writeAtomically(options.out, text);
      const summary = {
        out: options.out,
        exported: lines.length,
        withoutOrder: lines.filter((l) => l.order === null).length,
        ...(filter ? { filter } : {}),
        stages: found.map((p) => ({
          stage: p.stage,
          exported: p.letters.length,
          scanned: p.scanned,
          truncated: p.truncated,
        })),
      };
      // With --out -, stdout is the data: the summary goes to stderr.
      const report = (line: string) => (toStdout ? context.stderr.write(`${line}\n`) : say(context, line));
      if (options.json && !toStdout) return sayJson(context, summary);
      for (const line of renderExport(
        summary,
        lines,
        filter ? describeFilter(filter) : undefined,
        options,
        targetFlags(globals),
        styleFor(context, toStdout ? 'stderr' : 'stdout'),
      ))
        report(line);
    });
}

function renderExport(
  summary: {
    out: string;
    exported: number;
    withoutOrder: number;
    stages: Array<{ stage: string; exported: number; truncated: boolean }>;
  },
  lines: readonly ExportedDeadLetter[],
  filter: string | undefined,
  options: ExportFlags,
  flags: string,
  style: ReturnType<typeof styleFor>,
): string[] {
  const per = summary.stages.map((s) => `${s.stage} ${count(s.exported)}`).join(', ');
  const out = [
    `wrote ${plural(summary.exported, 'dead letter')} to ${summary.out === '-' ? 'stdout' : summary.out} (${filter ? `filter: ${filter}; ` : ''}${per}); nothing was consumed`,
  ];
  if (summary.withoutOrder > 0)
    out.push(
      style.yellow(
        `${plural(summary.withoutOrder, 'line')} without a readable order (poison): write "order" by hand from "deadLetter.body", or drop ${summary.withoutOrder === 1 ? 'it' : 'them'}`,
      ),
    );
  for (const s of summary.stages.filter((x) => x.truncated))
    out.push(
      style.yellow(
        `${s.stage}: stopped at --limit ${count(options.limit)}; more match — narrow the filters or raise --limit`,
      ),
    );
  if (lines.length > 0 && summary.out !== '-')
    out.push(style.dim(`fix them, then: conveyor send --file ${summary.out}${flags}`));
  return out;
}

/** Written aside, then renamed: a reader never sees half a file. */
function writeAtomically(path: string, text: string): void {
  const aside = `${path}.${randomUUID()}.tmp`;
  try {
    writeFileSync(aside, text);
    renameSync(aside, path);
  } catch (error) {
    rmSync(aside, { force: true });
    throw new CliError(
      `cannot write --out ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message} — check the directory exists and is writable`,
    );
  }
}
