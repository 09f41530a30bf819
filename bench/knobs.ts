/**
 * The talk's "tune" step, with numbers: one knob of the topology at a time, against the default,
 * end to end on the local runtime (in memory, after a warm-up). For each setting: orders/s and CPU
 * ms per order saturated, latency p50/p99 paced at 20 orders/s (one per request — where a batching
 * window shows), and the per-order counts and cost the bench measures at the emulators.
 *
 *   node bench/knobs.ts [--orders 2000] [--only batchSize,window]
 *
 * Writes bench/results/knobs.json and bench/results/knobs.md. Not part of npm test; takes about
 * 30 s per setting on 2 cores. Memory is absent on purpose: locally it caps the heap only, while on
 * Lambda it buys CPU (1,769 MB = one vCPU) — its effect on cost is billed ms × GB, shown per row.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { costPerMillionOrders } from './cost.ts';
import { measurePipeline } from './e2e.ts';
import { parseFlags, ROOT, usageError } from './support.ts';

const { values } = parseFlags({ options: { orders: { type: 'string', default: '2000' }, only: { type: 'string' } } });
const orders = Number(values.orders);
if (!Number.isInteger(orders) || orders < 100)
  usageError(`--orders must be a whole number ≥ 100, got ${values.orders}`);

const everyStage = (settings: Record<string, unknown>) => ({
  stages: { picking: settings, packing: settings, delivery: settings },
});

/** Knob → settings compared (the default first where it belongs). */
const KNOBS: Record<string, { label: string; topology?: Record<string, unknown> }[]> = {
  batchSize: [
    { label: 'batchSize 10, window 1 s', topology: everyStage({ batchSize: 10 }) },
    { label: 'batchSize 100, window 1 s (default)' },
    { label: 'batchSize 500, window 1 s', topology: everyStage({ batchSize: 500 }) },
  ],
  window: [
    { label: 'window 0 s, batchSize 10', topology: everyStage({ batchSize: 10, maxBatchingWindowSeconds: 0 }) },
    { label: 'window 1 s (default)' },
    { label: 'window 5 s', topology: everyStage({ maxBatchingWindowSeconds: 5 }) },
  ],
  concurrency: [
    { label: 'maxConcurrency 2 (default)' },
    { label: 'maxConcurrency 4', topology: everyStage({ maxConcurrency: 4 }) },
  ],
  tracking: [{ label: 'tracking full (default)' }, { label: 'tracking terminal', topology: { tracking: 'terminal' } }],
};

const chosen = values.only ? values.only.split(',') : Object.keys(KNOBS);
for (const knob of chosen)
  if (!(knob in KNOBS)) usageError(`--only: unknown knob "${knob}"; knobs: ${Object.keys(KNOBS).join(', ')}`);

const rows: Record<string, unknown>[] = [];
for (const knob of chosen) {
  for (const setting of KNOBS[knob] ?? []) {
    process.stderr.write(`knobs: ${setting.label}\n`);
    const saturated = await measurePipeline({
      topology: setting.topology,
      orders,
      warmup: 1000,
      intake: 'bulk',
      label: setting.label,
    });
    const paced = await measurePipeline({
      topology: setting.topology,
      orders: 200,
      warmup: 100,
      intake: 'single',
      ratePerSecond: 20,
      label: `${setting.label}, paced`,
    });
    const cost = costPerMillionOrders(saturated.perOrder);
    rows.push({
      knob,
      setting: setting.label,
      ordersPerSecond: saturated.ordersPerSecond,
      cpuMsPerOrder: saturated.cpuMsPerOrder,
      averageBatchSize: saturated.averageBatchSize,
      saturatedP50Ms: saturated.p50Ms,
      saturatedP99Ms: saturated.p99Ms,
      pacedP50Ms: paced.p50Ms,
      pacedP99Ms: paced.p99Ms,
      sqsRequestsPerOrder: saturated.perOrder.sqsRequests,
      dynamodbWritesPerOrder: saturated.perOrder.dynamodbWrites,
      invocationsPerOrder: saturated.perOrder.handlerInvocations,
      costPerMillionOrdersUsd: cost.total,
    });
    process.stderr.write(
      `knobs:   ${saturated.ordersPerSecond} orders/s, ${saturated.cpuMsPerOrder} ms CPU/order, paced p50 ${paced.p50Ms} ms, $${cost.total}/M\n`,
    );
  }
}

const out = join(ROOT, 'bench', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'knobs.json'), `${JSON.stringify({ at: new Date().toISOString(), orders, rows }, null, 2)}\n`);
const md = [
  `# Knobs — ${orders} orders per run, ${new Date().toISOString()}`,
  '',
  '| knob | setting | orders/s | CPU ms/order | avg batch | paced (20/s) p50 / p99 ms | SQS req/order | DDB writes/order | invocations/order | $ per M orders |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.knob} | ${r.setting} | ${r.ordersPerSecond} | ${r.cpuMsPerOrder} | ${r.averageBatchSize} | ${r.pacedP50Ms} / ${r.pacedP99Ms} | ${r.sqsRequestsPerOrder} | ${r.dynamodbWritesPerOrder} | ${r.invocationsPerOrder} | ${r.costPerMillionOrdersUsd} |`,
  ),
  '',
].join('\n');
writeFileSync(join(out, 'knobs.md'), md);
console.log(md);
