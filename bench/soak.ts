/**
 * Soak: the local pipeline at a steady rate for a long time (default 10 minutes at 100 orders/s),
 * sampling memory and latency every 30 s. Memory must stay flat — the runtime's own (handlers,
 * pollers, API) separately from the emulators', whose status table grows with the data by
 * design — and nothing may be lost: at the end every accepted order is delivered exactly once.
 *
 *   node bench/soak.ts [--minutes 10] [--rate 100] [--persistent] [--chaos 0.2]
 *
 * `--chaos P` makes every record fail transiently with probability P in every stage
 * (CONVEYOR_CHAOS): retries with backoff, and still every order delivered exactly once.
 *
 * Writes bench/results/soak.json and bench/results/soak.md. Not part of npm test.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFlags, ROOT, startBenchRuntime, stats, usageError } from './support.ts';

const { values } = parseFlags({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '100' },
    persistent: { type: 'boolean', default: false },
    chaos: { type: 'string' },
  },
});
const minutes = Number(values.minutes);
const rate = Number(values.rate);
if (!(minutes > 0) || !(rate > 0))
  usageError(`--minutes and --rate must be positive numbers, got ${values.minutes} and ${values.rate}`);
const chaos = values.chaos === undefined ? undefined : Number(values.chaos);
if (chaos !== undefined && !(chaos > 0 && chaos <= 1))
  usageError(`--chaos must be a probability in (0, 1], got ${values.chaos}`);

const dataDir = values.persistent ? mkdtempSync(join(tmpdir(), 'conveyor-soak-')) : undefined;
const chaosEnv: Record<string, string> =
  chaos === undefined
    ? {}
    : { CONVEYOR_CHAOS: ['picking', 'packing', 'delivery'].map((stage) => `${stage}:${chaos}`).join(',') };
const runtime = await startBenchRuntime(
  { ...chaosEnv, ...(dataDir ? { CONVEYOR_DATA_DIR: dataDir } : {}) },
  dataDir ? [] : ['--in-memory'],
);
const pid = runtime.child.pid as number;

interface Sample {
  readonly minute: number;
  readonly accepted: number;
  readonly delivered: number;
  readonly inFlight: number;
  readonly runtimeRssMb: number;
  readonly emulatorRssMb: number;
  /** Execution environments running, and the V8 heap they use together (what a leak in a handler grows). */
  readonly environments: number;
  readonly functionHeapMb: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

const samples: Sample[] = [];
let sent = 0;
let rejected = 0;
const started = Date.now();
const endAt = started + minutes * 60_000;

// Steady load: one bulk request of `rate / 10` orders every 100 ms.
const perTick = Math.max(1, Math.round(rate / 10));
const load = (async () => {
  for (let tick = 0; Date.now() < endAt; tick++) {
    const due = started + tick * 100;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    const orders = Array.from({ length: perTick }, (_, i) => ({
      orderId: `soak-${tick}-${i}`,
      warehouseId: i % 2 === 0 ? 'wh-1' : 'wh-2',
      items: [
        { sku: `SKU-${(tick + i) % 211}`, quantity: 1 + (i % 3) },
        { sku: 'SKU-COMMON', quantity: 1 },
      ],
    }));
    const response = await fetch(`${runtime.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ orders }),
    });
    const body = (await response.json()) as { accepted?: number };
    sent += body.accepted ?? 0;
    rejected += orders.length - (body.accepted ?? 0);
  }
})();

const sampler = setInterval(() => void sample(), 30_000);
async function sample(): Promise<void> {
  const s = await stats(runtime.url);
  const [runtimeRss, emulatorRss] = rss(pid);
  const functions = (await (await fetch(`${runtime.url}/api/functions`)).json()) as Record<
    string,
    { heapUsedMb: number[] }
  >;
  const heaps = Object.values(functions).flatMap((f) => f.heapUsedMb);
  samples.push({
    minute: Number(((Date.now() - started) / 60_000).toFixed(1)),
    accepted: s.totals.accepted,
    delivered: s.totals.delivered,
    inFlight: s.totals.inFlight,
    runtimeRssMb: runtimeRss,
    emulatorRssMb: emulatorRss,
    environments: heaps.length,
    functionHeapMb: Math.round(heaps.reduce((a, b) => a + b, 0)),
    p50Ms: s.latencyMs.p50,
    p99Ms: s.latencyMs.p99,
  });
  const last = samples.at(-1) as Sample;
  console.log(
    `${last.minute.toFixed(1).padStart(5)} min  accepted ${last.accepted}  delivered ${last.delivered}  in flight ${last.inFlight}  runtime ${last.runtimeRssMb} MB  ${last.environments} environments' heap ${last.functionHeapMb} MB  emulators ${last.emulatorRssMb} MB  p50 ${last.p50Ms} ms  p99 ${last.p99Ms} ms`,
  );
}

await load;
clearInterval(sampler);
// Drain: everything accepted must arrive (or, under chaos, end in a DLQ with a reason).
const drainDeadline = Date.now() + 300_000;
let final = await stats(runtime.url);
while (
  (final.totals.delivered + final.totals.deadLettered < sent || final.totals.inFlight > 0) &&
  Date.now() < drainDeadline
) {
  await new Promise((r) => setTimeout(r, 500));
  final = await stats(runtime.url);
}
await sample();

// Exactly once, counted from outside: every order's status and history.
let notDelivered = 0;
let deadLettered = 0;
let deliveredTwice = 0;
const ids: string[] = [];
for (let tick = 0; ids.length < sent; tick++)
  for (let i = 0; i < perTick && ids.length < sent; i++) ids.push(`soak-${tick}-${i}`);
for (let i = 0; i < ids.length; i += 50) {
  await Promise.all(
    ids.slice(i, i + 50).map(async (id) => {
      const order = (await (await fetch(`${runtime.url}/orders/${id}`)).json()) as {
        status?: string;
        reason?: string;
        history?: Array<{ status: string }>;
      };
      if (order.status === 'dead-lettered' && order.reason) deadLettered++;
      else if (order.status !== 'delivered') notDelivered++;
      else if ((order.history ?? []).filter((h) => h.status === 'delivered').length !== 1) deliveredTwice++;
    }),
  );
}
await runtime.stop();
if (dataDir) rmSync(dataDir, { recursive: true, force: true });

const steady = samples.filter((s) => s.minute >= 2);
/** Change from the first third of the steady samples to the last third, in % (means: a heap sampled between collections is noisy). */
const growth = (pick: (s: Sample) => number) => {
  const third = Math.floor(steady.length / 3);
  if (third < 1) return null;
  const mean = (list: Sample[]) => list.reduce((sum, s) => sum + pick(s), 0) / list.length;
  const [first, last] = [mean(steady.slice(0, third)), mean(steady.slice(-third))];
  return Number((((last - first) / first) * 100).toFixed(1));
};
const result = {
  at: new Date().toISOString(),
  minutes,
  ratePerSecond: rate,
  mode: dataDir ? 'persistent' : 'in-memory',
  chaos: chaos ?? 0,
  accepted: sent,
  rejected,
  delivered: final.totals.delivered,
  notDelivered,
  deadLettered,
  deliveredTwice,
  /** Records retried after a transient failure, over every stage. */
  retried: Object.values(final.pipelines as Record<string, Record<string, { retried: number }>>).reduce(
    (sum, p) => sum + Object.values(p).reduce((a, st) => a + st.retried, 0),
    0,
  ),
  runtimeRssGrowthPercentAfterWarmup: growth((s) => s.runtimeRssMb),
  functionHeapGrowthPercentAfterWarmup: growth((s) => s.functionHeapMb),
  emulatorRssGrowthPercentAfterWarmup: growth((s) => s.emulatorRssMb),
  samples,
};
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(join(ROOT, 'bench', 'results', 'soak.json'), `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(
  join(ROOT, 'bench', 'results', 'soak.md'),
  [
    `# Soak: ${minutes} min at ${rate} orders/s (${result.mode}${chaos ? `, ${chaos * 100} % transient failures in every stage` : ''})`,
    '',
    `Accepted ${sent}, delivered ${final.totals.delivered}, dead-lettered with a reason ${deadLettered}, neither (lost) ${notDelivered}, delivered twice ${deliveredTwice}; records retried ${result.retried}.`,
    `Change after warm-up (mean of the last third of the samples against the first third): functions' heap ${result.functionHeapGrowthPercentAfterWarmup}%, runtime RSS ${result.runtimeRssGrowthPercentAfterWarmup}%, emulators' RSS ${result.emulatorRssGrowthPercentAfterWarmup}% (the in-memory status table grows with the data, by design).`,
    '',
    '| minute | accepted | delivered | in flight | runtime RSS MB | environments | their heap MB | emulators RSS MB | p50 ms | p99 ms |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...samples.map(
      (s) =>
        `| ${s.minute} | ${s.accepted} | ${s.delivered} | ${s.inFlight} | ${s.runtimeRssMb} | ${s.environments} | ${s.functionHeapMb} | ${s.emulatorRssMb} | ${s.p50Ms} | ${s.p99Ms} |`,
    ),
    '',
  ].join('\n'),
);
console.log(JSON.stringify({ ...result, samples: undefined }, null, 2));
if (notDelivered > 0 || deliveredTwice > 0) process.exitCode = 1;

/** Resident memory (MB) of the runtime process and of its children (the emulators). */
function rss(root: number): [number, number] {
  const mb = (p: number) => {
    try {
      return Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) / 1024);
    } catch {
      return 0;
    }
  };
  const children = readdirSync(`/proc/${root}/task`).flatMap((t) =>
    readFileSync(`/proc/${root}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
  );
  return [mb(root), children.reduce((a, c) => a + mb(c), 0)];
}
