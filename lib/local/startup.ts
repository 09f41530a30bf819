/**
 * How the local runtime starts, step by step — each step registers how to undo itself in `cleanup`
 * (run in reverse on stop or on a failed start):
 *
 *   startBackbone    the API port (first: a taken port is the common mistake), the data directory,
 *                    the emulator process, the AWS clients, and the topology provisioned like a deploy
 *   startFunctions   the handler bundles (the stack's), the intake, every stage's function and event
 *                    source mapping, the dead-letter auditor on its schedule
 *   startBreakers    every stage's circuit breaker, ticking once a second
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { bundleHandlers } from '../build/handler-bundle.ts';
import { watchHandlers } from '../build/handler-watch.ts';
import { parseQueueChaos, type QueueChaos } from '../runtime/chaos.ts';
import { auditorEnvironment, intakeEnvironment, stageEnvironment } from '../runtime/environment.ts';
import { allStages, firstStage, nextStageOf, type Stage, type Topology } from '../topology/index.ts';
import type { StageControlStore } from './admin.ts';
import { startApiServer, type ApiServer, type Route } from './api-server.ts';
import { LocalBreaker } from './breaker.ts';
import { openDataDir, type DataDir } from './data-dir.ts';
import { EmulatorSupervisor } from './emulator-supervisor.ts';
import { LocalEventSourceMapping } from './event-source-mapping.ts';
import { LocalFunction, type OutputSink } from './local-function.ts';
import type { LogLevel, LogOutput } from './log-output.ts';
import type { OrderLog } from './order-log.ts';
import { describeReconcile, provision, type LocalResources, type ReconcileReport } from './provision.ts';
import type { LocalRuntimeOptions } from './runtime.ts';
import type { RuntimeStats } from './stats.ts';

/** What undoes the steps taken so far, in the order they were taken. */
export type Cleanup = Array<() => Promise<void> | void>;

/**
 * Where the runtime builds its handler bundles: inside the project, so their external `@aws-sdk/*`
 * imports resolve from its node_modules; one directory per process (runtimes may run side by side).
 */
const BUILD_ROOT = fileURLToPath(new URL('../../node_modules/.cache/conveyor/', import.meta.url));
/** The handler module of the dead-letter auditor (handlers/dead-letter-auditor.ts). */
export const DEAD_LETTER_AUDITOR = 'dead-letter-auditor';
/**
 * How often the auditor runs locally. In the cloud EventBridge runs it every minute (its finest
 * rate); locally every few seconds, so a dead letter moved by a redrive policy shows at once.
 */
export const LOCAL_AUDIT_INTERVAL_MS = 5_000;
/** API Gateway invokes the intake function with as much concurrency as requests need; locally a few environments do. */
const INTAKE_CONCURRENCY = 2;
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

/** What every later step stands on: where requests arrive, where state lives, the emulators and their clients. */
export interface Backbone {
  readonly api: ApiServer;
  readonly dataDir: DataDir | undefined;
  readonly emulators: EmulatorSupervisor;
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  readonly resources: LocalResources;
  readonly reconciled: ReconcileReport;
}

export async function startBackbone(
  options: LocalRuntimeOptions,
  routes: Route[],
  cleanup: Cleanup,
): Promise<Backbone> {
  const { output } = options;
  const region = options.region ?? 'us-east-1';
  const api = await startApiServer(options.port, routes, (error) =>
    output.emit('error', 'API server error', { error: error.message }),
  );
  cleanup.push(() => api.close());
  const dataDir =
    options.dataDir === undefined ? undefined : openDataDir(options.dataDir, { reset: options.reset ?? false });
  if (dataDir) cleanup.push(() => dataDir.release());
  const emulators = await EmulatorSupervisor.start(
    { ...(dataDir ? { dataDir: dataDir.path } : {}), region },
    {
      restarting: (cause, attempt) => output.emit('error', 'restarting the emulator process', { cause, attempt }),
      restarted: (downtimeMs) => output.emit('warn', 'the emulator process is back; work resumes', { downtimeMs }),
      lost: (cause) => (options.onFatal ?? ((message: string) => output.emit('error', message)))(cause),
    },
  );
  cleanup.push(() => emulators.stop());
  const sqs = new SQSClient({
    endpoint: emulators.endpoints.sqs,
    region,
    credentials,
    maxAttempts: 3,
    requestHandler: { requestTimeout: 30_000, connectionTimeout: 2_000 },
  });
  const dynamodb = new DynamoDBClient({ endpoint: emulators.endpoints.dynamodb, region, credentials, maxAttempts: 3 });
  cleanup.push(() => {
    sqs.destroy();
    dynamodb.destroy();
  });
  // Like a deploy: what exists is brought in line with the topology, the stored orders stay.
  const { report: reconciled, ...resources } = await provision(
    options.topology,
    { sqs, dynamodb, sqsEndpoint: emulators.endpoints.sqs },
    { prune: options.prune ?? false },
  );
  const { applied, attention } = describeReconcile(reconciled);
  for (const line of applied) output.notice(`topology: ${line}`);
  for (const line of attention) output.emit('warn', `topology: ${line}`);
  await emulators.setQueueChaos(queueChaosByName(options.chaos, resources));
  return { api, dataDir, emulators, sqs, dynamodb, resources, reconciled };
}

/** The functions (intake, stages, auditor) and the stages' event source mappings, not yet started. */
export async function startFunctions(
  options: LocalRuntimeOptions,
  backbone: Backbone,
  stats: RuntimeStats,
  orderLog: OrderLog,
  cleanup: Cleanup,
): Promise<{
  functions: Map<string, LocalFunction>;
  mappings: Map<string, LocalEventSourceMapping>;
  intake: LocalFunction;
}> {
  const { output, topology } = options;
  const { resources } = backbone;
  const buildDir = handlerBuildDir();
  cleanup.push(() => rmSync(buildDir, { recursive: true, force: true }));
  const functions = new Map<string, LocalFunction>();
  // The functions run the bundles the stack deploys (same esbuild options), not the sources.
  const bundles = await buildHandlers(options, buildDir, functions, cleanup);
  const sink: OutputSink = (line, source) => {
    if (stats.observeLine(line)) return;
    orderLog.observe(line, source.functionName);
    output.functionLine(line, source.functionName);
  };
  const make = localFunctionMaker(options, backbone, bundles, sink);
  const entryQueueUrls = Object.fromEntries(
    topology.pipelines.map((p) => [p.id, resources.stages.get(firstStage(p).key)!.queueUrl]),
  );
  const intake = make(
    'conveyor-intake',
    'intake',
    intakeEnvironment(topology, { tableName: resources.tableName, entryQueueUrls }),
    topology.intake,
    INTAKE_CONCURRENCY,
  );
  functions.set('intake', intake);
  const mappings = new Map<string, LocalEventSourceMapping>();
  for (const stage of allStages(topology)) {
    const fn = make(
      `conveyor-${stage.pipelineId}-${stage.name}`,
      stage.handler,
      stageEnvironmentOf(options, resources, stage),
      stage,
      stage.maxConcurrency,
    );
    functions.set(stage.key, fn);
    mappings.set(stage.key, stageMapping(options, backbone, stage, fn, stats));
  }
  const deadLetterQueueUrls = Object.fromEntries([...resources.stages].map(([key, r]) => [key, r.deadLetterQueueUrl]));
  const auditor = make(
    'conveyor-dead-letter-auditor',
    DEAD_LETTER_AUDITOR,
    auditorEnvironment(topology, { tableName: resources.tableName, deadLetterQueueUrls }),
    { timeoutSeconds: 60, memoryMb: 256 },
    1,
  );
  functions.set(DEAD_LETTER_AUDITOR, auditor);
  // Stop polling before the functions go away.
  cleanup.push(async () => {
    await Promise.all([...mappings.values()].map((m) => m.stop()));
    await Promise.all([...functions.values()].map((f) => f.close()));
  });
  // Runs first on stop (cleanup runs in reverse): no audit starts while the functions go away.
  const schedule = scheduleAudits(auditor, (message) => output.emit('warn', message, {}));
  cleanup.push(() => schedule.stop());
  return { functions, mappings, intake };
}

/** Makes the local functions of this runtime: the bundle of a handler, its environment, its limits. */
function localFunctionMaker(
  options: LocalRuntimeOptions,
  backbone: Backbone,
  bundles: ReadonlyMap<string, string>,
  sink: OutputSink,
) {
  const region = options.region ?? 'us-east-1';
  const base = functionBaseEnvironment(backbone.emulators.endpoints, region, options.functionLogLevel);
  return (
    name: string,
    handler: string,
    environment: Record<string, string>,
    limits: { timeoutSeconds: number; memoryMb: number },
    maxConcurrency: number,
  ) =>
    new LocalFunction(
      {
        name,
        handlerModule: bundles.get(handler)!,
        environment: { ...base, ...environment },
        timeoutSeconds: limits.timeoutSeconds,
        memoryMb: limits.memoryMb,
        maxConcurrency,
        region,
      },
      sink,
    );
}

function stageEnvironmentOf(
  options: LocalRuntimeOptions,
  resources: LocalResources,
  stage: Stage,
): Record<string, string> {
  const local = resources.stages.get(stage.key)!;
  const next = nextStageOf(options.topology, stage);
  return {
    ...stageEnvironment(options.topology, stage, {
      queueUrl: local.queueUrl,
      deadLetterQueueUrl: local.deadLetterQueueUrl,
      ...(next ? { nextQueueUrl: resources.stages.get(next.key)!.queueUrl } : {}),
      tableName: resources.tableName,
    }),
    ...(options.chaos ? { CONVEYOR_CHAOS: options.chaos } : {}),
  };
}

function stageMapping(
  options: LocalRuntimeOptions,
  backbone: Backbone,
  stage: Stage,
  fn: LocalFunction,
  stats: RuntimeStats,
): LocalEventSourceMapping {
  const { output } = options;
  const local = backbone.resources.stages.get(stage.key)!;
  return new LocalEventSourceMapping({
    stage,
    sqs: backbone.sqs,
    queue: { url: local.queueUrl, arn: local.queueArn },
    region: options.region ?? 'us-east-1',
    function: fn,
    onBatch: (report) => {
      stats.observeBatch(report);
      if (report.batchFailure)
        output.emit('warn', 'batch failed; its messages return after the visibility timeout', {
          stage: report.stageKey,
          records: report.records,
          kind: report.batchFailure.kind,
          reason: report.batchFailure.message,
        });
    },
    onError: (error, stageKey) =>
      output.emit('warn', 'receive failed; retrying', { stage: stageKey, error: error.message }),
  });
}

/** Every stage's circuit breaker over its mapping, restored from the data directory, ticking once a second. */
export function startBreakers(
  topology: Topology,
  mappings: ReadonlyMap<string, LocalEventSourceMapping>,
  controls: StageControlStore,
  output: LogOutput,
  cleanup: Cleanup,
): Map<string, LocalBreaker> {
  const breakers = new Map<string, LocalBreaker>();
  for (const stage of allStages(topology)) {
    const breaker = new LocalBreaker(stage, mappings.get(stage.key)!, controls.get(stage.key).breaker, {
      save: (saved) => controls.set(stage.key, { breaker: saved }),
      notify: (message, fields) => output.notice(message, fields),
    });
    breakers.set(stage.key, breaker);
  }
  const ticker = setInterval(() => {
    for (const breaker of breakers.values()) breaker.tick();
  }, BREAKER_TICK_MS);
  ticker.unref();
  cleanup.push(() => clearInterval(ticker));
  return breakers;
}

/** How often the breakers look at their counts. */
const BREAKER_TICK_MS = 1_000;

/** Invokes the auditor on a schedule, as EventBridge would: never two runs at once. */
function scheduleAudits(auditor: LocalFunction, warn: (message: string) => void): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const timer = setInterval(() => {
    if (auditor.inUse > 0) return;
    running = auditor
      .invoke({ source: 'aws.scheduler', 'detail-type': 'Scheduled Event', detail: {} })
      .then((result) => {
        if (!result.ok && !stopped) warn(`the dead-letter auditor failed (${result.kind}): ${result.message}`);
      });
  }, LOCAL_AUDIT_INTERVAL_MS);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * The handler bundles, by handler name. With `watch`, a handler is rebuilt when its code changes and
 * every function running it (looked up in `functions` at that moment) gets the new code.
 */
async function buildHandlers(
  options: LocalRuntimeOptions,
  buildDir: string,
  functions: ReadonlyMap<string, LocalFunction>,
  cleanup: Array<() => Promise<void> | void>,
): Promise<Map<string, string>> {
  const stages = allStages(options.topology);
  const names = ['intake', DEAD_LETTER_AUDITOR, ...stages.map((s) => s.handler)];
  if (!options.watch) return bundleHandlers(names, buildDir);
  const handlerOf = new Map<string, string>([
    ['intake', 'intake'],
    [DEAD_LETTER_AUDITOR, DEAD_LETTER_AUDITOR],
    ...stages.map((s) => [s.key, s.handler] as const),
  ]);
  // One edit often breaks (or mends) every bundle that imports the file: one line for all of them.
  const say = coalesce((message: string, handlers: string[], fields: Record<string, unknown>) =>
    options.output.emit(fields.error ? 'error' : 'info', `${handlers.join(', ')}: ${message}`, fields),
  );
  const watcher = await watchHandlers(names, buildDir, {
    rebuilt(build, durationMs) {
      const affected = [...functions].filter(([key]) => handlerOf.get(key) === build.name).map(([, fn]) => fn);
      for (const fn of affected) fn.updateCode(build.module, build.codeSha256);
      options.output.notice(`${build.name} rebuilt: the next invocations run the new code`, {
        functions: affected.map((f) => f.spec.name),
        buildMs: Math.round(durationMs),
      });
    },
    failed: (name, message) =>
      say('build failed; the previous code keeps running until a fix is saved', name, { error: message }),
    recovered: (name) => say('builds again, the same code as is running', name, {}),
  });
  cleanup.push(() => watcher.close());
  return new Map([...watcher.builds].map(([name, build]) => [name, build.module]));
}

/** Calls `emit` once for the same message and fields reported for several handlers within 200 ms. */
function coalesce(emit: (message: string, handlers: string[], fields: Record<string, unknown>) => void) {
  const pending = new Map<string, { message: string; handlers: string[]; fields: Record<string, unknown> }>();
  return (message: string, handler: string, fields: Record<string, unknown>) => {
    const key = `${message}\0${JSON.stringify(fields)}`;
    const entry = pending.get(key);
    if (entry) return void entry.handlers.push(handler);
    pending.set(key, { message, handlers: [handler], fields });
    setTimeout(() => {
      const due = pending.get(key);
      pending.delete(key);
      if (due) emit(due.message, due.handlers.sort(), due.fields);
    }, 200).unref();
  };
}

/** The `duplicate` / `reorder` chaos per stage queue name (the SQS emulator applies them, not the functions). */
function queueChaosByName(spec: string | undefined, resources: LocalResources): Record<string, QueueChaos> {
  const chaos = parseQueueChaos(spec);
  return Object.fromEntries(
    [...resources.stages.values()].flatMap((s) =>
      chaos.has(s.stage.name) ? [[s.queueName, chaos.get(s.stage.name)!]] : [],
    ),
  );
}

/** A fresh build directory for this process; those of processes that are gone are removed. */
function handlerBuildDir(): string {
  mkdirSync(BUILD_ROOT, { recursive: true });
  for (const entry of readdirSync(BUILD_ROOT)) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch {
      rmSync(join(BUILD_ROOT, entry), { recursive: true, force: true });
    }
  }
  return join(BUILD_ROOT, String(process.pid));
}

/**
 * What every local function's environment holds besides its own configuration: the emulator
 * endpoints, dummy credentials, and no path to real AWS (any other service resolves to a closed
 * local port). Nothing of the operator's shell — AWS profiles or keys — leaks in.
 */
function functionBaseEnvironment(
  endpoints: { sqs: string; dynamodb: string },
  region: string,
  logLevel: LogLevel,
): Record<string, string> {
  return {
    ...(process.env.PATH ? { PATH: process.env.PATH } : {}),
    ...(process.env.TZ ? { TZ: process.env.TZ } : {}),
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_EC2_METADATA_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: logLevel.toUpperCase(),
    POWERTOOLS_METRICS_DISABLED: 'false',
  };
}
