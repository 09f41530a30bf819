/**
 * `npm start`: the whole Conveyor pipeline on this machine — embedded SQS and DynamoDB emulators,
 * the same handlers, the same HTTP API — on 127.0.0.1. See `npm start -- --help`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseChaos } from '../lib/runtime/chaos.ts';
import { DataDirError } from '../lib/local/data-dir.ts';
import { describeReconcile, ProvisionError } from '../lib/local/provision.ts';
import { DEFAULT_LOCAL_PORT, DEFAULT_LOCAL_URL } from '../lib/cli/local-target.ts';
import { LOG_LEVELS, LogOutput, type LogFormat, type LogLevel } from '../lib/local/log-output.ts';
import { LocalRuntime } from '../lib/local/runtime.ts';
import { allStages, loadTopology, TopologyError, type Topology } from '../lib/topology/index.ts';

const USAGE = `Usage: npm start [-- --in-memory | --reset] [--watch] [--prune]

Runs the Conveyor pipeline locally: API on http://127.0.0.1:$CONVEYOR_PORT (default ${DEFAULT_LOCAL_PORT}).
The topology (cdk.json's context "conveyor", or CONVEYOR_TOPOLOGY) is applied on start as a
deploy would: changed queue settings are updated in place, new warehouses created; stored orders stay.

Options:
  --in-memory   keep nothing on disk (a throwaway run)
  --reset       wipe the data directory first
  --watch       rebuild a handler when its code (or code it imports) changes; the next invocations
                run the new code, no restart. Configuration changes still need a restart.
  --prune       remove the queues of stages no longer in the topology, if they hold nothing
  -h, --help    show this help

Environment:
  CONVEYOR_PORT        API port on 127.0.0.1 (default ${DEFAULT_LOCAL_PORT}; the CLI reads it too)
  CONVEYOR_DATA_DIR    where queues and order status persist (default .conveyor)
  CONVEYOR_CHAOS       faults per stage, stage:probability[:effect] — effect fail (default; per record,
                       transient), stall (per batch, past the timeout) or delay=<ms> (per batch);
                       e.g. picking:0.2,packing:0.1:stall (1 = always)
  CONVEYOR_TOPOLOGY    the topology as inline JSON — the shape of cdk.json's context "conveyor",
                       e.g. '{"stages":{"picking":{"maxReceiveCount":1}}}' — instead of cdk.json's
  CONVEYOR_LOG_LEVEL   debug | info | warn | error | silent (default info)
  CONVEYOR_LOG_FORMAT  pretty | json (default: pretty in a terminal, json otherwise)
`;

/** A start-up problem: printed as one line (no stack trace), exit 1. */
class StartError extends Error {}

function parseOptions() {
  const config = {
    options: {
      'in-memory': { type: 'boolean' },
      reset: { type: 'boolean' },
      prune: { type: 'boolean' },
      watch: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  } as const;
  let args: ReturnType<typeof parseArgs<typeof config>>;
  try {
    args = parseArgs(config);
  } catch (error) {
    process.stderr.write(`npm start: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (args.values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (args.values['in-memory'] && args.values.reset)
    throw new StartError('--reset wipes the data directory, and --in-memory uses none: choose one');

  const env = process.env;
  const portText = env.CONVEYOR_PORT ?? String(DEFAULT_LOCAL_PORT);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535)
    throw new StartError(`CONVEYOR_PORT must be a port number from 0 to 65535, got "${portText}"`);

  const levelText = (env.CONVEYOR_LOG_LEVEL ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(levelText))
    throw new StartError(`CONVEYOR_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.CONVEYOR_LOG_LEVEL}"`);
  const formatText = env.CONVEYOR_LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json');
  if (formatText !== 'pretty' && formatText !== 'json')
    throw new StartError(`CONVEYOR_LOG_FORMAT must be pretty or json, got "${formatText}"`);

  let topology: Topology;
  if (env.CONVEYOR_TOPOLOGY !== undefined) {
    topology = loadTopology(env.CONVEYOR_TOPOLOGY, 'CONVEYOR_TOPOLOGY');
  } else {
    const cdkJson = new URL('../cdk.json', import.meta.url);
    let context: unknown;
    try {
      context = (JSON.parse(readFileSync(cdkJson, 'utf8')) as { context?: Record<string, unknown> }).context?.conveyor;
    } catch (error) {
      throw new StartError(`cannot read the topology from cdk.json: ${(error as Error).message}`);
    }
    topology = loadTopology(context);
  }
  try {
    parseChaos(env.CONVEYOR_CHAOS, [...new Set(allStages(topology).map((s) => s.name))]);
  } catch (error) {
    throw new StartError((error as Error).message);
  }

  return {
    port,
    dataDir: args.values['in-memory'] ? undefined : (env.CONVEYOR_DATA_DIR ?? '.conveyor'),
    reset: args.values.reset ?? false,
    prune: args.values.prune ?? false,
    watch: args.values.watch ?? false,
    chaos: env.CONVEYOR_CHAOS,
    level: levelText as LogLevel,
    format: formatText as LogFormat,
    topology,
  };
}

function banner(runtime: LocalRuntime, options: ReturnType<typeof parseOptions>): string {
  const { applied, attention } = describeReconcile(runtime.reconciled);
  const lines = [
    '',
    '  Conveyor — local runtime',
    '',
    `  API        ${runtime.url}/orders   (POST an order; GET /orders/{orderId})`,
    `  Dashboard  ${runtime.url}/dashboard`,
    `  Stats      ${runtime.url}/api/stats`,
    `  Alarms     ${runtime.url}/api/alarms`,
    `  Health     ${runtime.url}/healthz`,
    `  CLI        npx conveyor status${runtime.url === DEFAULT_LOCAL_URL ? '' : ` --url ${runtime.url}`}`,
    `  Data       ${runtime.dataDir ? `${runtime.dataDir} (persistent; --reset wipes it)` : 'in memory (--in-memory)'}`,
    `  Tracking   ${runtime.topology.tracking}`,
    ...(options.chaos ? [`  Chaos      ${options.chaos}`] : []),
    options.watch
      ? '  Watch      on: a saved handler or code it imports is rebuilt and runs from the next invocation; cdk.json changes need a restart'
      : '  Watch      off (npm start -- --watch reloads handler code on save)',
    '',
    '  Topology',
    ...runtime.topology.pipelines.map(
      (p) =>
        `    ${p.id.padEnd(8)} ${p.stages.map((s) => `${s.name} (batch ${s.batchSize}, window ${s.maxBatchingWindowSeconds}s, ×${s.maxConcurrency})`).join(' → ')}`,
    ),
    ...(applied.length + attention.length > 0
      ? [
          '',
          '  Applied on this start (the topology changed)',
          ...applied.map((l) => `    ${l}`),
          ...attention.map((l) => `    ! ${l}`),
        ]
      : []),
    '',
    `  Try:  curl -s -X POST ${runtime.url}/orders -H 'content-type: application/json' \\`,
    `          -d '{"warehouseId":"${runtime.topology.pipelines[0]?.id}","items":[{"sku":"SKU-1","quantity":2}]}'`,
    '  Stop: Ctrl-C',
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions();
  const output = new LogOutput({ level: options.level, format: options.format });
  const started = Date.now();
  const runtime = await LocalRuntime.start({
    topology: options.topology,
    port: options.port,
    ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
    reset: options.reset,
    prune: options.prune,
    watch: options.watch,
    ...(options.chaos ? { chaos: options.chaos } : {}),
    output,
    functionLogLevel: options.level,
    onFatal: (message) => {
      output.emit('error', `${message}; stopping`);
      process.exit(1);
    },
  });
  if (options.format === 'pretty') process.stdout.write(`${banner(runtime, options)}\n`);
  output.notice('ready', {
    url: runtime.url,
    dataDir: runtime.dataDir ?? 'in-memory',
    stages: allStages(runtime.topology).length,
    startupMs: Date.now() - started,
  });

  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) {
      output.emit('warn', 'second signal: exiting now', { signal });
      process.exit(1);
    }
    output.notice('shutting down: no new work; running invocations finish', { signal });
    runtime.stop().then(
      () => {
        output.notice('stopped');
        process.exit(0);
      },
      (error: Error) => {
        output.emit('error', 'shutdown failed', { error: error.message });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: Error & { code?: string; port?: number }) => {
  let message: string;
  if (error.code === 'EADDRINUSE') {
    message = `port ${process.env.CONVEYOR_PORT ?? DEFAULT_LOCAL_PORT} on 127.0.0.1 is already in use; set CONVEYOR_PORT to a free port (e.g. CONVEYOR_PORT=3001 npm start) or stop what is using it`;
  } else if (error.code === 'EACCES' && error.port !== undefined) {
    message = `not allowed to listen on port ${error.port}; choose a port above 1023 with CONVEYOR_PORT`;
  } else if (
    error instanceof StartError ||
    error instanceof TopologyError ||
    error instanceof DataDirError ||
    error instanceof ProvisionError
  ) {
    message = error.message;
  } else {
    message = `failed to start: ${error.message}`;
  }
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(1);
});
