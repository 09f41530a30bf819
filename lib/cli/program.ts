/**
 * The `conveyor` command line: the program, its global (target) flags, its commands, and the one
 * place every error ends — printed as one line, with a non-zero exit code.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { registerBreakerCommands } from './commands/breaker.ts';
import { registerDlqCommands } from './commands/dlq.ts';
import { registerOrderCommands } from './commands/orders.ts';
import { registerSendCommand } from './commands/send.ts';
import { registerStageCommands } from './commands/stage-controls.ts';
import { registerStatusCommand } from './commands/status.ts';
import { registerTraceCommand } from './commands/trace.ts';
import type { CliContext } from './context.ts';
import { EXIT_USAGE, explainError, oneLine } from './errors.ts';
import { awsErrorContext, type GlobalOptions } from './open-target.ts';
import { DEFAULT_LOCAL_URL } from './local-target.ts';
import { runtimeUrl } from './options.ts';

/** What commands share with the runner: the exit code they want when they end without an error. */
export interface RunState {
  exitCode: number;
}

const EXAMPLES = `
Examples:
  $ npx conveyor status                                  the queue table of the local runtime
  $ npx conveyor send --count 1000 --rate 200            load: 1,000 orders over both warehouses
  $ npx conveyor dlq peek --stage picking                dead letters and why, without consuming them
  $ npx conveyor dlq redrive --stage picking --warehouse wh-1
  $ npx conveyor pause --stage packing                   stop consuming (a sick downstream)
  $ npx conveyor scale --stage picking --max-concurrency 20
  $ npx conveyor orders list --status dead-lettered --since 1h   orders that need you
  $ npx conveyor trace o-1                               one order's history and log lines
  $ npx conveyor breaker open --stage delivery --warehouse wh-1   hold its circuit breaker open
  $ npx conveyor status --target aws --stack Conveyor --region eu-west-1 --profile ops

Targets:
  local (default)  the runtime \`npm start\` runs, at --url, else CONVEYOR_URL, else 127.0.0.1 on
                   CONVEYOR_PORT (as \`npm start\` uses it), else ${DEFAULT_LOCAL_URL}
  aws              a deployed stack (--stack, default Conveyor), found through its CloudFormation
                   outputs; uses your AWS credentials (--profile, or the SDK's default chain)

Set CONVEYOR_DEBUG=1 to print the stack trace of an unexpected error.
`;

/**
 * The program, writing to the context's streams and throwing instead of exiting.
 * @example
 * await createProgram(context, { exitCode: 0 }).parseAsync(['status', '--json'], { from: 'user' });
 */
export function createProgram(context: CliContext, state: RunState): Command {
  const program = new Command('conveyor');
  program
    .description(
      'Operate a Conveyor pipeline — the local runtime (default) or a deployed stack (--target aws): queue table, load, dead letters, pause, resume, scale, circuit breakers.',
    )
    .usage('<command> [options]')
    .version(packageVersion(), '-V, --version', 'print the version')
    .addOption(
      new Option('--target <target>', 'what to operate: the local runtime, or a deployed stack')
        .choices(['local', 'aws'])
        .default('local')
        .helpGroup('Target:'),
    )
    .addOption(
      new Option(
        '--url <url>',
        `local runtime address, e.g. localhost:3457 (env CONVEYOR_URL or CONVEYOR_PORT; default ${DEFAULT_LOCAL_URL})`,
      )
        .argParser((value) => runtimeUrl(value))
        .helpGroup('Target:'),
    )
    .addOption(
      new Option(
        '--stack <name>',
        'with --target aws: the stack name (env CONVEYOR_STACK; default Conveyor)',
      ).helpGroup('Target:'),
    )
    .addOption(
      new Option(
        '--region <region>',
        "with --target aws: the stack's region (default AWS_REGION or the profile's)",
      ).helpGroup('Target:'),
    )
    .addOption(
      new Option(
        '--profile <profile>',
        'with --target aws: the AWS profile (default AWS_PROFILE or the default chain)',
      ).helpGroup('Target:'),
    )
    .addOption(
      new Option(
        '--api-key <key>',
        'with --target aws, for an API deployed with api.authorization "api-key" (env CONVEYOR_API_KEY)',
      ).helpGroup('Target:'),
    )
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({
      writeOut: (text) => void context.stdout.write(text),
      writeErr: (text) => void context.stderr.write(text),
      getOutHelpWidth: () => Math.min(context.stdout.columns ?? 100, 120),
      getErrHelpWidth: () => Math.min(context.stderr.columns ?? 100, 120),
      // Commander's own errors (unknown option, missing value): one line, and where to look.
      // Commander ends its sentences with a period; ours continue after a dash.
      outputError: (text, write) =>
        write(
          `conveyor: ${oneLine(text.replace(/^error: /, '')).replace(/\.$/, '')} — run with --help for usage and examples\n`,
        ),
    })
    .showSuggestionAfterError(true)
    .exitOverride()
    .addHelpText('after', EXAMPLES);

  registerStatusCommand(program, context, state);
  registerSendCommand(program, context, state);
  registerOrderCommands(program, context, state);
  registerTraceCommand(program, context, state);
  registerDlqCommands(program, context, state);
  registerStageCommands(program, context, state);
  registerBreakerCommands(program, context, state);
  return program;
}

/**
 * Runs the CLI with the arguments after `conveyor`; resolves with the exit code. Never throws:
 * every error is printed as one line (and its stack with CONVEYOR_DEBUG=1).
 *
 * @example
 * process.exitCode = await runCli(process.argv.slice(2), processContext());
 */
export async function runCli(argv: readonly string[], context: CliContext): Promise<number> {
  const state: RunState = { exitCode: 0 };
  let program: Command | undefined;
  try {
    program = createProgram(context, state);
    await program.parseAsync([...argv], { from: 'user' });
    return state.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Already printed by commander (help, version, or a usage error through outputError).
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
      if (error.code === 'commander.help' || error.code === 'commander.executeSubCommandAsync')
        return error.exitCode === 0 ? 0 : EXIT_USAGE;
      return EXIT_USAGE;
    }
    const globals = (program?.opts() ?? {}) as GlobalOptions;
    const explained = explainError(error, globals.target === 'aws' ? awsErrorContext(globals, context.env) : {});
    context.stderr.write(`conveyor: ${explained.message}\n`);
    if (isDebug(context.env) && error instanceof Error && error.stack) context.stderr.write(`${error.stack}\n`);
    return explained.exitCode;
  }
}

function packageVersion(): string {
  try {
    return (
      (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string })
        .version ?? 'unknown'
    );
  } catch {
    return 'unknown';
  }
}

function isDebug(env: CliContext['env']): boolean {
  const value = env.CONVEYOR_DEBUG;
  return value !== undefined && value !== '' && value !== '0' && value !== 'false';
}
