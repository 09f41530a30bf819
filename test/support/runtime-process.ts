/**
 * Runs the local runtime as a user does — `node bin/start.ts` in its own process — on a free
 * port, and talks to it over HTTP. Every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type AddressInfo } from 'node:net';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = join(ROOT, 'node_modules', '.bin', 'node');

export interface RuntimeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code (or signal) when it exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then waits (bounded) for the exit. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  readonly env?: Record<string, string>;
  readonly args?: readonly string[];
  /** Fails if /healthz does not answer 200 within this time. */
  readonly readyTimeoutMs?: number;
  /** The project to run (default: this one); e.g. a copy from `copyProject`. */
  readonly cwd?: string;
}

/** Starts `bin/start.ts` on a free port and resolves once `/healthz` answers 200. */
export async function startRuntime({
  env = {},
  args = [],
  readyTimeoutMs = 30_000,
  cwd = ROOT,
}: StartOptions = {}): Promise<RuntimeProcess> {
  const port = env.CONVEYOR_PORT ?? String(await freePort());
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(NODE, ['bin/start.ts', ...args], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      CONVEYOR_LOG_FORMAT: 'json',
      CONVEYOR_LOG_LEVEL: 'warn',
      ...env,
      CONVEYOR_PORT: port,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let printed = '';
  child.stdout?.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let gone = false;
  void exited.then(() => (gone = true));

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (gone) throw new Error(`runtime exited before it was ready:\n${printed}`);
    const status = await fetch(`${url}/healthz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`runtime not ready within ${readyTimeoutMs} ms:\n${printed}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url,
    child,
    pid: child.pid as number,
    output: () => printed,
    exited,
    async stop(timeoutMs = 30_000) {
      child.kill('SIGTERM');
      return withTimeout(exited, timeoutMs, 'runtime did not stop after SIGTERM');
    },
  };
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Runs `bin/start.ts` expecting it to fail at start-up; resolves with its exit code and output. */
export async function startFailing(
  env: Record<string, string>,
  args: readonly string[] = [],
): Promise<{ code: number | null; output: string }> {
  const child = spawn(NODE, ['bin/start.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', CONVEYOR_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const code = await withTimeout(
    new Promise<number | null>((resolve) => child.once('exit', resolve)),
    30_000,
    'start-up did not fail in time',
  );
  return { code, output };
}

export function tempDir(prefix = 'conveyor-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function postOrders(url: string, orders: readonly unknown[]): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(orders.length === 1 ? orders[0] : { orders }),
  });
  return { status: response.status, body: await response.json() };
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}

/** Polls `probe` until it returns a value (not undefined) or the time is up. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(message)), ms).unref()),
  ]);
}

/** Orders for `count` ids, spread over the warehouses. */
export function makeOrders(
  prefix: string,
  count: number,
  warehouses: readonly string[] = ['wh-1', 'wh-2'],
): Array<{ orderId: string; warehouseId: string; items: Array<{ sku: string; quantity: number }> }> {
  return Array.from({ length: count }, (_, i) => ({
    orderId: `${prefix}-${i}`,
    warehouseId: warehouses[i % warehouses.length] as string,
    items: [
      { sku: `SKU-${i % 23}`, quantity: 1 + (i % 4) },
      { sku: `SKU-B${i % 7}`, quantity: 1 },
    ],
  }));
}

/** Sends orders in bulk requests of 100; every one must be accepted. */
export async function submitAll(url: string, orders: readonly unknown[]): Promise<void> {
  for (let i = 0; i < orders.length; i += 100) {
    const { status, body } = await postOrders(url, orders.slice(i, i + 100));
    if (status !== 202 || (body.accepted ?? 1) + (body.duplicates ?? 0) !== Math.min(100, orders.length - i)) {
      throw new Error(`bulk intake failed: ${status} ${JSON.stringify(body).slice(0, 300)}`);
    }
  }
}

/** Every listening TCP socket of the process tree rooted at `pid`, as "address:port". */
export function listeningSockets(pid: number): string[] {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const task of safe(() => readdirSync(`/proc/${tree[i]}/task`), [] as string[])) {
      for (const child of safe(
        () => readFileSync(`/proc/${tree[i]}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean),
        [] as string[],
      ))
        tree.push(Number(child));
    }
  }
  const inodes = new Set<string>();
  for (const p of tree) {
    for (const fd of safe(() => readdirSync(`/proc/${p}/fd`), [] as string[])) {
      const link = safe(() => readlinkSync(`/proc/${p}/fd/${fd}`), '');
      const match = /^socket:\[(\d+)\]$/.exec(link);
      if (match) inodes.add(match[1] as string);
    }
  }
  const sockets: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of safe(() => readFileSync(file, 'utf8').trim().split('\n').slice(1), [] as string[])) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] !== '0A' || !inodes.has(cols[9] as string)) continue; // 0A = LISTEN
      sockets.push(decodeAddress(cols[1] as string));
    }
  }
  return sockets;
}

function decodeAddress(hex: string): string {
  const [address, port] = hex.split(':') as [string, string];
  const ip =
    address.length === 8
      ? (address.match(/../g) as string[])
          .reverse()
          .map((b) => parseInt(b, 16))
          .join('.')
      : address === '00000000000000000000000000000000'
        ? '::'
        : address === '0000000000000000FFFF00000100007F'
          ? '::ffff:127.0.0.1'
          : address === '00000000000000000000000001000000'
            ? '::1'
            : address;
  return `${ip}:${parseInt(port, 16)}`;
}

function safe<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}
