/**
 * End to end on the local runtime (in memory): orders through intake, picking, packing and
 * delivery, for one topology. Reports orders/s and CPU ms per order of the runtime's whole process
 * tree (the load generator excluded), latency of the measured orders, and per-order counts taken
 * where they happen: SQS and DynamoDB calls at the emulators, invocations and billed time at the
 * local Lambda. A warm-up run first creates every execution environment, so cold starts (Lambda's
 * and V8's) stay out of the steady-state figures; it can be skipped to see them.
 *
 *   node bench/e2e.ts [orders=2000]        the default topology, after a warm-up
 */
import { REQUEST_COUNTS_PATH, type RequestCounts } from '../lib/local/emulator-protocol.ts';
import { costPerMillionOrders, type PerOrderCounts } from './cost.ts';
import { orders as makeOrders, startBenchRuntime, stats, submit, waitDelivered, type CpuSplit } from './support.ts';

export interface PipelineRun {
  /** Topology overrides (CONVEYOR_TOPOLOGY); the default topology when absent. */
  readonly topology?: Record<string, unknown>;
  readonly orders: number;
  /** Orders sent first and not measured (0: measure from cold). */
  readonly warmup: number;
  /** `bulk`: requests of 100 orders; `single`: one order per request. */
  readonly intake: 'bulk' | 'single';
  /** Paced load: orders per second (as fast as possible when absent). */
  readonly ratePerSecond?: number;
  readonly label?: string;
}

export interface PipelineResult {
  readonly orders: number;
  readonly seconds: number;
  readonly ordersPerSecond: number;
  readonly cpuMsPerOrder: number;
  /** CPU ms per order by where it is spent (functions, runtime main thread, runtime helper threads, emulators). */
  readonly cpuMsPerOrderBy: CpuSplit;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly perOrder: PerOrderCounts & {
    readonly emptyReceives: number;
    readonly sqsByAction: Record<string, number>;
    readonly dynamodbByAction: Record<string, number>;
  };
  readonly averageBatchSize: number;
  readonly runtimeRssMb: number;
}

/** SQS actions the pipeline itself makes (GetQueueAttributes is monitoring, not pipeline work). */
const PIPELINE_SQS_ACTIONS = [
  'SendMessage',
  'SendMessageBatch',
  'ReceiveMessage',
  'DeleteMessage',
  'DeleteMessageBatch',
  'ChangeMessageVisibility',
  'ChangeMessageVisibilityBatch',
];
/** DynamoDB requests the pipeline makes per order (not the runtime's start-up scan or table set-up). */
const DATA_PLANE_DYNAMODB_ACTIONS = [
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchGetItem',
  'BatchWriteItem',
  'Query',
];

export async function measurePipeline(run: PipelineRun): Promise<PipelineResult> {
  const runtime = await startBenchRuntime(run.topology ? { CONVEYOR_TOPOLOGY: JSON.stringify(run.topology) } : {});
  try {
    const { endpoints } = (await (await fetch(`${runtime.url}/api/topology`)).json()) as { endpoints: { sqs: string } };
    const counts = async () => (await (await fetch(`${endpoints.sqs}${REQUEST_COUNTS_PATH}`)).json()) as RequestCounts;
    const functions = async () =>
      (await (await fetch(`${runtime.url}/api/functions`)).json()) as Record<
        string,
        { invocations: number; billedMs: number; memoryMb: number }
      >;
    if (run.warmup > 0) {
      await send(runtime.url, makeOrders('warm', run.warmup), run);
      await waitDelivered(runtime.url, run.warmup);
    }
    const [counts0, functions0] = await Promise.all([counts(), functions()]);
    const cpu0 = runtime.cpuMs();
    const split0 = runtime.cpuSplitMs();
    const startedAt = Date.now();
    const started = performance.now();
    await send(runtime.url, makeOrders('run', run.orders), run);
    await waitDelivered(runtime.url, run.warmup + run.orders);
    const seconds = (performance.now() - started) / 1000;
    const cpuMs = runtime.cpuMs() - cpu0;
    const split1 = runtime.cpuSplitMs();
    const [counts1, functions1, final] = await Promise.all([
      counts(),
      functions(),
      (await fetch(`${runtime.url}/api/stats?latencySince=${startedAt}`)).json() as Promise<any>,
    ]);

    const perOrder = (n: number) => Number((n / run.orders).toFixed(4));
    const sqsByAction = Object.fromEntries(
      Object.keys(counts1.sqs)
        .map((action) => [action, perOrder((counts1.sqs[action] ?? 0) - (counts0.sqs[action] ?? 0))] as const)
        .filter(([, v]) => v > 0),
    );
    let invocations = 0;
    let gbSeconds = 0;
    for (const [key, f] of Object.entries(functions1)) {
      invocations += f.invocations - (functions0[key]?.invocations ?? 0);
      gbSeconds += ((f.billedMs - (functions0[key]?.billedMs ?? 0)) / 1000) * (f.memoryMb / 1024);
    }
    const dynamodbByAction = Object.fromEntries(
      DATA_PLANE_DYNAMODB_ACTIONS.map(
        (action) => [action, perOrder((counts1.dynamodb[action] ?? 0) - (counts0.dynamodb[action] ?? 0))] as const,
      ).filter(([, v]) => v > 0),
    );
    const counted: PerOrderCounts = {
      sqsRequests: perOrder(
        PIPELINE_SQS_ACTIONS.reduce((sum, a) => sum + (counts1.sqs[a] ?? 0) - (counts0.sqs[a] ?? 0), 0),
      ),
      dynamodbRequests: perOrder(
        DATA_PLANE_DYNAMODB_ACTIONS.reduce(
          (sum, a) => sum + (counts1.dynamodb[a] ?? 0) - (counts0.dynamodb[a] ?? 0),
          0,
        ),
      ),
      dynamodbWrites: perOrder(counts1.dynamodbItems.written - counts0.dynamodbItems.written),
      dynamodbReads: perOrder(counts1.dynamodbItems.read - counts0.dynamodbItems.read),
      handlerInvocations: perOrder(invocations),
      lambdaGbSeconds: Number((gbSeconds / run.orders).toFixed(8)),
      apiRequests: run.intake === 'bulk' ? 0.01 : 1,
    };
    const stages = Object.values(
      final.pipelines as Record<string, Record<string, { batches: number; averageBatchSize: number }>>,
    ).flatMap((p) => Object.values(p));
    const batches = stages.reduce((a, s) => a + s.batches, 0);
    return {
      orders: run.orders,
      seconds: Number(seconds.toFixed(2)),
      ordersPerSecond: Math.round(run.orders / seconds),
      cpuMsPerOrder: Number((cpuMs / run.orders).toFixed(3)),
      cpuMsPerOrderBy: Object.fromEntries(
        (Object.keys(split1) as (keyof CpuSplit)[]).map((k) => [
          k,
          Number(((split1[k] - split0[k]) / run.orders).toFixed(3)),
        ]),
      ) as unknown as CpuSplit,
      p50Ms: final.latencyMs.p50,
      p99Ms: final.latencyMs.p99,
      perOrder: {
        ...counted,
        emptyReceives: perOrder(counts1.emptyReceives - counts0.emptyReceives),
        sqsByAction,
        dynamodbByAction,
      },
      averageBatchSize:
        batches > 0 ? Number((stages.reduce((a, s) => a + s.averageBatchSize * s.batches, 0) / batches).toFixed(1)) : 0,
      runtimeRssMb: runtime.rssMb(),
    };
  } finally {
    await runtime.stop();
  }
}

async function send(url: string, list: readonly object[], run: PipelineRun): Promise<void> {
  if (run.ratePerSecond === undefined)
    return submit(url, list, run.intake === 'bulk' ? 4 : 16, run.intake === 'bulk' ? 100 : 1);
  // Paced: one order at a time, on schedule.
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < list.length; i++) {
    const due = started + (i * 1000) / run.ratePerSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(submit(url, [list[i] as object], 1, 1));
  }
  await Promise.all(pending);
}

if (import.meta.main) {
  const count = Number(process.argv[2] ?? 2000);
  const result = await measurePipeline({ orders: count, warmup: Math.min(count, 2000), intake: 'bulk' });
  console.log(JSON.stringify({ ...result, costPerMillionOrdersUsd: costPerMillionOrders(result.perOrder) }, null, 2));
  void stats;
}
