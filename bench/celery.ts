/**
 * The Celery reference: the talk's warehouse pipeline (bench/celery/, Python) measured the way
 * bench/e2e.ts measures Conveyor, on this machine. Starts a private redis-server and one Celery
 * worker (3 prefork processes), enqueues N orders through a Python producer (one `apply_async` per
 * order), waits until all are delivered (or, under chaos, until the pipeline drains), and reports
 * orders/s, CPU ms per order of the pipeline's process tree (redis + worker + its children, from
 * /proc; the producer's enqueue loop added in `cpuMsPerOrderWithProducer`), latency, duplicates and
 * lost orders. Everything it starts is stopped before it returns.
 *
 * Usage: node bench/celery.ts [--orders 2000] [--chaos 0.2] [--runs 1] [--prefetch 1] [--concurrency 3] [--nodes 1]
 *        [--serializer json|pickle] [--acks-late 1|0] [--events 0|1] [--results 0|1]
 * Needs Debian's packages: apt-get install -y --no-install-recommends python3-celery python3-redis redis-server
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ROOT, freePort, readStat, treeCpuMs, usageError } from './support.ts';

const PYTHON = '/usr/bin/python3';
const REDIS_SERVER = '/usr/bin/redis-server';
export const CELERY_APT_PACKAGES = 'python3-celery python3-redis redis-server';
const QUEUES = ['wh-1', 'wh-2'].flatMap((wh) => ['picking', 'packing', 'delivery'].map((stage) => `${wh}.${stage}`));

export interface CeleryOptions {
  orders?: number;
  /** Probability that a task fails transiently (retried up to 5 times, no DLQ). */
  chaos?: number;
  /** worker_prefetch_multiplier (default 1, with acks_late and -O fair). */
  prefetch?: number;
  /** Prefork processes per worker (default 3, as the talk). */
  concurrency?: number;
  /** Celery worker instances, each with its own consumer process and `concurrency` pool processes (default 1). */
  nodes?: number;
  serializer?: 'json' | 'pickle';
  acksLate?: boolean;
  /** Task events (`worker -E`, what Flower needs for the talk's "transparent"); off by default. */
  events?: boolean;
  /** Store every task's result in Redis (a result backend, `ignore_result=False`); off by default. */
  results?: boolean;
  /** Bound on the whole run, startup to drain (default 10 minutes). */
  timeoutMs?: number;
}

export type CeleryResult = {
  orders: number;
  chaos: number;
  seconds: number;
  ordersPerSecond: number;
  /** CPU of redis-server + the Celery worker and its pool processes, per order. */
  cpuMsPerOrder: number;
  /** The same plus the producer's enqueue loop (its interpreter start and imports excluded). */
  cpuMsPerOrderWithProducer: number;
  p50Ms: number;
  p99Ms: number;
  delivered: number;
  duplicates: number;
  lost: number;
  /** CPU ms per order by process: redis-server, the worker's main (consumer) process, its pool processes, the producer. */
  cpuMsPerOrderBy: { redis: number; workerMain: number; pool: number; producer: number };
  /** How long the producer took to enqueue all orders. */
  enqueueSeconds: number;
  settings: Record<string, string | number | boolean>;
};

/** Why the Celery reference cannot run here, or undefined when it can. */
export function celeryUnavailable(): string | undefined {
  const missing: string[] = [];
  if (!existsSync(REDIS_SERVER)) missing.push('redis-server');
  if (!existsSync(PYTHON)) missing.push('/usr/bin/python3');
  else {
    const probe = spawnSync(PYTHON, ['-c', 'import celery, redis'], { encoding: 'utf8', timeout: 30_000 });
    if (probe.status !== 0) missing.push(`Python modules (${(probe.stderr || '').trim().split('\n').pop()})`);
  }
  return missing.length === 0
    ? undefined
    : `the Celery reference needs ${missing.join(', ')}: apt-get install -y --no-install-recommends ${CELERY_APT_PACKAGES}`;
}

export async function runCelery(options: CeleryOptions = {}): Promise<CeleryResult> {
  const unavailable = celeryUnavailable();
  if (unavailable) throw new Error(unavailable);
  const count = options.orders ?? 2000;
  const chaos = options.chaos ?? 0;
  const settings = {
    nodes: options.nodes ?? 1,
    concurrency: options.concurrency ?? 3,
    prefetch: options.prefetch ?? 1,
    serializer: options.serializer ?? 'json',
    acksLate: options.acksLate ?? true,
    events: options.events ?? false,
    results: options.results ?? false,
    pool: 'prefork',
    optimization: 'fair',
    maxRetries: 5,
  };
  if (settings.acksLate && settings.prefetch === 1 && settings.concurrency <= 2)
    console.error(
      'warning: prefetch multiplier 1 with -c 1 or -c 2 makes this Celery/kombu idle ~1 s between tasks (see bench/celery/__init__.py)',
    );
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  const port = await freePort();
  const env = {
    PATH: '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    PYTHONDONTWRITEBYTECODE: '1',
    CONVEYOR_CELERY_BROKER: `redis://127.0.0.1:${port}/0`,
    CONVEYOR_CELERY_CHAOS: String(chaos),
    CONVEYOR_CELERY_PREFETCH: String(settings.prefetch),
    CONVEYOR_CELERY_SERIALIZER: settings.serializer,
    CONVEYOR_CELERY_ACKS_LATE: settings.acksLate ? '1' : '0',
    CONVEYOR_CELERY_RESULTS: settings.results ? '1' : '0',
    // Celery refuses to run as root with pickle; the broker here is private to this run.
    ...(settings.serializer === 'pickle' ? { C_FORCE_ROOT: '1' } : {}),
    // Running as root (as on the bench machines) makes Celery warn once; it is not news.
    PYTHONWARNINGS: "ignore:You're running the worker with superuser privileges",
  };
  const children: ChildProcess[] = [];
  let client: Redis | undefined;
  try {
    const redisServer = start(
      REDIS_SERVER,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'yes',
        '--loglevel',
        'warning',
      ],
      env,
    );
    children.push(redisServer);
    client = await until(deadline, 'redis-server did not start', () => Redis.connect(port).catch(() => undefined));
    const workers = Array.from({ length: settings.nodes }, (_, node) =>
      start(
        PYTHON,
        // prettier-ignore
        [
          '-m',
          'celery',
          '-A',
          'bench.celery.warehouse',
          'worker',
          '--pool',
          'prefork',
          '-c',
          String(settings.concurrency),
          '-O',
          'fair',
          '-Q',
          QUEUES.join(','),
          '--loglevel',
          'warning',
          '-n',
          `bench-${port}-${node}@%h`,
          ...(settings.events ? ['-E'] : []),
        ],
        env,
      ),
    );
    children.push(...workers);
    await until(
      deadline,
      'the Celery worker did not become ready',
      async () => (Number(await client!.call('SCARD', 'bench:workers-ready')) >= settings.nodes ? true : undefined),
      workers,
    );

    const producer = start(PYTHON, ['-m', 'bench.celery.produce', String(count)], env, 'pipe');
    children.push(producer);
    const lines = lineReader(producer);
    const ready = await Promise.race([lines.next(), sleep(Math.max(0, deadline - Date.now()), false)]);
    if (ready !== 'ready')
      throw new Error(
        `the producer did not start (${producer.exitCode === null ? 'timed out' : `exit code ${producer.exitCode}`}): ${stderrOf(producer)}`,
      );

    const roles = () => {
      const redis = treeCpuMs(redisServer.pid as number);
      let workerTree = 0;
      let workerMain = 0;
      for (const worker of workers) {
        workerTree += treeCpuMs(worker.pid as number);
        workerMain += readStat(`/proc/${worker.pid}/stat`)?.cpuMs ?? 0;
      }
      return { redis, workerMain, pool: workerTree - workerMain };
    };
    const tree = () =>
      workers.reduce((sum, worker) => sum + treeCpuMs(worker.pid as number), treeCpuMs(redisServer.pid as number));
    const rolesBefore = roles();
    const cpuBefore = tree();
    const started = performance.now();
    producer.stdin?.write('go\n');

    // Done when every order is delivered and nothing is left in flight; with chaos some orders are
    // dropped after their fifth retry, so also done when the broker has been empty for a while.
    let delivered = 0;
    let lastChange = started;
    let emptySince: number | undefined;
    let produced: { cpuMs: number; seconds: number } | undefined;
    const producerDone = lines.next().then((line) => (produced = JSON.parse(line ?? 'null')));
    for (;;) {
      await sleep(20);
      const now = performance.now();
      const unique = Number(await client.call('SCARD', 'bench:delivered'));
      if (unique !== delivered) [delivered, lastChange] = [unique, now];
      if (delivered >= count && produced) break;
      const inFlight = await pending(client);
      emptySince = inFlight === 0 && produced ? (emptySince ?? now) : undefined;
      if (emptySince !== undefined && now - emptySince > 2000) break;
      if (Date.now() > deadline)
        throw new Error(`Celery run timed out: ${delivered} of ${count} delivered, ${inFlight} messages in flight`);
      const dead = workers.find((worker) => worker.exitCode !== null);
      if (dead) throw new Error(`a Celery worker exited (${dead.exitCode}): ${stderrOf(dead)}`);
      if (producer.exitCode !== null && producer.exitCode !== 0)
        throw new Error(`the producer failed (exit code ${producer.exitCode}): ${stderrOf(producer)}`);
    }
    const seconds = (lastChange - started) / 1000;
    const cpuMs = tree() - cpuBefore;
    const rolesAfter = roles();
    await producerDone;

    // Let anything still in flight (duplicates) land before counting them.
    await until(deadline, 'the pipeline did not drain', async () =>
      (await pending(client!)) === 0 ? true : undefined,
    );
    const deliveries = Number(await client.call('GET', 'bench:deliveries'));
    const unique = Number(await client.call('SCARD', 'bench:delivered'));
    const perOrder = (ms: number) => Number((ms / count).toFixed(3));
    const latencies = ((await client.call('LRANGE', 'bench:latency-ms', '0', '-1')) as string[])
      .map(Number)
      .sort((a, b) => a - b);
    return {
      orders: count,
      chaos,
      seconds: Number(seconds.toFixed(2)),
      ordersPerSecond: Math.round(unique / seconds),
      cpuMsPerOrder: Number((cpuMs / count).toFixed(3)),
      cpuMsPerOrderWithProducer: Number(((cpuMs + (produced?.cpuMs ?? 0)) / count).toFixed(3)),
      p50Ms: Math.round(percentile(latencies, 0.5)),
      p99Ms: Math.round(percentile(latencies, 0.99)),
      delivered: unique,
      duplicates: deliveries - unique,
      lost: count - unique,
      cpuMsPerOrderBy: {
        redis: perOrder(rolesAfter.redis - rolesBefore.redis),
        workerMain: perOrder(rolesAfter.workerMain - rolesBefore.workerMain),
        pool: perOrder(rolesAfter.pool - rolesBefore.pool),
        producer: perOrder(produced?.cpuMs ?? 0),
      },
      enqueueSeconds: Number((produced?.seconds ?? 0).toFixed(2)),
      settings,
    };
  } finally {
    client?.close();
    // The worker first (a warm shutdown), then the producer and redis; each killed if it lingers.
    for (const child of children.reverse()) await stop(child);
  }
}

/** Messages waiting in the six queues plus delivered-but-unacknowledged ones (incl. retry ETAs). */
async function pending(client: Redis): Promise<number> {
  const replies = await client.pipeline([...QUEUES.map((q) => ['LLEN', q]), ['HLEN', 'unacked']]);
  return replies.reduce<number>((sum, n) => sum + Number(n), 0);
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number);
}

const stderrTails = new WeakMap<ChildProcess, string>();

/** Children not yet exited: killed (whole process groups) if this process exits first. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-(child.pid as number), signal);
  } catch {
    // Already gone.
  }
}

/** The last lines a child wrote to stderr (kept for error messages; a healthy run prints nothing). */
function stderrOf(child: ChildProcess): string {
  return (stderrTails.get(child) ?? '').trim().split('\n').slice(-8).join('\n') || '(no output)';
}

function start(
  command: string,
  args: string[],
  env: Record<string, string>,
  stdin: 'ignore' | 'pipe' = 'ignore',
): ChildProcess {
  // Own process group, so stopping it also reaches the prefork pool's processes.
  const child = spawn(command, args, {
    cwd: ROOT,
    env,
    detached: true,
    stdio: [stdin, stdin === 'pipe' ? 'pipe' : 'ignore', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) killGroup(c, 'SIGKILL');
    });
  }
  child.on('error', (error) => stderrTails.set(child, `${stderrTails.get(child) ?? ''}${error.message}\n`));
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) =>
    stderrTails.set(child, ((stderrTails.get(child) ?? '') + chunk).slice(-4000)),
  );
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (sig: NodeJS.Signals) => killGroup(child, sig);
  signal('SIGTERM');
  if (await Promise.race([exited.then(() => true), sleep(10_000, false).then(() => false)])) {
    signal('SIGKILL'); // Stragglers of the group (pool processes) if any.
    return;
  }
  signal('SIGKILL');
  await Promise.race([exited, sleep(5_000, false)]);
}

async function until<T>(
  deadline: number,
  message: string,
  probe: () => Promise<T | undefined>,
  watch: ChildProcess[] = [],
): Promise<T> {
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    const dead = watch.find((c) => c.exitCode !== null);
    if (dead) throw new Error(`${message}: it exited with ${dead.exitCode}: ${stderrOf(dead)}`);
    if (Date.now() > deadline) throw new Error(`${message} in time`);
    await sleep(50);
  }
}

function lineReader(child: ChildProcess): { next(): Promise<string | undefined> } {
  const lines: string[] = [];
  const waiting: ((line: string | undefined) => void)[] = [];
  let buffer = '';
  let ended = false;
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    buffer += chunk;
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      const line = buffer.slice(0, i).trim();
      buffer = buffer.slice(i + 1);
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  child.stdout?.on('end', () => {
    ended = true;
    for (const waiter of waiting.splice(0)) waiter(undefined);
  });
  return {
    next: () =>
      lines.length > 0
        ? Promise.resolve(lines.shift())
        : ended
          ? Promise.resolve(undefined)
          : new Promise((resolve) => waiting.push(resolve)),
  };
}

/** A timer; `keepAlive: false` for the losing side of a race, so it never holds the process open. */
function sleep(ms: number, keepAlive = true): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (!keepAlive) timer.unref();
  });
}

type Reply = string | number | null | Reply[];

/** A minimal RESP2 client: enough to poll counters and queue lengths. */
class Redis {
  private buffer = Buffer.alloc(0);
  private readonly waiting: { resolve(reply: Reply): void; reject(error: Error): void }[] = [];

  private readonly socket: Socket;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (data) => {
      this.buffer = Buffer.concat([this.buffer, data]);
      for (;;) {
        const parsed = parse(this.buffer, 0);
        if (!parsed) break;
        this.buffer = this.buffer.subarray(parsed.end);
        const waiter = this.waiting.shift();
        if (parsed.value instanceof Error) waiter?.reject(parsed.value);
        else waiter?.resolve(parsed.value);
      }
    });
    socket.on('error', (error) => {
      for (const waiter of this.waiting.splice(0)) waiter.reject(error);
    });
  }

  static connect(port: number): Promise<Redis> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(new Redis(socket)));
      socket.once('error', reject);
    });
  }

  call(...args: string[]): Promise<Reply> {
    return this.pipeline([args]).then((replies) => replies[0] as Reply);
  }

  pipeline(commands: string[][]): Promise<Reply[]> {
    const replies = commands.map(() => new Promise<Reply>((resolve, reject) => this.waiting.push({ resolve, reject })));
    this.socket.write(commands.map(encode).join(''));
    return Promise.all(replies);
  }

  close(): void {
    this.socket.destroy();
  }
}

function encode(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

function parse(buffer: Buffer, start: number): { value: Reply | Error; end: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', start);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[start] as number);
  const line = buffer.toString('utf8', start + 1, lineEnd);
  const next = lineEnd + 2;
  if (type === '+') return { value: line, end: next };
  if (type === '-') return { value: new Error(`redis: ${line}`), end: next };
  if (type === ':') return { value: Number(line), end: next };
  if (type === '$') {
    const length = Number(line);
    if (length < 0) return { value: null, end: next };
    if (buffer.length < next + length + 2) return undefined;
    return { value: buffer.toString('utf8', next, next + length), end: next + length + 2 };
  }
  if (type === '*') {
    const length = Number(line);
    if (length < 0) return { value: null, end: next };
    const items: Reply[] = [];
    let at = next;
    for (let i = 0; i < length; i++) {
      const item = parse(buffer, at);
      if (!item) return undefined;
      items.push(item.value instanceof Error ? null : item.value);
      at = item.end;
    }
    return { value: items, end: at };
  }
  throw new Error(`redis: unexpected reply type ${JSON.stringify(type)}`);
}

function parseArgs(argv: string[]): CeleryOptions & { runs: number } {
  const options: CeleryOptions & { runs: number } = { runs: 1 };
  const count = (flag: string, value: string, min: number): number => {
    const n = Number(value);
    return Number.isInteger(n) && n >= min ? n : usageError(`${flag} must be a whole number ≥ ${min}, got "${value}"`);
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const value = argv[i + 1];
    if (value === undefined) usageError(`${flag} needs a value`);
    i++;
    if (flag === '--orders') options.orders = count(flag, value, 1);
    else if (flag === '--chaos')
      options.chaos =
        Number(value) >= 0 && Number(value) < 1
          ? Number(value)
          : usageError(`--chaos must be a probability in [0, 1), got "${value}"`);
    else if (flag === '--runs') options.runs = count(flag, value, 1);
    else if (flag === '--prefetch') options.prefetch = count(flag, value, 1);
    else if (flag === '--concurrency') options.concurrency = count(flag, value, 1);
    else if (flag === '--nodes') options.nodes = count(flag, value, 1);
    else if (flag === '--serializer')
      options.serializer =
        value === 'pickle' || value === 'json'
          ? value
          : usageError(`--serializer must be json or pickle, got "${value}"`);
    else if (flag === '--acks-late') options.acksLate = value !== '0';
    else if (flag === '--events') options.events = value !== '0';
    else if (flag === '--results') options.results = value !== '0';
    else
      usageError(
        `unknown option ${flag}; options: --orders N --chaos P --runs N --prefetch N --concurrency N --nodes N --serializer json|pickle --acks-late 1|0 --events 0|1 --results 0|1`,
      );
  }
  return options;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // Interrupted: exit through process.exit so the children's process groups are killed too.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  const { runs, ...options } = parseArgs(process.argv.slice(2));
  for (let run = 0; run < runs; run++) console.log(JSON.stringify(await runCelery(options), null, 2));
}
