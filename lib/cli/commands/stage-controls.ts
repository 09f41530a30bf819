/**
 * `conveyor pause | resume | scale | purge`: the stage's event source mapping (consumption on or
 * off, maximum concurrency) and, as a last resort, its queue.
 */
import { Option, type Command } from 'commander';
import { say, styleFor, type CliContext } from '../context.ts';
import { explainError, UsageError } from '../errors.ts';
import { count, duration, plural } from '../format.ts';
import { selectStages, targetFlags, withTarget, type GlobalOptions } from '../open-target.ts';
import { stageName, wholeNumber } from '../options.ts';
import type { RunState } from '../program.ts';
import type { Style } from '../style.ts';
import { stageKey, type QueueRetention, type StageControlResult, type StageRef, type Target } from '../target.ts';

const PAUSE_HELP = `
Stops the stage from consuming its queue: the event source mapping is disabled (locally, the
poller stops; on AWS, UpdateEventSourceMapping Enabled=false). Nothing is lost: new messages
wait in the queue (watch READY grow in \`conveyor status\`), invocations already running finish.
Use it when a downstream dependency is sick, instead of burning retries into the DLQ. The state
survives a restart of the local runtime, like a disabled mapping on AWS.

A paused queue still ages: SQS deletes a message older than the queue's retention
(MessageRetentionPeriod, \`retention.queueDays\` of the topology). pause says how long that is and
how old the oldest message already is, and warns when it is past half of it.

Examples:
  $ npx conveyor pause --stage packing                         every warehouse
  $ npx conveyor pause --stage delivery --warehouse wh-2
  $ npx conveyor pause --stage packing --target aws --region eu-west-1
`;

const RESUME_HELP = `
Restarts consumption (UpdateEventSourceMapping Enabled=true on AWS); the stage drains its queue at
its maximum concurrency.

Examples:
  $ npx conveyor resume --stage packing
  $ npx conveyor resume --stage delivery --warehouse wh-2 --target aws
`;

const SCALE_HELP = `
Sets the event source's maximum concurrency: how many invocations it runs at once, 2–1000 (on AWS:
UpdateEventSourceMapping ScalingConfig.MaximumConcurrency). Raise it to work off a backlog; lower
it to protect a downstream. It is not redeployed: the topology's value returns with the next
\`cdk deploy\` (locally, the choice is kept across restarts).

Examples:
  $ npx conveyor scale --stage picking --max-concurrency 20
  $ npx conveyor scale --stage delivery --warehouse wh-1 --max-concurrency 2
  $ npx conveyor scale --stage picking --max-concurrency 50 --target aws --region eu-west-1
`;

const PURGE_HELP = `
Deletes EVERY message waiting in one stage queue (SQS PurgeQueue): those orders are never
processed, get no dead letter, and keep their last status. Dead letters are not touched. Only for
a queue flooded with junk (e.g. a load test gone wrong); for a sick downstream use pause. Refuses
without --yes; one warehouse at a time.

Examples:
  $ npx conveyor purge --stage picking --warehouse wh-1          says what would be lost
  $ npx conveyor purge --stage picking --warehouse wh-1 --yes
`;

interface StageOptions {
  readonly stage: string;
  readonly warehouse?: string;
}

export function registerStageCommands(program: Command, context: CliContext, _state: RunState): void {
  const stageCommand = (name: string, description: string, help: string) =>
    program
      .command(name)
      .description(description)
      .requiredOption('--stage <stage>', 'the stage, as `conveyor status` lists it (required)', stageName)
      .option('--warehouse <id>', name === 'purge' ? 'the warehouse (required)' : 'this warehouse only (default: all)')
      .addHelpText('after', help);

  stageCommand(
    'pause',
    'stop a stage consuming its queue (messages wait until its retention runs out)',
    PAUSE_HELP,
  ).action(async (options: StageOptions, command: Command) => {
    const globals = command.optsWithGlobals() as GlobalOptions;
    await eachStage(context, globals, options, async (target, ref) => {
      const result = await target.pause(ref);
      const style = styleFor(context);
      say(
        context,
        `${style.bold(stageKey(ref))}: ${describeControl(result)} — its messages wait in the queue; resume with: conveyor resume --stage ${ref.stage} --warehouse ${ref.warehouse}${targetFlags(globals)}`,
      );
      // The pause is done; what the queue keeps is advice, and failing to read it must not look like a failed pause.
      const retention = await target.queueRetention(ref).catch(
        (error: unknown): QueueRetention => ({
          retentionSeconds: null,
          oldestMessageAgeSeconds: null,
          nearsRetention: false,
          note: explainError(error).message,
        }),
      );
      for (const line of describeRetention(ref, retention, style)) say(context, line);
    });
  });

  stageCommand('resume', 'restart consumption of a paused stage (it drains its queue)', RESUME_HELP).action(
    async (options: StageOptions, command: Command) => {
      const globals = command.optsWithGlobals() as GlobalOptions;
      await eachStage(context, globals, options, async (target, ref) => {
        const result = await target.resume(ref);
        say(context, `${styleFor(context).bold(stageKey(ref))}: ${describeControl(result)} — it drains its queue`);
      });
    },
  );

  stageCommand('scale', "set a stage's maximum concurrency (2–1000)", SCALE_HELP)
    .addOption(
      new Option('--max-concurrency <n>', 'invocations at once, 2–1000')
        .argParser(wholeNumber('--max-concurrency', 2, 1000, '--max-concurrency 20'))
        .makeOptionMandatory(),
    )
    .action(async (options: StageOptions & { maxConcurrency: number }, command: Command) => {
      const globals = command.optsWithGlobals() as GlobalOptions;
      await eachStage(context, globals, options, async (target, ref) => {
        const result = await target.scale(ref, options.maxConcurrency);
        say(
          context,
          `${styleFor(context).bold(stageKey(ref))}: max concurrency ${count(result.maxConcurrency ?? options.maxConcurrency)}${result.state && result.state !== 'Enabled' ? ` (${result.state})` : ''}${result.paused ? ' — still paused; resume to use it' : ''}`,
        );
      });
    });

  stageCommand('purge', "delete every message waiting in a stage's queue (asks for --yes)", PURGE_HELP)
    .option('--yes', 'really delete them')
    .action(async (options: StageOptions & { yes?: boolean }, command: Command) => {
      const globals = command.optsWithGlobals() as GlobalOptions;
      if (options.warehouse === undefined)
        throw new UsageError(
          `purge needs --warehouse: it empties one queue at a time (e.g. conveyor purge --stage ${options.stage} --warehouse wh-1 --yes)`,
        );
      await withTarget(globals, context, async (target) => {
        const [ref] = (await selectStages(target, options.stage, options.warehouse)) as [StageRef];
        const waiting = await target.queueDepth(ref);
        if (!options.yes) {
          throw new UsageError(
            `purge would delete all ${plural(waiting, 'message')} waiting in ${stageKey(ref)}'s queue — those orders are lost for good (never processed, no dead letter; dead letters are kept); to pause instead: conveyor pause --stage ${ref.stage} --warehouse ${ref.warehouse}${targetFlags(globals)}; to go ahead, add --yes`,
          );
        }
        await target.purge(ref);
        say(
          context,
          `${styleFor(context).bold(stageKey(ref))}: purged — ${plural(waiting, 'message')} deleted from its queue (SQS may take up to 60 s to finish)`,
        );
      });
    });
}

/** Runs `work` on the stage in each selected warehouse, in order. */
async function eachStage(
  context: CliContext,
  globals: GlobalOptions,
  options: StageOptions,
  work: (target: Target, ref: StageRef) => Promise<void>,
): Promise<void> {
  await withTarget(globals, context, async (target) => {
    for (const ref of await selectStages(target, options.stage, options.warehouse)) await work(target, ref);
  });
}

/**
 * How long a paused stage's queue keeps its messages, and a warning when the oldest nears that.
 *
 * @example
 * describeRetention({ warehouse: 'wh-1', stage: 'packing' }, { retentionSeconds: 345600, oldestMessageAgeSeconds: 12, nearsRetention: false }, createStyle(false));
 * // ['  its queue keeps messages 4d00h (the oldest is 12s old): resume before SQS deletes them']
 */
export function describeRetention(ref: StageRef, retention: QueueRetention, style: Style): string[] {
  if (retention.retentionSeconds === null)
    return [style.dim(`  its queue's retention could not be read${retention.note ? ` (${retention.note})` : ''}`)];
  const keeps = duration(retention.retentionSeconds);
  const age = retention.oldestMessageAgeSeconds;
  const oldest =
    age === null
      ? `age of the oldest not known${retention.note ? `: ${retention.note}` : ''}`
      : age === 0
        ? 'it is empty'
        : `the oldest is ${duration(age)} old`;
  const lines = [`  its queue keeps messages ${keeps} (${oldest}): resume before SQS deletes them`];
  if (retention.nearsRetention && age !== null) {
    lines.push(
      `${style.red('!')} ${stageKey(ref)}: its oldest message is already ${duration(age)} old — SQS deletes it in ${duration(retention.retentionSeconds - age)}; resume soon, or it is lost`,
    );
  }
  return lines;
}

function describeControl(result: StageControlResult): string {
  const state = result.paused ? 'paused' : 'running';
  const transition =
    result.state && !['Enabled', 'Disabled'].includes(result.state) ? ` (event source mapping ${result.state})` : '';
  return `${state}${transition}${result.maxConcurrency !== null ? `, max concurrency ${count(result.maxConcurrency)}` : ''}`;
}
