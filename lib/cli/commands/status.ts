/** `conveyor status`: the queue table per warehouse and stage, and the order totals. */
import type { Command } from 'commander';
import { say, sayJson, styleFor, type CliContext } from '../context.ts';
import { count, duration, millis, rate, timestamp } from '../format.ts';
import { targetFlags, withTarget, type GlobalOptions } from '../open-target.ts';
import type { RunState } from '../program.ts';
import type { Style } from '../style.ts';
import { renderTable, type Column } from '../table.ts';
import { explainError } from '../errors.ts';
import type { StageBreaker, StageStatus, StatusReport, Target } from '../target.ts';

const HELP = `
Columns:
  READY        messages waiting to be received
  IN FLIGHT    received by the stage and not settled yet (on AWS: all invisible messages, backoffs included)
  DELAYED      waiting out a retry backoff (locally) or a send delay
  DLQ          in the stage's dead-letter queue — see them with \`conveyor dlq peek\`
  OLDEST       age of the oldest message in the queue (the backlog alarm's metric)
  PROCESSED    records the stage finished; FAILED = RETRIED + dead-lettered attempts
  IN/s OUT/s FAIL/s   records received, finished and failed per second
  CONCURRENCY  invocations running / the event source's maximum concurrency
  STATE        running or PAUSED (\`conveyor pause\` / \`conveyor resume\`)
  BREAKER      the stage's circuit breaker: closed, OPEN (not consuming: too many records failed, or
               held by an operator) or half-open (probing) — \`conveyor breaker open|close\`

Below the table, a line starting with ! for what needs attention: dead letters, paused stages, and a
queue whose oldest message — or a DLQ whose oldest dead letter — has passed half of its retention
(MessageRetentionPeriod): SQS deletes messages older than that, so act before (resume, scale,
redrive, export). On AWS the age is CloudWatch's ApproximateAgeOfOldestMessage; a dead letter SQS
moved keeps the time its order was first sent, so it counts against the DLQ's retention.

Locally counts run since the runtime started and rates cover the last 10 s; on AWS queue depths
are now and counts cover the last 5 minutes of CloudWatch metrics.

Examples:
  $ npx conveyor status
  $ npx conveyor status --json | jq '.totals'
  $ npx conveyor status --url http://127.0.0.1:3001
  $ npx conveyor status --target aws --stack Conveyor --region eu-west-1
`;

export function registerStatusCommand(program: Command, context: CliContext, _state: RunState): void {
  program
    .command('status')
    .description(
      'the queue table: per warehouse and stage ready / in flight / delayed / DLQ, oldest age, processed, failed, rates, concurrency; order totals',
    )
    .option('--json', 'print the report as JSON (for scripts)')
    .addHelpText('after', HELP)
    .action(async (options: { json?: boolean }, command: Command) => {
      const globals = command.optsWithGlobals() as GlobalOptions;
      const report = await withTarget(globals, context, async (target) => withBreakers(target, await target.status()));
      if (options.json) return sayJson(context, report);
      for (const line of renderStatus(report, styleFor(context), targetFlags(globals))) say(context, line);
    });
}

const COLUMNS: Column[] = [
  { header: 'WAREHOUSE' },
  { header: 'STAGE' },
  { header: 'STATE' },
  { header: 'READY', align: 'right' },
  { header: 'IN FLIGHT', align: 'right' },
  { header: 'DELAYED', align: 'right' },
  { header: 'DLQ', align: 'right' },
  { header: 'OLDEST', align: 'right' },
  { header: 'PROCESSED', align: 'right' },
  { header: 'FAILED', align: 'right' },
  { header: 'RETRIED', align: 'right' },
  { header: 'IN/s', align: 'right' },
  { header: 'OUT/s', align: 'right' },
  { header: 'FAIL/s', align: 'right' },
  { header: 'CONCURRENCY', align: 'right' },
  { header: 'BREAKER' },
];

/** The report with every stage's circuit breaker; a target that cannot say leaves the column blank, with a note why. */
async function withBreakers(target: Target, report: StatusReport): Promise<StatusReport> {
  let breakers: Record<string, StageBreaker>;
  try {
    breakers = await target.breakers();
  } catch (error) {
    return {
      ...report,
      notes: [
        ...report.notes,
        `circuit breakers not read (${explainError(error).message}); the BREAKER column is blank`,
      ],
    };
  }
  const pipelines = Object.fromEntries(
    Object.entries(report.pipelines).map(([warehouse, stages]) => [
      warehouse,
      Object.fromEntries(
        Object.entries(stages).map(([stage, row]) => [
          stage,
          breakers[`${warehouse}/${stage}`] ? { ...row, breaker: breakers[`${warehouse}/${stage}`] } : row,
        ]),
      ),
    ]),
  );
  return { ...report, pipelines };
}

/**
 * The report as terminal lines: a title, the table, the totals, then what deserves attention with
 * the command that deals with it.
 *
 * @example
 * renderStatus(report, createStyle(false), '').join('\n');
 */
export function renderStatus(report: StatusReport, style: Style, flags: string): string[] {
  const rows: string[][] = [];
  const attention: string[] = [];
  for (const [warehouse, stages] of Object.entries(report.pipelines)) {
    Object.entries(stages).forEach(([stage, v], i) => {
      rows.push(stageRow(i === 0 ? warehouse : '', stage, v, style));
      const key = `${warehouse}/${stage}`;
      if (v.dlq > 0)
        attention.push(
          `${style.red('!')} ${key}: ${count(v.dlq)} dead ${v.dlq === 1 ? 'letter' : 'letters'} — see why: conveyor dlq peek --stage ${stage} --warehouse ${warehouse}${flags}`,
        );
      if (v.paused)
        attention.push(
          `${style.yellow('!')} ${key} is paused (${count(v.ready)} waiting) — resume: conveyor resume --stage ${stage} --warehouse ${warehouse}${flags}`,
        );
      if (v.breaker?.state === 'open') {
        attention.push(
          `${style.red('!')} ${key}: circuit breaker open (${v.breaker.reason}) — its orders wait in its queue; close it by hand: conveyor breaker close --stage ${stage} --warehouse ${warehouse}${flags}`,
        );
      }
      if (v.breaker?.state === 'half-open')
        attention.push(`${style.yellow('!')} ${key}: circuit breaker half-open (${v.breaker.reason})`);
      attention.push(...retentionWarnings({ warehouse, stage }, v, style, flags));
    });
  }
  const t = report.totals;
  const totals = [
    `${count(t.accepted)} accepted`,
    `${count(t.delivered)} delivered`,
    `${t.deadLettered ? style.red(count(t.deadLettered)) : count(t.deadLettered)} dead-lettered`,
    `${count(t.inFlight)} in flight`,
  ].join(' · ');
  const latency =
    report.latencyMs && report.latencyMs.p50 !== null
      ? ` · latency p50 ${millis(report.latencyMs.p50)}, p99 ${millis(report.latencyMs.p99)}`
      : '';
  return [
    `${style.bold('Conveyor')} — ${report.source} — ${timestamp(report.at)} UTC`,
    style.dim(report.window),
    '',
    ...renderTable(COLUMNS, rows, { headerStyle: style.dim }),
    '',
    `orders: ${totals}${latency}`,
    ...(attention.length > 0 ? ['', ...attention] : []),
    ...report.notes.map((note) => style.dim(note)),
  ];
}

/**
 * What nears its deletion: the stage queue's oldest message, the DLQ's oldest dead letter — each with
 * how long is left and what to do.
 *
 * @example
 * retentionWarnings({ warehouse: 'wh-1', stage: 'packing' }, row, createStyle(false), '');
 * // ['! wh-1/packing: its oldest message is 2d01h old and the queue keeps messages 4d00h — SQS deletes it in 1d23h; resume: conveyor resume --stage packing --warehouse wh-1']
 */
export function retentionWarnings(
  ref: { warehouse: string; stage: string },
  v: StageStatus,
  style: Style,
  flags: string,
): string[] {
  const key = `${ref.warehouse}/${ref.stage}`;
  const where = `--stage ${ref.stage} --warehouse ${ref.warehouse}${flags}`;
  const lines: string[] = [];
  if (v.nearsRetention && v.oldestMessageAgeSeconds !== null && v.retentionSeconds !== null) {
    const act = v.paused
      ? `resume: conveyor resume ${where}`
      : `work it off: conveyor scale ${where} --max-concurrency N`;
    lines.push(
      `${style.red('!')} ${key}: its oldest message is ${duration(v.oldestMessageAgeSeconds)} old and the queue keeps messages ${duration(v.retentionSeconds)} — SQS deletes it in ${duration(v.retentionSeconds - v.oldestMessageAgeSeconds)}; ${act}`,
    );
  }
  if (v.deadLettersNearRetention && v.oldestDeadLetterAgeSeconds !== null && v.deadLetterRetentionSeconds !== null) {
    lines.push(
      `${style.red('!')} ${key}: its oldest dead letter is ${duration(v.oldestDeadLetterAgeSeconds)} old and the DLQ keeps them ${duration(v.deadLetterRetentionSeconds)} — SQS deletes it in ${duration(v.deadLetterRetentionSeconds - v.oldestDeadLetterAgeSeconds)}; redrive or keep them: conveyor dlq export ${where} --out dead.jsonl`,
    );
  }
  return lines;
}

function stageRow(warehouse: string, stage: string, v: StageStatus, style: Style): string[] {
  const state = v.paused ? style.yellow(style.bold('PAUSED')) : style.green('running');
  return [
    warehouse,
    stage,
    v.state ? `${state} ${style.dim(`(${v.state})`)}` : state,
    count(v.ready),
    count(v.inFlight),
    count(v.delayed),
    v.dlq > 0 ? style.red(count(v.dlq)) : count(v.dlq),
    duration(v.oldestMessageAgeSeconds),
    count(v.succeeded),
    v.failed ? style.yellow(count(v.failed)) : count(v.failed),
    count(v.retried),
    rate(v.incomingPerSecond),
    rate(v.perSecond),
    v.failedPerSecond ? style.yellow(rate(v.failedPerSecond)) : rate(v.failedPerSecond),
    `${count(v.concurrency.inUse)}/${count(v.concurrency.max)}`,
    breakerCell(v.breaker, style),
  ];
}

function breakerCell(breaker: StageBreaker | undefined, style: Style): string {
  if (!breaker) return '—';
  if (breaker.state === 'open') return style.red(style.bold('OPEN'));
  if (breaker.state === 'half-open') return style.yellow('half-open');
  return 'closed';
}
