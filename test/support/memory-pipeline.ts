/**
 * The whole order pipeline in memory — the real intake, stage runtime, ledger, auditor and redrive
 * code, on an in-memory SQS (duplicates, reordering, redrive policies) and an in-memory table whose
 * eventually consistent reads can be stale — on a clock the test moves. Every invocation can be made
 * to crash between any two of its effects: the effects before the crash happened, none after, and
 * the invocation's answer is lost (its messages come back after their visibility timeout), as when
 * Lambda's environment dies. For model-based tests and fast unit tests of the runtime.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { createOrderApi } from '../../lib/api/order-api.ts';
import { ORDER_STATUS_LABELS } from '../../lib/domain/status.ts';
import { OrderLedger } from '../../lib/ledger/ledger.ts';
import type { Table } from '../../lib/ledger/table.ts';
import { createLambdaContext, toApiGatewayEvent, toSqsRecord } from '../../lib/local/lambda-events.ts';
import { settleBatch } from '../../lib/local/event-source.ts';
import { auditDeadLetters } from '../../lib/operations/dead-letter-audit.ts';
import { redriveDeadLetters } from '../../lib/operations/dead-letters.ts';
import { deliveryStage, packingStage, pickingStage } from '../../lib/orders/stages.ts';
import {
  intakeEnvironment,
  readIntakeConfig,
  readStageConfig,
  stageEnvironment,
} from '../../lib/runtime/environment.ts';
import { retry, type Outcome } from '../../lib/runtime/outcome.ts';
import { SqsQueues } from '../../lib/runtime/ports.ts';
import { createStageHandler, type StageDefinition } from '../../lib/runtime/stage-handler.ts';
import { createMetrics, type Metrics } from '../../lib/runtime/telemetry.ts';
import {
  allStages,
  firstStage,
  loadTopology,
  nextStageOf,
  type Stage,
  type Topology,
} from '../../lib/topology/index.ts';
import { MemorySqs } from './memory-sqs.ts';
import { MemoryTable } from './memory-table.ts';

/** What a crashed invocation throws at its next effect (and every one after). */
export class Crash extends Error {
  constructor() {
    super('the execution environment died');
    this.name = 'Crash';
  }
}

/** Counts an invocation's effects and crashes it before the effect numbered `after` (0: before the first). */
class CrashSwitch {
  #left: number;
  crashed = false;
  constructor(after: number | undefined) {
    this.#left = after ?? Number.POSITIVE_INFINITY;
  }
  effect(): void {
    if (this.crashed || this.#left-- <= 0) {
      this.crashed = true;
      throw new Crash();
    }
  }
}

function crashingTable(table: Table, crash: CrashSwitch): Table {
  const guard =
    <A extends unknown[], R>(f: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      crash.effect();
      return f(...args);
    };
  return {
    put: guard(table.put.bind(table)),
    update: guard(table.update.bind(table)),
    delete: guard(table.delete.bind(table)),
    putAll: guard(table.putAll.bind(table)),
    getAll: async (keys, options) => (crash.crashed ? Promise.reject(new Crash()) : table.getAll(keys, options)),
    collection: async (id, options) => (crash.crashed ? Promise.reject(new Crash()) : table.collection(id, options)),
    scan: () => table.scan(),
    queryIndex: (index, query) => table.queryIndex(index, query),
  };
}

function crashingClient(client: SQSClient, crash: CrashSwitch): SQSClient {
  const effects = [SendMessageBatchCommand, ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand];
  return {
    send: async (command: unknown) => {
      if (crash.crashed || effects.some((c) => command instanceof c)) crash.effect();
      return client.send(command as never);
    },
  } as unknown as SQSClient;
}

const silent = { addContext() {}, info() {}, warn() {}, error() {}, debug() {} } as never;
const noMetrics = { addMetric() {}, publishStoredMetrics() {} } as never;
const REGION = 'us-east-1';
const STAGES = { picking: pickingStage, packing: packingStage, delivery: deliveryStage } as unknown as Record<
  string,
  StageDefinition<{ order: { orderId: string } }, unknown>
>;

export interface MemoryPipelineOptions {
  readonly random: () => number;
  readonly topology?: unknown;
  /** Eventually consistent reads: probability of a stale answer, and how many writes back it may be. */
  readonly stale?: { readonly probability: number; readonly maxLag: number };
  /** SQS's liberties: duplicate deliveries and out-of-order receives. */
  readonly sqs?: { readonly duplicate: number; readonly reorder: number };
  /** Probability that the business function fails a record transiently. */
  readonly failProbability?: number;
  /** Orders whose id ends so are refused for good by packing. */
  readonly rejectSuffix?: string;
  /** Receives every EMF document the intake and the stages publish (Powertools Metrics' own serialization). */
  readonly onMetrics?: (document: Record<string, unknown>) => void;
}

export type Invocation<T> = { readonly crashed: true } | { readonly crashed: false; readonly value: T };

export class MemoryPipeline {
  readonly topology: Topology;
  readonly sqs: MemorySqs;
  readonly table: MemoryTable;
  readonly ledger: OrderLedger;
  readonly urls = new Map<string, { queueUrl: string; deadLetterQueueUrl: string; stage: Stage }>();
  /** Applied completions (deliveries) per order: must never exceed one. */
  readonly completions = new Map<string, number>();
  #time = Date.parse('2026-12-01T12:00:00.000Z');
  #requests = 0;
  readonly #options: MemoryPipelineOptions;

  constructor(options: MemoryPipelineOptions) {
    this.#options = options;
    this.topology = loadTopology(options.topology ?? {}, 'test');
    const now = () => this.#time;
    this.sqs = new MemorySqs(now, options.sqs ? { ...options.sqs, random: options.random } : undefined);
    this.table = new MemoryTable(options.stale ? { ...options.stale, random: options.random } : undefined);
    this.ledger = new OrderLedger(this.table, ORDER_STATUS_LABELS);
    for (const stage of allStages(this.topology)) {
      const base = `http://sqs.memory/${stage.pipelineId}-${stage.name}`;
      this.urls.set(stage.key, { queueUrl: base, deadLetterQueueUrl: `${base}-dlq`, stage });
      this.sqs.createQueue(`${base}-dlq`, { visibilityTimeoutSeconds: 30 });
      this.sqs.createQueue(base, {
        visibilityTimeoutSeconds: stage.visibilityTimeoutSeconds,
        redrive: { deadLetterQueueUrl: `${base}-dlq`, maxReceiveCount: stage.maxReceiveCount },
      });
    }
  }

  get now(): number {
    return this.#time;
  }

  advance(ms: number): void {
    this.#time += ms;
  }

  /** POST /orders, crashing the intake before its `crashAfter`-th effect if given. */
  async post(body: unknown, crashAfter?: number): Promise<Invocation<APIGatewayProxyResult>> {
    const event = toApiGatewayEvent({
      method: 'POST',
      path: '/orders',
      resource: '/orders',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return this.#call(event, crashAfter);
  }

  /** DELETE /orders/{orderId}: cancel. */
  async cancel(orderId: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const event = toApiGatewayEvent({
      method: 'DELETE',
      path: `/orders/${orderId}`,
      resource: '/orders/{orderId}',
      pathParameters: { orderId },
    });
    const result = await this.#call(event);
    if (result.crashed) throw new Error('cannot crash');
    return { status: result.value.statusCode, body: JSON.parse(result.value.body) };
  }

  /** Any request to the order API (the intake handler, as API Gateway or the local API server invokes it). */
  async request(event: ReturnType<typeof toApiGatewayEvent>): Promise<APIGatewayProxyResult> {
    const result = await this.#call(event);
    if (result.crashed) throw new Error('cannot crash');
    return result.value;
  }

  async #call(
    event: ReturnType<typeof toApiGatewayEvent>,
    crashAfter?: number,
  ): Promise<Invocation<APIGatewayProxyResult>> {
    const crash = new CrashSwitch(crashAfter);
    const config = readIntakeConfig(
      intakeEnvironment(this.topology, {
        tableName: 'memory',
        entryQueueUrls: Object.fromEntries(
          this.topology.pipelines.map((p) => [p.id, this.urls.get(firstStage(p).key)!.queueUrl]),
        ),
      }),
    );
    const api = createOrderApi({
      config,
      ledger: new OrderLedger(crashingTable(this.table, crash), ORDER_STATUS_LABELS),
      queues: new SqsQueues(crashingClient(this.sqs.client, crash)),
      logger: silent,
      metrics: this.#metrics({}),
      now: () => this.#time,
      sleep: async (ms) => {
        this.#time += ms;
        await new Promise((resolve) => setImmediate(resolve));
      },
      defaultTimeoutMs: 10_000,
    });
    const response = await api({
      ...event,
      requestContext: { ...event.requestContext, requestId: `request-${++this.#requests}` },
    });
    return crash.crashed ? { crashed: true } : { crashed: false, value: response };
  }

  /**
   * One invocation of a stage, as its event source makes it: receive up to `max` records, invoke,
   * delete what succeeded. A crash loses the answer: every record returns after its visibility.
   */
  async poll(stageKey: string, max = 10, crashAfter?: number): Promise<Invocation<number> | 'empty'> {
    const { queueUrl, stage } = this.urls.get(stageKey)!;
    const { Messages = [] } = (await this.sqs.client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: max }),
    )) as { Messages?: Message[] };
    if (Messages.length === 0) return 'empty';
    const records = Messages.map((m) =>
      toSqsRecord(m, `arn:aws:sqs:${REGION}:0:${stage.pipelineId}-${stage.name}`, REGION),
    );
    const crash = new CrashSwitch(crashAfter);
    const handler = this.#stageHandler(stage, crash);
    let response: unknown;
    try {
      response = await handler(
        { Records: records },
        createLambdaContext({
          functionName: stage.key,
          timeoutSeconds: stage.timeoutSeconds,
          memoryMb: 256,
          region: REGION,
        }),
      );
    } catch (error) {
      if (!(error instanceof Crash)) throw error;
    }
    if (crash.crashed) return { crashed: true };
    const settlement = settleBatch(records, response);
    if (settlement.kind === 'partial' && settlement.succeeded.length > 0) {
      await this.sqs.client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: settlement.succeeded.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
        }),
      );
    }
    return { crashed: false, value: records.length };
  }

  /** The auditor over every DLQ (as the scheduled function runs it). */
  async audit(): Promise<number> {
    let recorded = 0;
    for (const { deadLetterQueueUrl, stage } of this.urls.values()) {
      const report = await auditDeadLetters(
        this.sqs.client,
        this.ledger,
        {
          pipelineId: stage.pipelineId,
          stage: stage.name,
          position: stage.index + 1,
          deadLetterQueueUrl,
          maxReceiveCount: stage.maxReceiveCount,
        },
        new Date(this.#time).toISOString(),
      );
      recorded += report.recorded;
    }
    return recorded;
  }

  /** An operator's redrive of one stage's DLQ. */
  redrive(stageKey: string): Promise<number> {
    const { queueUrl, deadLetterQueueUrl } = this.urls.get(stageKey)!;
    return redriveDeadLetters(this.sqs.client, deadLetterQueueUrl, queueUrl);
  }

  /** Messages waiting or in flight in the work queues (not the DLQs). */
  pending(): number {
    return [...this.urls.values()].reduce((n, { queueUrl }) => {
      const depth = this.sqs.depth(queueUrl);
      return n + depth.visible + depth.invisible;
    }, 0);
  }

  /** Runs every stage, moving time on, until no work queue holds a message; then audits. */
  async drain(maxRounds = 500): Promise<void> {
    for (let round = 0; round < maxRounds && this.pending() > 0; round++) {
      for (const key of this.urls.keys()) while ((await this.poll(key, 10)) !== 'empty');
      this.advance(60_000);
    }
    if (this.pending() > 0) throw new Error(`the pipeline did not drain: ${this.pending()} messages left`);
    await this.audit();
  }

  /** Metrics that hand what a function publishes to `onMetrics`, as the EMF document it would print. */
  #metrics(dimensions: Record<string, string>): Metrics {
    const sink = this.#options.onMetrics;
    if (!sink) return noMetrics;
    const metrics = createMetrics(dimensions);
    return {
      addMetric: metrics.addMetric.bind(metrics),
      publishStoredMetrics: () => {
        if (metrics.hasStoredMetrics()) sink(metrics.serializeMetrics() as unknown as Record<string, unknown>);
        metrics.clearMetrics();
      },
    } as unknown as Metrics;
  }

  #stageHandler(stage: Stage, crash: CrashSwitch) {
    const next = nextStageOf(this.topology, stage);
    const urls = this.urls.get(stage.key)!;
    const config = readStageConfig(
      stage.name,
      stageEnvironment(this.topology, stage, {
        queueUrl: urls.queueUrl,
        deadLetterQueueUrl: urls.deadLetterQueueUrl,
        ...(next ? { nextQueueUrl: this.urls.get(next.key)!.queueUrl } : {}),
        tableName: 'memory',
      }),
    );
    const definition = STAGES[stage.name] as StageDefinition<{ order: { orderId: string } }, unknown>;
    const { failProbability = 0, rejectSuffix, random } = this.#options;
    const ledger = new OrderLedger(crashingTable(this.table, crash), ORDER_STATUS_LABELS);
    const counted = {
      lookup: ledger.lookup.bind(ledger),
      recordSteps: ledger.recordSteps.bind(ledger),
      deadLetter: ledger.deadLetter.bind(ledger),
      revive: ledger.revive.bind(ledger),
      complete: async (entries: Parameters<OrderLedger['complete']>[0]) => {
        const results = await ledger.complete(entries);
        results.forEach((r, i) => {
          if (r.kind === 'applied')
            this.completions.set(entries[i]!.id, (this.completions.get(entries[i]!.id) ?? 0) + 1);
        });
        return results;
      },
    };
    return createStageHandler(
      {
        ...definition,
        process: async (batch) => {
          const outcomes = await definition.process(batch);
          return outcomes.map((outcome, i): Outcome<unknown> => {
            const id = (batch[i] as { order: { orderId: string } }).order.orderId;
            if (rejectSuffix && stage.name === 'packing' && id.endsWith(rejectSuffix))
              return { ok: false, permanent: true, reason: 'no box fits' };
            return random() < failProbability ? retry('flaky dependency') : outcome;
          });
        },
      },
      {
        config,
        ledger: counted,
        queues: new SqsQueues(crashingClient(this.sqs.client, crash)),
        logger: silent,
        metrics: this.#metrics({ pipeline: stage.pipelineId, stage: stage.name }),
        random,
        now: () => this.#time,
      },
    );
  }
}
