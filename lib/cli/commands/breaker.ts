/** `conveyor breaker open|close`: an operator's override of a stage's circuit breaker. */
import type { Command } from 'commander';
import type { BreakerOverride } from '../../contract/breaker.ts';
import { say, styleFor, type CliContext } from '../context.ts';
import { selectStages, targetFlags, withTarget, type GlobalOptions } from '../open-target.ts';
import { stageName } from '../options.ts';
import type { RunState } from '../program.ts';
import { stageKey, type StageBreaker, type StageRef } from '../target.ts';

const HELP = `
Every stage has a circuit breaker (the topology's \`breaker\` settings): when too many of its records
fail it opens — the stage stops consuming its queue, so its orders wait there instead of burning
their retries into the dead-letter queue — then probes at the least concurrency and closes when the
probe is healthy. \`conveyor status\` shows it (BREAKER). Override it:

  open    hold it open — consumption stops — until an operator closes it (the probe never runs)
  close   close it now — consumption resumes at the stage's concurrency — whatever opened it

Locally through the runtime's admin API; on AWS through the stack's breaker function (Lambda Invoke),
which switches the stage's event source mapping, records the state and notifies the alarm topic.

Examples:
  $ npx conveyor breaker open --stage delivery --warehouse wh-1       while the carrier is down
  $ npx conveyor breaker close --stage delivery --warehouse wh-1      once it is back
  $ npx conveyor breaker close --stage packing --target aws --region eu-west-1
`;

interface BreakerOptions {
  readonly stage: string;
  readonly warehouse?: string;
}

export function registerBreakerCommands(program: Command, context: CliContext, _state: RunState): void {
  const breaker = program
    .command('breaker')
    .description("override a stage's circuit breaker: hold it open, or close it")
    .addHelpText('after', HELP);

  const override = (name: 'open' | 'close', description: string, state: BreakerOverride) =>
    breaker
      .command(name)
      .description(description)
      .requiredOption('--stage <stage>', 'the stage, as `conveyor status` lists it (required)', stageName)
      .option('--warehouse <id>', 'this warehouse only (default: all)')
      .addHelpText('after', HELP)
      .action(async (options: BreakerOptions, command: Command) => {
        const globals = command.optsWithGlobals() as GlobalOptions;
        await withTarget(globals, context, async (target) => {
          for (const ref of await selectStages(target, options.stage, options.warehouse)) {
            say(context, describeOverride(ref, await target.breaker(ref, state), context, targetFlags(globals)));
          }
        });
      });

  override('open', 'hold a stage’s circuit breaker open (it stops consuming) until an operator closes it', 'open');
  override('close', 'close a stage’s circuit breaker (it consumes again), whatever opened it', 'closed');
}

function describeOverride(ref: StageRef, breaker: StageBreaker, context: CliContext, flags: string): string {
  const key = styleFor(context).bold(stageKey(ref));
  if (breaker.state === 'open') {
    return `${key}: circuit breaker open (${breaker.reason}) — its orders wait in its queue until: conveyor breaker close --stage ${ref.stage} --warehouse ${ref.warehouse}${flags}`;
  }
  return `${key}: circuit breaker ${breaker.state} (${breaker.reason}) — it consumes its queue again`;
}
