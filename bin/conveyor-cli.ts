#!/usr/bin/env node
/**
 * `npx conveyor …`: operate a Conveyor pipeline — the local runtime (default) or a deployed stack
 * (`--target aws`). See `npx conveyor --help`.
 */
import { processContext } from '../lib/cli/context.ts';
import { runCli } from '../lib/cli/program.ts';

// `conveyor status | head`: the reader went away — stop quietly, like any Unix tool.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

process.exitCode = await runCli(process.argv.slice(2), processContext());
