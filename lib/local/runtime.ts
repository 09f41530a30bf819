/**
 * The local runtime: the whole pipeline on one machine, faithful to SQS and Lambda. It starts the
 * emulators in their own process, creates every queue, dead-letter queue and the status table
 * from the topology (the same attributes the stack sets), runs each function from the same
 * handler module the stack deploys in Lambda-like execution environments, feeds the stages
 * through local event source mappings, and serves the same HTTP API on 127.0.0.1.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleHandlers } from '../build/handler-bundle.ts';
import { watchHandlers } from '../build/handler-watch.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ORDER_STATUS_LABELS } from '../domain/status.ts';
import { DynamoDbTable } from '../ledger/dynamodb-table.ts';
import { OrderLedger } from '../ledger/ledger.ts';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { parseQueueChaos, type QueueChaos } from '../runtime/chaos.ts';
import { auditorEnvironment, intakeEnvironment, stageEnvironment } from '../runtime/environment.ts';
import { allStages, firstStage, nextStageOf, type Topology } from '../topology/index.ts';
import { adminRoutes, applyStageControls, StageControlStore } from './admin.ts';
import { orderApiRoutes, startApiServer, type ApiServer, type Route } from './api-server.ts';
import { openDataDir, type DataDir } from './data-dir.ts';
import { dashboardRoutes } from './dashboard/index.ts';
import { EmulatorSupervisor } from './emulator-supervisor.ts';
import { QUEUE_AGES_PATH } from './emulator-protocol.ts';
import { LocalEventSourceMapping } from './event-source-mapping.ts';
import { LocalFunction } from './local-function.ts';
import { OrderLog } from './order-log.ts';
import { orderRoutes } from './order-routes.ts';
import type { LogLevel, LogOutput } from './log-output.ts';
import { describeReconcile, provision, type LocalResources, type ReconcileReport } from './provision.ts';
import { RuntimeStats, type OrderBaseline, type QueueDepth, type StatsSnapshot } from './stats.ts';

/**
 * Where the runtime builds its handler bundles: inside the project, so their external `@aws-sdk/*`
 * imports resolve from its node_modules; one directory per process (runtimes may run side by side).
 */
const BUILD_ROOT = fileURLToPath(new URL('../../node_modules/.cache/conveyor/', import.meta.url));
/** The handler module of the dead-letter auditor (handlers/dead-letter-auditor.ts). */
const DEAD_LETTER_AUDITOR = 'dead-letter-auditor';
/**
 * How often the auditor runs locally. In the cloud EventBridge runs it every minute (its finest
 * rate); locally every few seconds, so a dead letter moved by a redrive policy shows at once.
 */
export const LOCAL_AUDIT_INTERVAL_MS = 5_000;
/** API Gateway invokes the intake function with as much concurrency as requests need; locally a few environments do. */
const INTAKE_CONCURRENCY = 2;
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface LocalRuntimeOptions {
  readonly topology: Topology;
  /** Port of the API on 127.0.0.1 (0: any free port). */
  readonly port: number;
  /** Where state lives; undefined keeps everything in memory. */
  readonly dataDir?: string;
  /** Wipe the data dir first. */
  readonly reset?: boolean;
  /** Delete the (empty) queues of stages no longer in the topology. */
  readonly prune?: boolean;
  /** Rebuild a handler when its code (or code it imports) changes, and run the new code from the next invocation on. */
  readonly watch?: boolean;
  /** `CONVEYOR_CHAOS` specification: passed to every stage function; its `duplicate` and `reorder` effects to the SQS emulator. */
  readonly chaos?: string;
  readonly output: LogOutput;
  /** Log level of the functions (Powertools). */
  readonly functionLogLevel: LogLevel;
  /** Called when the runtime cannot go on (its in-memory emulators died): the caller should stop. */
  readonly onFatal?: (message: string) => void;
  readonly region?: string;
}

export class LocalRuntime {
  readonly topology: Topology;
  readonly url: string;
  readonly dataDir: string | undefined;
  readonly endpoints: { readonly sqs: string; readonly dynamodb: string };
  readonly resources: LocalResources;
  /** What this start changed to bring the emulators in line with the topology. */
  readonly reconciled: ReconcileReport;
  readonly functions: ReadonlyMap<string, LocalFunction>;
  /** By stage key, e.g. `wh-1/picking`. */
  readonly mappings: ReadonlyMap<string, LocalEventSourceMapping>;
  readonly #parts: Parts;
  #stopping: Promise<void> | undefined;

  private constructor(parts: Parts, url: string) {
    this.#parts = parts;
    this.topology = parts.topology;
    this.url = url;
    this.dataDir = parts.dataDir?.path;
    this.endpoints = parts.emulators.endpoints;
    this.resources = parts.resources;
    this.reconciled = parts.reconciled;
    this.functions = parts.functions;
    this.mappings = parts.mappings;
  }

  /**
   * Starts everything; on any failure, stops what was started and rethrows.
   * @example
   * const runtime = await LocalRuntime.start({ topology: loadTopology(), port: 3000, dataDir: '.conveyor', output, functionLogLevel: 'info' });
   */
  static async start(options: LocalRuntimeOptions): Promise<LocalRuntime> {
    const region = options.region ?? 'us-east-1';
    const { output } = options;
    const cleanup: Array<() => Promise<void> | void> = [];
    let runtime: LocalRuntime | undefined;
    const routes: Route[] = [];
    try {
      // The port first: a taken port is the most common mistake, so say it before anything else starts.
      const api = await startApiServer(options.port, routes, (error) => output.emit('error', 'API server error', { error: error.message }));
      cleanup.push(() => api.close());

      const dataDir = options.dataDir === undefined ? undefined : openDataDir(options.dataDir, { reset: options.reset ?? false });
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

      const sqs = new SQSClient({ endpoint: emulators.endpoints.sqs, region, credentials, maxAttempts: 3, requestHandler: { requestTimeout: 30_000, connectionTimeout: 2_000 } });
      const dynamodb = new DynamoDBClient({ endpoint: emulators.endpoints.dynamodb, region, credentials, maxAttempts: 3 });
      cleanup.push(() => {
        sqs.destroy();
        dynamodb.destroy();
      });
      // Like a deploy: what exists is brought in line with the topology, the stored orders stay.
      const { report: reconciled, ...resources } = await provision(options.topology, { sqs, dynamodb, sqsEndpoint: emulators.endpoints.sqs }, { prune: options.prune ?? false });
      const { applied, attention } = describeReconcile(reconciled);
      for (const line of applied) output.notice(`topology: ${line}`);
      for (const line of attention) output.emit('warn', `topology: ${line}`);
      await emulators.setQueueChaos(queueChaosByName(options.chaos, resources));
      // The functions run the bundles the stack deploys (same esbuild options), not the sources.
      const buildDir = handlerBuildDir();
      cleanup.push(() => rmSync(buildDir, { recursive: true, force: true }));
      const functions = new Map<string, LocalFunction>();
      const bundles = await buildHandlers(options, buildDir, functions, cleanup);
      const stats = new RuntimeStats(options.topology, await countOrders(dynamodb, resources.tableName));

      const base = functionBaseEnvironment(emulators.endpoints, region, options.functionLogLevel);
      const orderLog = OrderLog.open(dataDir?.path);
      cleanup.push(() => orderLog.close());
      const sink = (line: string, source: { functionName: string }) => {
        if (stats.observeLine(line)) return;
        orderLog.observe(line, source.functionName);
        output.functionLine(line, source.functionName);
      };
      const intake = new LocalFunction(
        {
          name: 'conveyor-intake',
          handlerModule: bundles.get('intake')!,
          environment: {
            ...base,
            ...intakeEnvironment(options.topology, {
              tableName: resources.tableName,
              entryQueueUrls: Object.fromEntries(options.topology.pipelines.map((p) => [p.id, resources.stages.get(firstStage(p).key)!.queueUrl])),
            }),
          },
          timeoutSeconds: options.topology.intake.timeoutSeconds,
          memoryMb: options.topology.intake.memoryMb,
          maxConcurrency: INTAKE_CONCURRENCY,
          region,
        },
        sink,
      );
      functions.set('intake', intake);
      cleanup.push(() => intake.close());

      const mappings = new Map<string, LocalEventSourceMapping>();
      for (const stage of allStages(options.topology)) {
        const local = resources.stages.get(stage.key)!;
        const next = nextStageOf(options.topology, stage);
        const fn = new LocalFunction(
          {
            name: `conveyor-${stage.pipelineId}-${stage.name}`,
            handlerModule: bundles.get(stage.handler)!,
            environment: {
              ...base,
              ...stageEnvironment(options.topology, stage, {
                queueUrl: local.queueUrl,
                deadLetterQueueUrl: local.deadLetterQueueUrl,
                ...(next ? { nextQueueUrl: resources.stages.get(next.key)!.queueUrl } : {}),
                tableName: resources.tableName,
              }),
              ...(options.chaos ? { CONVEYOR_CHAOS: options.chaos } : {}),
            },
            timeoutSeconds: stage.timeoutSeconds,
            memoryMb: stage.memoryMb,
            maxConcurrency: stage.maxConcurrency,
            region,
          },
          sink,
        );
        functions.set(stage.key, fn);
        const mapping = new LocalEventSourceMapping({
          stage,
          sqs,
          queue: { url: local.queueUrl, arn: local.queueArn },
          region,
          function: fn,
          onBatch: (report) => {
            stats.observeBatch(report);
            if (report.batchFailure) output.emit('warn', 'batch failed; its messages return after the visibility timeout', { stage: report.stageKey, records: report.records, kind: report.batchFailure.kind, reason: report.batchFailure.message });
          },
          onError: (error, stageKey) => output.emit('warn', 'receive failed; retrying', { stage: stageKey, error: error.message }),
        });
        mappings.set(stage.key, mapping);
      }
      const auditor = new LocalFunction(
        {
          name: 'conveyor-dead-letter-auditor',
          handlerModule: bundles.get(DEAD_LETTER_AUDITOR)!,
          environment: {
            ...base,
            ...auditorEnvironment(options.topology, {
              tableName: resources.tableName,
              deadLetterQueueUrls: Object.fromEntries([...resources.stages].map(([key, r]) => [key, r.deadLetterQueueUrl])),
            }),
          },
          timeoutSeconds: 60,
          memoryMb: 256,
          maxConcurrency: 1,
          region,
        },
        sink,
      );
      functions.set('dead-letter-auditor', auditor);
      // Stop polling before the functions go away.
      cleanup.push(async () => {
        await Promise.all([...mappings.values()].map((m) => m.stop()));
        await Promise.all([...functions.values()].map((f) => f.close()));
      });
      // Runs first on stop (cleanup runs in reverse): no audit starts while the functions go away.
      const schedule = scheduleAudits(auditor, (message) => output.emit('warn', message, {}));
      cleanup.push(() => schedule.stop());

      const parts: Parts = { topology: options.topology, api, dataDir, emulators, sqs, dynamodb, resources, reconciled, stats, functions, mappings, cleanup };
      runtime = new LocalRuntime(parts, api.url);
      const controls = new StageControlStore(dataDir?.path);
      applyStageControls(controls, mappings);
      routes.push(
        ...orderApiRoutes((event) => intake.invoke(event)),
        ...runtime.#ownRoutes(),
        ...adminRoutes({
          topology: options.topology,
          mappings,
          resources,
          sqs,
          controls,
          ledger: orderLedgerOn(dynamodb, resources.tableName),
          settled: async () => stats.rebase(await countOrders(dynamodb, resources.tableName)),
          audit: (message, fields) => output.notice(message, fields),
        }),
        ...orderRoutes({ topology: options.topology, dynamodb, tableName: resources.tableName, log: orderLog, durable: dataDir !== undefined }),
      );
      for (const mapping of mappings.values()) mapping.start();
      return runtime;
    } catch (error) {
      for (const step of cleanup.reverse()) await Promise.resolve(step()).catch(() => undefined);
      throw error;
    }
  }

  /** The current statistics (queue depths are read now); latency percentiles over deliveries since `latencySince` (epoch ms). */
  async stats(latencySince = 0): Promise<StatsSnapshot> {
    const { sqs, resources, stats, mappings, functions } = this.#parts;
    const depths = new Map<string, QueueDepth>();
    const oldest = (await (await fetch(`${this.endpoints.sqs}${QUEUE_AGES_PATH}`)).json()) as Record<string, number | null>;
    await Promise.all(
      [...resources.stages.values()].map(async (s) => {
        const [queue, dlq] = await Promise.all([queueAttributes(sqs, s.queueUrl), queueAttributes(sqs, s.deadLetterQueueUrl)]);
        depths.set(s.stage.key, {
          visible: queue.visible,
          notVisible: queue.notVisible,
          delayed: queue.delayed,
          deadLetters: dlq.visible + dlq.notVisible + dlq.delayed,
          oldestSentAt: oldest[s.queueName] ?? null,
          oldestDeadLetterSentAt: oldest[queueNameOf(s.deadLetterQueueUrl)] ?? null,
        });
      }),
    );
    const views = new Map(
      [...mappings].map(([key, m]) => [key, { held: m.held, paused: m.paused, inUse: functions.get(key)?.inUse ?? 0, maxConcurrency: m.maxConcurrency }]),
    );
    // Metrics die with an invocation that times out or crashes after writing status (in the cloud
    // too). When nothing is queued or running, in flight must be 0; if the counters disagree, the
    // status table — the truth — is counted again.
    const idle =
      [...depths.values()].every((d) => d.visible + d.notVisible + d.delayed === 0) &&
      [...mappings.values()].every((m) => m.held === 0) &&
      [...functions.values()].every((f) => f.inUse === 0);
    if (idle && stats.unsettled !== 0) stats.rebase(await countOrders(this.#parts.dynamodb, resources.tableName));
    return stats.snapshot(depths, views, latencySince);
  }

  /** CPU time used so far by every process of the runtime (this one with its threads, and the emulators'). */
  async cpuUsage(): Promise<{ readonly userMs: number; readonly systemMs: number; readonly emulatorRssBytes: number }> {
    const own = process.cpuUsage();
    const emulators = await this.#parts.emulators.cpuUsage();
    return { userMs: (own.user + emulators.user) / 1000, systemMs: (own.system + emulators.system) / 1000, emulatorRssBytes: emulators.rssBytes };
  }

  /** True once `stop()` was called. */
  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /**
   * Graceful stop, in the order that loses nothing and keeps no order waiting: the API stops
   * accepting (requests in flight are answered); then the event source mappings stop polling and
   * hand back what they gathered and did not invoke (visible again at once, as a disabled event
   * source keeps nothing); running invocations finish within their timeout; then the functions,
   * the emulators and the stores close.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#parts.api.close().catch(() => undefined);
      for (const step of [...this.#parts.cleanup].reverse()) await Promise.resolve(step()).catch(() => undefined);
    })();
    return this.#stopping;
  }

  #ownRoutes(): Route[] {
    const { topology } = this;
    return [
      {
        method: 'GET',
        path: '/healthz',
        handle: () => ({ status: 200, body: { status: 'ok', dataDir: this.dataDir ?? 'in-memory', tracking: topology.tracking } }),
      },
      {
        method: 'GET',
        path: '/api/stats',
        handle: async (request) => {
          const since = request.query.get('latencySince') ?? '0';
          if (!/^\d+$/.test(since)) return { status: 400, body: { error: 'invalid query', details: [{ field: 'latencySince', message: 'must be a time in epoch milliseconds' }] } };
          return { status: 200, body: await this.stats(Number(since)) };
        },
      },
      {
        method: 'GET',
        path: '/api/deployment',
        handle: () => ({ status: 200, body: this.reconciled }),
      },
      {
        method: 'GET',
        path: '/api/functions',
        handle: async () => ({
          status: 200,
          body: Object.fromEntries(await Promise.all([...this.functions].map(async ([key, f]) => [key, { name: f.spec.name, ...f.stats, heapUsedMb: await f.heapUsedMb() }] as const))),
        }),
      },
      {
        method: 'GET',
        path: '/api/topology',
        handle: () => ({
          status: 200,
          body: {
            tracking: topology.tracking,
            endpoints: this.endpoints,
            tableName: this.resources.tableName,
            pipelines: topology.pipelines.map((p) => ({
              id: p.id,
              stages: p.stages.map((s) => {
                const local = this.resources.stages.get(s.key)!;
                return {
                  name: s.name,
                  key: s.key,
                  queueUrl: local.queueUrl,
                  queueArn: local.queueArn,
                  deadLetterQueueUrl: local.deadLetterQueueUrl,
                  deadLetterQueueArn: local.deadLetterQueueArn,
                  batchSize: s.batchSize,
                  maxBatchingWindowSeconds: s.maxBatchingWindowSeconds,
                  maxConcurrency: this.mappings.get(s.key)?.maxConcurrency ?? s.maxConcurrency,
                  timeoutSeconds: s.timeoutSeconds,
                  maxReceiveCount: s.maxReceiveCount,
                };
              }),
            })),
          },
        }),
      },
      ...dashboardRoutes(this),
    ];
  }
}

interface Parts {
  readonly topology: Topology;
  readonly api: ApiServer;
  readonly dataDir: DataDir | undefined;
  readonly emulators: EmulatorSupervisor;
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  readonly resources: LocalResources;
  readonly reconciled: ReconcileReport;
  readonly stats: RuntimeStats;
  readonly functions: Map<string, LocalFunction>;
  readonly mappings: Map<string, LocalEventSourceMapping>;
  readonly cleanup: Array<() => Promise<void> | void>;
}

/** The queue name at the end of a queue URL. */
function queueNameOf(queueUrl: string): string {
  return new URL(queueUrl).pathname.split('/').at(-1) as string;
}

/** Invokes the auditor on a schedule, as EventBridge would: never two runs at once. */
function scheduleAudits(auditor: LocalFunction, warn: (message: string) => void): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const timer = setInterval(() => {
    if (auditor.inUse > 0) return;
    running = auditor.invoke({ source: 'aws.scheduler', 'detail-type': 'Scheduled Event', detail: {} }).then((result) => {
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
  const handlerOf = new Map<string, string>([['intake', 'intake'], [DEAD_LETTER_AUDITOR, DEAD_LETTER_AUDITOR], ...stages.map((s) => [s.key, s.handler] as const)]);
  // One edit often breaks (or mends) every bundle that imports the file: one line for all of them.
  const say = coalesce((message: string, handlers: string[], fields: Record<string, unknown>) => options.output.emit(fields.error ? 'error' : 'info', `${handlers.join(', ')}: ${message}`, fields));
  const watcher = await watchHandlers(names, buildDir, {
    rebuilt(build, durationMs) {
      const affected = [...functions].filter(([key]) => handlerOf.get(key) === build.name).map(([, fn]) => fn);
      for (const fn of affected) fn.updateCode(build.module, build.codeSha256);
      options.output.notice(`${build.name} rebuilt: the next invocations run the new code`, { functions: affected.map((f) => f.spec.name), buildMs: Math.round(durationMs) });
    },
    failed: (name, message) => say('build failed; the previous code keeps running until a fix is saved', name, { error: message }),
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
  return Object.fromEntries([...resources.stages.values()].flatMap((s) => (chaos.has(s.stage.name) ? [[s.queueName, chaos.get(s.stage.name)!]] : [])));
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
function functionBaseEnvironment(endpoints: { sqs: string; dynamodb: string }, region: string, logLevel: LogLevel): Record<string, string> {
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

async function queueAttributes(sqs: SQSClient, queueUrl: string): Promise<{ visible: number; notVisible: number; delayed: number }> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  return {
    visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
    notVisible: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}

/** Orders already in the ledger (after a restart): the starting point of the totals. */
async function countOrders(dynamodb: DynamoDBClient, tableName: string): Promise<OrderBaseline> {
  const { inFlight: _inFlight, ...totals } = await orderLedgerOn(dynamodb, tableName).totals();
  return totals;
}

/** The order ledger, read and written by the runtime itself (operator actions, totals). */
function orderLedgerOn(dynamodb: DynamoDBClient, tableName: string): OrderLedger {
  return new OrderLedger(new DynamoDbTable(DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } }), tableName), ORDER_STATUS_LABELS);
}
