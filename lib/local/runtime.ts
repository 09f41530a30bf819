/**
 * The local runtime: the whole pipeline on one machine, faithful to SQS and Lambda. It starts the
 * emulators in their own process, creates every queue, dead-letter queue and the status table
 * from the topology (the same attributes the stack sets), runs each function from the same
 * handler module the stack deploys in Lambda-like execution environments, feeds the stages
 * through local event source mappings, and serves the same HTTP API on 127.0.0.1.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ORDER_STATUS_LABELS } from '../domain/status.ts';
import { DynamoDbTable } from '../ledger/dynamodb-table.ts';
import { OrderLedger } from '../ledger/ledger.ts';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Topology } from '../topology/index.ts';
import { adminRoutes, applyStageControls, StageControlStore } from './admin.ts';
import { guardBrowserWrites } from './admin-guard.ts';
import { orderApiRoutes, type Route } from './api-server.ts';
import type { LocalBreaker } from './breaker.ts';
import { dashboardRoutes } from './dashboard/index.ts';
import { QUEUE_AGES_PATH } from './emulator-protocol.ts';
import type { LocalEventSourceMapping } from './event-source-mapping.ts';
import type { LocalFunction } from './local-function.ts';
import { OrderLog } from './order-log.ts';
import { orderRoutes } from './order-routes.ts';
import type { LogLevel, LogOutput } from './log-output.ts';
import type { LocalResources, ReconcileReport } from './provision.ts';
import { RuntimeStats, type OrderBaseline, type QueueDepth, type StatsSnapshot } from './stats.ts';
import { startBackbone, startBreakers, startFunctions, type Backbone, type Cleanup } from './startup.ts';

export { LOCAL_AUDIT_INTERVAL_MS } from './startup.ts';

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
    const { output, topology } = options;
    const cleanup: Cleanup = [];
    const routes: Route[] = [];
    try {
      const backbone = await startBackbone(options, routes, cleanup);
      const controls = new StageControlStore(backbone.dataDir?.path);
      const breakers = new Map<string, LocalBreaker>();
      const stats = new RuntimeStats(
        topology,
        await countOrders(backbone.dynamodb, backbone.resources.tableName),
        (key, records, failed) => breakers.get(key)?.observe(records, failed),
      );
      const orderLog = OrderLog.open(backbone.dataDir?.path);
      cleanup.push(() => orderLog.close());
      const { functions, mappings, intake } = await startFunctions(options, backbone, stats, orderLog, cleanup);
      applyStageControls(controls, mappings);
      for (const [key, breaker] of startBreakers(topology, mappings, controls, output, cleanup))
        breakers.set(key, breaker);
      const runtime = new LocalRuntime(
        { ...backbone, topology, stats, functions, mappings, breakers, cleanup },
        backbone.api.url,
      );
      const audit = (message: string, fields: Record<string, unknown>) => output.notice(message, fields);
      routes.push(
        // A browser's order writes (the dashboard's cancel) pass the admin guard and are logged.
        ...guardBrowserWrites(
          orderApiRoutes((event) => intake.invoke(event)),
          audit,
        ),
        ...runtime.#ownRoutes(),
        ...adminRoutes({
          topology,
          mappings,
          breakers,
          resources: backbone.resources,
          sqs: backbone.sqs,
          controls,
          ledger: orderLedgerOn(backbone.dynamodb, backbone.resources.tableName),
          settled: async () => stats.rebase(await countOrders(backbone.dynamodb, backbone.resources.tableName)),
          audit,
        }),
        ...orderRoutes({
          topology,
          dynamodb: backbone.dynamodb,
          tableName: backbone.resources.tableName,
          log: orderLog,
          durable: backbone.dataDir !== undefined,
        }),
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
    const oldest = (await (await fetch(`${this.endpoints.sqs}${QUEUE_AGES_PATH}`)).json()) as Record<
      string,
      number | null
    >;
    await Promise.all(
      [...resources.stages.values()].map(async (s) => {
        const [queue, dlq] = await Promise.all([
          queueAttributes(sqs, s.queueUrl),
          queueAttributes(sqs, s.deadLetterQueueUrl),
        ]);
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
      [...mappings].map(([key, m]) => {
        const breaker = this.#parts.breakers.get(key)?.status;
        return [
          key,
          {
            held: m.held,
            paused: m.pausedByOperator,
            inUse: functions.get(key)?.inUse ?? 0,
            maxConcurrency: m.maxConcurrency,
            ...(breaker ? { breaker } : {}),
          },
        ];
      }),
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
    return {
      userMs: (own.user + emulators.user) / 1000,
      systemMs: (own.system + emulators.system) / 1000,
      emulatorRssBytes: emulators.rssBytes,
    };
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
        handle: () => ({
          status: 200,
          body: { status: 'ok', dataDir: this.dataDir ?? 'in-memory', tracking: topology.tracking },
        }),
      },
      {
        method: 'GET',
        path: '/api/stats',
        handle: async (request) => {
          const since = request.query.get('latencySince') ?? '0';
          if (!/^\d+$/.test(since))
            return {
              status: 400,
              body: {
                error: 'invalid query',
                details: [{ field: 'latencySince', message: 'must be a time in epoch milliseconds' }],
              },
            };
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
          body: Object.fromEntries(
            await Promise.all(
              [...this.functions].map(
                async ([key, f]) => [key, { name: f.spec.name, ...f.stats, heapUsedMb: await f.heapUsedMb() }] as const,
              ),
            ),
          ),
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

interface Parts extends Backbone {
  readonly topology: Topology;
  readonly stats: RuntimeStats;
  readonly functions: Map<string, LocalFunction>;
  readonly mappings: Map<string, LocalEventSourceMapping>;
  readonly breakers: ReadonlyMap<string, LocalBreaker>;
  readonly cleanup: Cleanup;
}

/** The queue name at the end of a queue URL. */
function queueNameOf(queueUrl: string): string {
  return new URL(queueUrl).pathname.split('/').at(-1) as string;
}

async function queueAttributes(
  sqs: SQSClient,
  queueUrl: string,
): Promise<{ visible: number; notVisible: number; delayed: number }> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
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
  return new OrderLedger(
    new DynamoDbTable(
      DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
      tableName,
    ),
    ORDER_STATUS_LABELS,
  );
}
