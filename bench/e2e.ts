/**
 * End-to-end throughput of the local runtime (in memory, default topology): N orders through
 * intake, picking, packing and delivery. Reports orders/s, CPU ms per order (the runtime's whole
 * process tree) and acceptance-to-delivery latency. Usage: node bench/e2e.ts [orders=2000]
 */
import { orders, startBenchRuntime, submit, waitDelivered } from './support.ts';

const count = Number(process.argv[2] ?? 2000);
const runtime = await startBenchRuntime();
try {
  const cpuBefore = runtime.cpuMs();
  const started = performance.now();
  await submit(runtime.url, orders('bench', count));
  const final = await waitDelivered(runtime.url, count);
  const seconds = (performance.now() - started) / 1000;
  const cpuMs = runtime.cpuMs() - cpuBefore;
  const result = {
    orders: count,
    seconds: Number(seconds.toFixed(2)),
    ordersPerSecond: Math.round(count / seconds),
    cpuMsPerOrder: Number((cpuMs / count).toFixed(3)),
    p50Ms: final.latencyMs.p50,
    p99Ms: final.latencyMs.p99,
    averageBatchSize: final.pipelines['wh-1'].picking.averageBatchSize,
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await runtime.stop();
}
