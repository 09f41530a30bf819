/**
 * Benchmark plumbing: run the local runtime as its own process (as users do), load it over HTTP,
 * and read the CPU time of its whole process tree from /proc — the load generator's own CPU is
 * not counted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { freePort } from '../test/support/runtime-process.ts';

export { freePort };

export const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Bad command-line input to a bench script: one line naming the flag, exit code 2, no stack trace. */
export function usageError(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

/** node:util's parseArgs, with its errors (unknown or malformed flags) reported by `usageError`. */
export function parseFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    return usageError((error as Error).message);
  }
}
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface BenchRuntime {
  readonly url: string;
  readonly child: ChildProcess;
  /** CPU ms used so far by the runtime and every process it started. */
  cpuMs(): number;
  /** The same, by thread: functions, the runtime's main thread, its helper threads, the emulators. */
  cpuSplitMs(): CpuSplit;
  /** Resident memory of the runtime process and its children, MB. */
  rssMb(): number;
  stop(): Promise<void>;
}

export async function startBenchRuntime(
  env: Record<string, string> = {},
  args: string[] = ['--in-memory'],
): Promise<BenchRuntime> {
  const port = await freePort();
  const child = spawn(NODE, ['bin/start.ts', ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      CONVEYOR_PORT: String(port),
      CONVEYOR_LOG_LEVEL: 'error',
      CONVEYOR_LOG_FORMAT: 'json',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (
    (await fetch(`${url}/healthz`).then(
      (r) => r.status,
      () => 0,
    )) !== 200
  ) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('the runtime did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    cpuMs: () => treeCpuMs(child.pid as number),
    cpuSplitMs: () => cpuSplitMs(child.pid as number),
    rssMb: () => treeRssMb(child.pid as number),
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** A process and all its descendants. */
export function processTree(pid: number): number[] {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    try {
      for (const task of readdirSync(`/proc/${pids[i]}/task`)) {
        for (const c of readFileSync(`/proc/${pids[i]}/task/${task}/children`, 'utf8')
          .trim()
          .split(/\s+/)
          .filter(Boolean))
          pids.push(Number(c));
      }
    } catch {
      // The process ended meanwhile.
    }
  }
  return pids;
}

/** Name and utime + stime (ms) from a /proc `stat` file (a process's, or one thread's under `task/`); undefined once it ended. */
export function readStat(path: string): { readonly name: string; readonly cpuMs: number } | undefined {
  try {
    const stat = readFileSync(path, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
      cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND,
    };
  } catch {
    return undefined;
  }
}

/** utime + stime of a process and its descendants (threads included), in ms. */
export function treeCpuMs(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + (readStat(`/proc/${p}/stat`)?.cpuMs ?? 0), 0);
}

/** Where a runtime's CPU goes, in ms (see `cpuSplitMs`). */
export interface CpuSplit {
  /** The execution environments: the handlers, their AWS SDK clients and business logic (worker threads). */
  readonly functions: number;
  /** The runtime's main thread: the API, the event source mappings (Lambda's pollers), stats. */
  readonly runtimeMain: number;
  /** The runtime's other threads: V8's garbage collection and compilers, libuv's pool. */
  readonly runtimeHelpers: number;
  /** The emulator process (SQS and DynamoDB), all its threads. */
  readonly emulators: number;
}

/** CPU of the runtime `pid` and its children, by thread, from /proc (ms). */
export function cpuSplitMs(pid: number): CpuSplit {
  const split = { functions: 0, runtimeMain: 0, runtimeHelpers: 0, emulators: 0 };
  for (const p of processTree(pid)) {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue; // The process ended meanwhile.
    }
    for (const task of tasks) {
      const thread = readStat(`/proc/${p}/task/${task}/stat`);
      if (!thread) continue; // The thread ended meanwhile.
      if (p !== pid) split.emulators += thread.cpuMs;
      else if (task === String(pid)) split.runtimeMain += thread.cpuMs;
      else if (thread.name === 'WorkerThread') split.functions += thread.cpuMs;
      else split.runtimeHelpers += thread.cpuMs;
    }
  }
  return split;
}

/** Resident memory of a process and its descendants, MB. */
export function treeRssMb(pid: number): number {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // The process ended meanwhile.
    }
  }
  return Math.round(kb / 1024);
}

export function orders(prefix: string, count: number): object[] {
  return Array.from({ length: count }, (_, i) => ({
    orderId: `${prefix}-${i}`,
    warehouseId: i % 2 === 0 ? 'wh-1' : 'wh-2',
    items: [
      { sku: `SKU-${i % 97}`, quantity: 1 + (i % 3) },
      { sku: `SKU-B${i % 13}`, quantity: 1 },
      { sku: 'SKU-COMMON', quantity: 1 },
    ],
  }));
}

/** Posts orders, `perRequest` at a time (bulk intake when above 1), `concurrency` requests at once. */
export async function submit(url: string, list: readonly object[], concurrency = 4, perRequest = 100): Promise<void> {
  const chunks: object[][] = [];
  for (let i = 0; i < list.length; i += perRequest) chunks.push(list.slice(i, i + perRequest));
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, chunks.length) }, async () => {
      while (next < chunks.length) {
        const chunk = chunks[next++] as object[];
        const body = perRequest === 1 ? chunk[0] : { orders: chunk };
        const response = await fetch(`${url}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        if (response.status !== 202) throw new Error(`intake answered ${response.status}: ${await response.text()}`);
      }
    }),
  );
}

export async function stats(url: string): Promise<any> {
  return (await fetch(`${url}/api/stats`)).json();
}

/** Waits until `count` orders are delivered and none are in flight. */
export async function waitDelivered(url: string, count: number, timeoutMs = 600_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await stats(url);
    if (s.totals.delivered >= count && s.totals.inFlight === 0) return s;
    if (Date.now() > deadline) throw new Error(`only ${s.totals.delivered} of ${count} delivered in time`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
