/**
 * `npm run bench [-- --quick | --full]`: Conveyor's benchmarks (never part of npm test).
 *
 *  - end to end on the local runtime, in memory: default and tuned topologies (orders/s, CPU ms per
 *    order of all runtime processes, latency p50/p99), after a warm-up; and cold, without one;
 *  - paced latency (50 orders/s, one per request);
 *  - per-order counts of SQS requests (empty receives included), DynamoDB writes and reads and
 *    handler invocations, counted at the emulators and the local Lambda;
 *  - cost per million orders for three topologies — naive (batch 1, full tracking, one order per
 *    request), default, tuned (terminal tracking) — from those counts and public prices;
 *  - framework overhead per record, bundle sizes and module init times of the built handlers;
 *  - the talk's Celery pipeline side by side, when Debian's python3-celery and redis-server are installed;
 *  - with --full: a scaling run (1k → 10k → 100k orders).
 *
 * Writes bench/results/latest.json, bench/results/latest.md and docs/performance.svg.
 */
import { cpus, totalmem, release } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { costPerMillionOrders, PRICES } from './cost.ts';
import { measurePipeline, type PipelineResult } from './e2e.ts';
import { measureHandlers } from './handlers.ts';
import { measureOverhead } from './overhead.ts';
import { parseFlags, ROOT } from './support.ts';
import { renderChart } from './chart.ts';

const { values } = parseFlags({
  options: { quick: { type: 'boolean', default: false }, full: { type: 'boolean', default: false } },
});
const mode = values.full ? 'full' : values.quick ? 'quick' : 'standard';
const say = (text: string) => process.stderr.write(`bench: ${text}\n`);

/** The topologies compared. */
const STAGES = ['picking', 'packing', 'delivery'] as const;
const everyStage = (settings: Record<string, unknown>) => Object.fromEntries(STAGES.map((s) => [s, settings]));
export const CONFIGS = {
  /** What a first version would do: one record per invocation, one send per message, every status written, one order per request. */
  naive: {
    topology: { tracking: 'full', stages: everyStage({ batchSize: 1, maxBatchingWindowSeconds: 0 }) },
    intake: 'single' as const,
  },
  /** The shipped defaults: batches of 100 within 1 s, full tracking, bulk intake. */
  default: { topology: undefined, intake: 'bulk' as const },
  /** Terminal tracking (one status write per order), batches of 100 within 1 s, bulk intake. */
  tuned: { topology: { tracking: 'terminal' }, intake: 'bulk' as const },
};

// Thousands of orders per run: a pipeline takes 2–3 s to fill and drain (a batching window per
// stage), which would otherwise weigh on a run of a few seconds.
const sizes = {
  quick: { orders: 5000, warmup: 1000, naive: 300, paced: 20 },
  standard: { orders: 10000, warmup: 2000, naive: 500, paced: 30 },
  full: { orders: 20000, warmup: 3000, naive: 1000, paced: 60 },
}[mode];

say(`mode ${mode}`);
say('end to end, default topology');
const defaultRun = await measurePipeline({
  ...CONFIGS.default,
  orders: sizes.orders,
  warmup: sizes.warmup,
  label: 'default',
});
say(`  ${defaultRun.ordersPerSecond} orders/s, ${defaultRun.cpuMsPerOrder} ms CPU/order`);
say('end to end, tuned topology');
const tunedRun = await measurePipeline({
  ...CONFIGS.tuned,
  orders: sizes.orders,
  warmup: sizes.warmup,
  label: 'tuned',
});
say(`  ${tunedRun.ordersPerSecond} orders/s, ${tunedRun.cpuMsPerOrder} ms CPU/order`);
say('end to end, default topology, cold (no warm-up)');
const coldRun = await measurePipeline({ ...CONFIGS.default, orders: sizes.orders, warmup: 0, label: 'cold' });
say('naive topology (for its counts and cost)');
const naiveRun = await measurePipeline({
  ...CONFIGS.naive,
  orders: sizes.naive,
  warmup: Math.min(100, sizes.naive),
  label: 'naive',
});
say('paced latency, 50 orders/s');
const pacedRun = await measurePipeline({
  ...CONFIGS.default,
  orders: 50 * sizes.paced,
  warmup: 200,
  intake: 'single',
  ratePerSecond: 50,
  label: 'paced',
});
say('framework overhead per record');
const overhead = await measureOverhead(mode === 'quick' ? 1000 : 3000);
say('bundles and init times');
const handlers = await measureHandlers(mode === 'quick' ? 3 : 7);

let celery: Record<string, unknown> = {
  measured: false,
  reference: 'about 350–420 orders/s at 4–6 ms CPU per order on this kind of machine (issue figures)',
};
try {
  say('the talk’s Celery pipeline, side by side');
  const { runCelery } = (await import('./celery.ts')) as unknown as {
    runCelery: (o: { orders: number; chaos?: number }) => Promise<Record<string, unknown>>;
  };
  celery = { measured: true, ...(await runCelery({ orders: sizes.orders })) };
} catch (error) {
  celery = { ...celery, reason: (error as Error).message };
  say(`  not measured: ${(error as Error).message}`);
}

let scaling: unknown;
if (mode === 'full') {
  scaling = [];
  for (const orders of [1_000, 10_000, 100_000]) {
    say(`scaling: ${orders} orders (tuned)`);
    const run = await measurePipeline({ ...CONFIGS.tuned, orders, warmup: 1000, label: `scale-${orders}` });
    (scaling as unknown[]).push({
      orders,
      seconds: run.seconds,
      ordersPerSecond: run.ordersPerSecond,
      cpuMsPerOrder: run.cpuMsPerOrder,
      rssMb: run.runtimeRssMb,
      perOrder: run.perOrder,
    });
  }
}

const costs = {
  default: costPerMillionOrders(defaultRun.perOrder),
  naive: costPerMillionOrders(naiveRun.perOrder),
  tuned: costPerMillionOrders(tunedRun.perOrder),
};
const summary = (r: PipelineResult) => ({
  orders: r.orders,
  ordersPerSecond: r.ordersPerSecond,
  cpuMsPerOrder: r.cpuMsPerOrder,
  cpuMsPerOrderBy: r.cpuMsPerOrderBy,
  p50Ms: r.p50Ms,
  p99Ms: r.p99Ms,
  averageBatchSize: r.averageBatchSize,
  runtimeRssMb: r.runtimeRssMb,
});
const result = {
  at: new Date().toISOString(),
  mode,
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
  },
  e2e: { ...summary(defaultRun), topology: 'default' },
  e2eTuned: { ...summary(tunedRun), topology: 'tuned' },
  e2eCold: { ...summary(coldRun), topology: 'default, no warm-up: every execution environment starts cold' },
  pacedLatency: { ratePerSecond: 50, p50Ms: pacedRun.p50Ms, p99Ms: pacedRun.p99Ms },
  perOrder: {
    sqsRequests: defaultRun.perOrder.sqsRequests,
    dynamodbRequests: defaultRun.perOrder.dynamodbRequests,
    dynamodbWrites: defaultRun.perOrder.dynamodbWrites,
    handlerInvocations: defaultRun.perOrder.handlerInvocations,
    byTopology: { default: defaultRun.perOrder, tuned: tunedRun.perOrder, naive: naiveRun.perOrder },
  },
  costPerMillionOrdersUsd: {
    default: costs.default.total,
    naive: costs.naive.total,
    tuned: costs.tuned.total,
    breakdown: costs,
    prices: PRICES,
  },
  handlerOverheadUsPerRecord: overhead.microsecondsPerRecord,
  bundleKb: handlers.bundleKb,
  initMs: handlers.initMs,
  celery,
  ...(scaling ? { scaling } : {}),
};

const out = join(ROOT, 'bench', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(join(out, 'latest.md'), markdown(result));
mkdirSync(join(ROOT, 'docs'), { recursive: true });
writeFileSync(join(ROOT, 'docs', 'performance.svg'), renderChart(result));
say(`wrote bench/results/latest.json, bench/results/latest.md and docs/performance.svg`);
console.log(markdown(result));

function markdown(r: typeof result): string {
  const c = r.celery as {
    measured: boolean;
    ordersPerSecond?: number;
    cpuMsPerOrder?: number;
    p50Ms?: number;
    p99Ms?: number;
  };
  const rows = [
    [
      'end to end, default (warm)',
      `${r.e2e.ordersPerSecond}`,
      `${r.e2e.cpuMsPerOrder}`,
      `${r.e2e.p50Ms} / ${r.e2e.p99Ms}`,
    ],
    [
      'end to end, tuned (warm)',
      `${r.e2eTuned.ordersPerSecond}`,
      `${r.e2eTuned.cpuMsPerOrder}`,
      `${r.e2eTuned.p50Ms} / ${r.e2eTuned.p99Ms}`,
    ],
    [
      'end to end, default (cold)',
      `${r.e2eCold.ordersPerSecond}`,
      `${r.e2eCold.cpuMsPerOrder}`,
      `${r.e2eCold.p50Ms} / ${r.e2eCold.p99Ms}`,
    ],
    ...(c.measured
      ? [['Celery pipeline (talk settings)', `${c.ordersPerSecond}`, `${c.cpuMsPerOrder}`, `${c.p50Ms} / ${c.p99Ms}`]]
      : []),
  ];
  return [
    `# Benchmark (${r.mode}) — ${r.at}`,
    '',
    `Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGb} GiB, Node ${r.machine.node}.`,
    '',
    '| run | orders/s | CPU ms/order | latency p50 / p99 ms |',
    '|---|---:|---:|---:|',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    `Where the CPU goes, ms per order (default / tuned): ${(Object.keys(r.e2e.cpuMsPerOrderBy) as (keyof typeof r.e2e.cpuMsPerOrderBy)[]).map((k) => `${k} ${r.e2e.cpuMsPerOrderBy[k]} / ${r.e2eTuned.cpuMsPerOrderBy[k]}`).join(', ')}.`,
    '',
    `Paced at 50 orders/s (one per request): p50 ${r.pacedLatency.p50Ms} ms, p99 ${r.pacedLatency.p99Ms} ms.`,
    '',
    '| per order | naive | default | tuned |',
    '|---|---:|---:|---:|',
    ...(
      [
        'sqsRequests',
        'dynamodbRequests',
        'dynamodbWrites',
        'dynamodbReads',
        'handlerInvocations',
        'lambdaGbSeconds',
      ] as const
    ).map(
      (k) =>
        `| ${k} | ${r.perOrder.byTopology.naive[k]} | ${r.perOrder.byTopology.default[k]} | ${r.perOrder.byTopology.tuned[k]} |`,
    ),
    `| **cost per million orders, $ (without API Gateway)** | **${r.costPerMillionOrdersUsd.naive}** | **${r.costPerMillionOrdersUsd.default}** | **${r.costPerMillionOrdersUsd.tuned}** |`,
    `| API Gateway per million orders, $ | ${r.costPerMillionOrdersUsd.breakdown.naive.apiGateway} | ${r.costPerMillionOrdersUsd.breakdown.default.apiGateway} | ${r.costPerMillionOrdersUsd.breakdown.tuned.apiGateway} |`,
    '',
    `Framework overhead: ${r.handlerOverheadUsPerRecord} µs per record. Bundles (KB): ${Object.entries(r.bundleKb)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}. Module init (ms): ${Object.entries(r.initMs)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    '',
    `Prices: ${r.costPerMillionOrdersUsd.prices.asOf}.`,
    '',
  ].join('\n');
}
