/**
 * The built handlers: bundle size (minified, as the stack deploys them) and module init time —
 * a cold start's import of the bundle in a fresh execution environment (a new worker thread, its
 * own V8 isolate), median of several; and the CPU time of that init in a fresh process, which
 * shared cores disturb far less than wall time.
 *
 * Usage: node bench/handlers.ts [--samples 5] [--lambda-tracing] [--against DIR]
 *   --lambda-tracing  with the environment Lambda gives a function with active X-Ray tracing (the tracer on)
 *   --against DIR     also another build's bundles (e.g. a copy of node_modules/.cache/conveyor/bench-handlers
 *                     made on another commit), timed in alternation with the current one
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { bundleHandlers } from '../lib/build/handler-bundle.ts';
import { LocalFunction } from '../lib/local/local-function.ts';
import { intakeEnvironment, stageEnvironment } from '../lib/runtime/environment.ts';
import { loadTopology } from '../lib/topology/index.ts';
import { parseFlags, usageError } from './support.ts';

export const HANDLERS = ['intake', 'picking', 'packing', 'delivery'] as const;
const NODE = process.execPath;
const OUT = fileURLToPath(new URL('../node_modules/.cache/conveyor/bench-handlers/', import.meta.url));

/** What the bench's functions reach: a closed local port (nothing is called at init). */
const NOWHERE = 'http://127.0.0.1:9/0';

/**
 * A valid configuration for each handler, built by the same functions the stack and the local runtime
 * use (lib/runtime/environment.ts), so it cannot drift from what the handlers read; init reads it.
 */
export function handlerEnvironment(handler: string): Record<string, string> {
  const common = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'x',
    AWS_SECRET_ACCESS_KEY: 'x',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  };
  const topology = loadTopology({}, 'bench');
  const pipeline = topology.pipelines[0]!;
  if (handler === 'intake') {
    return {
      ...common,
      ...intakeEnvironment(topology, {
        tableName: 'orders',
        entryQueueUrls: Object.fromEntries(topology.pipelines.map((p) => [p.id, `${NOWHERE}/${p.id}`])),
      }),
    };
  }
  const stage = pipeline.stages.find((s) => s.handler === handler);
  if (!stage) throw new Error(`no stage of ${pipeline.id} runs the handler ${handler}`);
  return {
    ...common,
    ...stageEnvironment(topology, stage, {
      queueUrl: `${NOWHERE}/q`,
      deadLetterQueueUrl: `${NOWHERE}/d`,
      ...(stage.next ? { nextQueueUrl: `${NOWHERE}/n` } : {}),
      tableName: 'orders',
    }),
  };
}

/**
 * What Lambda adds to a function's environment when X-Ray tracing is active: the runtime marker the
 * tracer switches on with, the task root the X-Ray SDK recognises Lambda by, a trace header and the
 * daemon's address (a loopback port nobody listens on: nothing is sent at init).
 */
export const LAMBDA_TRACING_ENVIRONMENT: Readonly<Record<string, string>> = {
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  LAMBDA_TASK_ROOT: '/var/task',
  AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
  _X_AMZN_TRACE_ID: 'Root=1-67a0b0c0-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1',
  AWS_XRAY_DAEMON_ADDRESS: '127.0.0.1:9',
};

export interface MeasureOptions {
  readonly samples?: number;
  /** Run the functions as Lambda does with active tracing (the tracer on). */
  readonly lambdaTracing?: boolean;
}

/** Module init of one bundle in a fresh execution environment, ms. */
async function initOnce(
  handler: string,
  file: string,
  extraEnvironment: Readonly<Record<string, string>>,
): Promise<number> {
  const fn = new LocalFunction(
    {
      name: `bench-${handler}`,
      handlerModule: file,
      environment: { ...handlerEnvironment(handler), ...extraEnvironment },
      timeoutSeconds: 10,
      memoryMb: 256,
      maxConcurrency: 1,
      region: 'us-east-1',
    },
    () => undefined,
  );
  // An event the handler rejects at once (not an SQS batch / unknown route): only init is timed.
  const outcome = await fn.invoke(
    handler === 'intake' ? { httpMethod: 'GET', resource: '/nowhere', path: '/nowhere', headers: {} } : { Records: [] },
  );
  await fn.close();
  if (!outcome.ok && outcome.kind === 'init') throw new Error(`${handler} did not initialise: ${outcome.message}`);
  return fn.stats.lastInitMs ?? Number.NaN;
}

/** Imports a bundle in a fresh Node process and prints the CPU time the import took (its init). */
const CPU_PROBE =
  'const before = process.cpuUsage(); await import(process.argv[1]); const spent = process.cpuUsage(before); process.stdout.write(String((spent.user + spent.system) / 1000));';

/**
 * The CPU time of one bundle's init — its import in a fresh Node process, source maps on as the stack
 * deploys them (NODE_OPTIONS=--enable-source-maps): unlike wall time, it barely moves when other
 * work shares the machine's cores, so two builds can be told apart by a few milliseconds.
 */
function initCpuOnce(handler: string, file: string, extraEnvironment: Readonly<Record<string, string>>): number {
  const env = { PATH: process.env.PATH ?? '', ...handlerEnvironment(handler), ...extraEnvironment };
  return Number(
    execFileSync(NODE, ['--enable-source-maps', '--input-type=module', '-e', CPU_PROBE, pathToFileURL(file).href], {
      env,
      encoding: 'utf8',
    }),
  );
}

const median = (values: readonly number[]) =>
  Number(([...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number).toFixed(1));

interface BuildFigures {
  readonly bundleKb: Record<string, number>;
  /** Wall time of a cold start's init in a fresh execution environment (a worker thread), median. */
  readonly initMs: Record<string, number>;
  /** CPU time of the same init in a fresh process, median. */
  readonly initCpuMs: Record<string, number>;
}

/** Bundle size and median init of each handler, for each build (handler name → bundle file), timed in alternation. */
async function measureBuilds(
  builds: Record<string, (handler: string) => string>,
  { samples = 5, lambdaTracing = false }: MeasureOptions,
): Promise<Record<string, BuildFigures>> {
  const extra = lambdaTracing ? LAMBDA_TRACING_ENVIRONMENT : {};
  const report: Record<string, BuildFigures> = Object.fromEntries(
    Object.keys(builds).map((b) => [b, { bundleKb: {}, initMs: {}, initCpuMs: {} }]),
  );
  for (const handler of HANDLERS) {
    const wall = new Map<string, number[]>(Object.keys(builds).map((b) => [b, []]));
    const cpu = new Map<string, number[]>(Object.keys(builds).map((b) => [b, []]));
    for (let i = 0; i < samples; i++) {
      for (const [build, file] of Object.entries(builds)) {
        wall.get(build)!.push(await initOnce(handler, file(handler), extra));
        cpu.get(build)!.push(initCpuOnce(handler, file(handler), extra));
      }
    }
    for (const [build, file] of Object.entries(builds)) {
      report[build]!.bundleKb[handler] = Number((statSync(file(handler)).size / 1024).toFixed(1));
      report[build]!.initMs[handler] = median(wall.get(build)!);
      report[build]!.initCpuMs[handler] = median(cpu.get(build)!);
    }
  }
  return report;
}

/** Bundle size and median init of each handler as built now. */
export async function measureHandlers(options: MeasureOptions | number = {}): Promise<BuildFigures> {
  const bundles = await bundleHandlers(HANDLERS, OUT);
  const report = await measureBuilds(
    { current: (h) => bundles.get(h) as string },
    typeof options === 'number' ? { samples: options } : options,
  );
  return report.current as BuildFigures;
}

/** The same, and of another build's bundles (same file names in `dir`), timed in alternation so machine load hits both alike. */
export async function measureAgainst(dir: string, options: MeasureOptions = {}): Promise<Record<string, BuildFigures>> {
  const bundles = await bundleHandlers(HANDLERS, OUT);
  return measureBuilds({ current: (h) => bundles.get(h) as string, against: (h) => join(dir, `${h}.mjs`) }, options);
}

if (import.meta.main) {
  const { values } = parseFlags({
    options: {
      samples: { type: 'string', default: '5' },
      'lambda-tracing': { type: 'boolean', default: false },
      against: { type: 'string' },
    },
  });
  const samples = Number(values.samples);
  if (!Number.isInteger(samples) || samples < 1)
    usageError(`--samples must be a whole number ≥ 1, got "${values.samples}" — e.g. --samples 9`);
  if (values.against !== undefined && !existsSync(values.against))
    usageError(
      `--against ${values.against}: no such directory — pass a directory holding another build's intake.mjs, picking.mjs, …`,
    );
  const options = { samples, lambdaTracing: values['lambda-tracing'] };
  console.log(
    JSON.stringify(
      values.against === undefined ? await measureHandlers(options) : await measureAgainst(values.against, options),
      null,
      2,
    ),
  );
}
