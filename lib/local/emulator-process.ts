/**
 * Runs the SQS and DynamoDB emulators in a child process (emulator-host.ts), so that they and the
 * handlers each get their own event loop (and core), and the emulators can be durable: with a
 * `dataDir`, queued messages, queues and table items survive a restart, even kill -9.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { QueueChaos } from '../runtime/chaos.ts';
import type { HostToParent, ParentToHost } from './emulator-host.ts';

export interface EmulatorProcess {
  readonly endpoints: { sqs: string; dynamodb: string };
  readonly pid: number;
  /** CPU time (µs, since the host started) and resident memory of the host process. */
  cpuUsage(): Promise<{ user: number; system: number; rssBytes: number }>;
  /** Sets the SQS emulator's `duplicate` / `reorder` chaos per queue name; rejects naming an unknown queue. */
  setQueueChaos(queues: Record<string, QueueChaos>): Promise<void>;
  /** Graceful shutdown (closes servers and stores), SIGKILL if that takes too long. Idempotent. */
  stop(): Promise<void>;
  /** resolves when the process exits for any reason */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
}

export interface EmulatorProcessOptions {
  /** Durable state under `<dataDir>/sqs` and `<dataDir>/dynamodb`; in memory when absent. */
  dataDir?: string;
  /** Region of the emulated resources' ARNs and queue URLs. */
  region?: string;
  /** Default 15 s. */
  startTimeoutMs?: number;
  /** Listen on these ports (to come back on the same endpoints after a restart); any free ones when absent. */
  ports?: { sqs?: number; dynamodb?: number };
}

const HOST_ENTRY = new URL('./emulator-host.ts', import.meta.url);
const STOP_TIMEOUT_MS = 10_000;

/**
 * Forks the emulator host and resolves once both emulators listen on 127.0.0.1.
 *
 * @example
 * const emulators = await startEmulatorProcess({ dataDir: '.conveyor/data' });
 * new SQSClient({ endpoint: emulators.endpoints.sqs });
 * await emulators.stop();
 */
export async function startEmulatorProcess(options: EmulatorProcessOptions = {}): Promise<EmulatorProcess> {
  const where = options.dataDir ? `with data directory ${options.dataDir}` : 'in memory';
  const child = forkHost(options);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let ready: HostReady;
  try {
    ready = await hostReady(child, exited, where, options.startTimeoutMs ?? 15_000);
  } catch (error) {
    await stopChild(child, exited, 2_000);
    throw error;
  }
  const request = hostChannel(child, exited);
  let stopping: Promise<void> | undefined;
  return {
    endpoints: { sqs: ready.sqs, dynamodb: ready.dynamodb },
    pid: ready.pid,
    exited,
    async cpuUsage() {
      const answer = (await request({ type: 'cpu' })) as Extract<HostToParent, { type: 'cpu' }>;
      return { user: answer.usage.user, system: answer.usage.system, rssBytes: answer.memory };
    },
    async setQueueChaos(queues) {
      const answer = (await request({ type: 'chaos', queues })) as Extract<HostToParent, { type: 'chaos' }>;
      if (answer.error !== undefined) throw new Error(`the emulator host refused the queue chaos: ${answer.error}`);
    },
    stop() {
      stopping ??= stopChild(child, exited, STOP_TIMEOUT_MS);
      return stopping;
    },
  };
}

type HostReady = Extract<HostToParent, { type: 'ready' }>;

function forkHost(options: EmulatorProcessOptions): ChildProcess {
  const settings = JSON.stringify({ dataDir: options.dataDir, region: options.region, ports: options.ports });
  return fork(HOST_ENTRY, [settings], {
    execPath: process.execPath,
    execArgv: hostExecArgv(process.execArgv),
    // No stdin, and stdout discarded: the runtime owns the terminal. The host's errors go to stderr.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    serialization: 'json',
  });
}

/** The host's `ready` message — or why it never came: an error it reported, its exit, a failed spawn, the time limit. */
function hostReady(
  child: ChildProcess,
  exited: Promise<{ code: number | null; signal: string | null }>,
  where: string,
  timeoutMs: number,
): Promise<HostReady> {
  let timer: NodeJS.Timeout | undefined;
  return new Promise<HostReady>((resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the emulator host (${where}) did not become ready within ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.on('message', (message: HostToParent) => {
      if (message.type === 'ready') resolve(message);
      else if (message.type === 'error')
        reject(new Error(`the emulator host (${where}) failed to start: ${message.message}`));
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`the emulator host (${where}) exited before it was ready (code ${code}, signal ${signal})`)),
    );
    // A failed spawn emits 'error' and may never emit 'exit'.
    child.once('error', (error) =>
      reject(new Error(`cannot start the emulator host (${where}): ${error.message}`, { cause: error })),
    );
  }).finally(() => {
    clearTimeout(timer);
    child.removeAllListeners('message');
  });
}

/** Request → answer over the IPC channel; the host answers in the order it was asked. */
function hostChannel(child: ChildProcess, exited: Promise<unknown>): (message: ParentToHost) => Promise<HostToParent> {
  const pending: { resolve(message: HostToParent): void; reject(error: Error): void }[] = [];
  child.on('message', (message: HostToParent) => {
    if (message.type === 'cpu' || message.type === 'chaos') pending.shift()?.resolve(message);
  });
  void exited.then(() => {
    for (const request of pending.splice(0)) request.reject(new Error('the emulator host has exited'));
  });
  return (message) =>
    new Promise((resolve, reject) => {
      if (!child.connected) return reject(new Error('the emulator host has exited'));
      const entry = { resolve, reject };
      pending.push(entry);
      child.send(message, (error) => {
        if (!error) return;
        pending.splice(pending.indexOf(entry), 1);
        reject(error);
      });
    });
}

/** Asks for a graceful shutdown; SIGKILL after `timeoutMs`. Resolves once the process is gone. */
async function stopChild(child: ChildProcess, exited: Promise<unknown>, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  if (child.connected) child.send({ type: 'shutdown' } satisfies ParentToHost, () => undefined);
  else child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/**
 * The parent's Node options minus those that must not be repeated in the host: inspector flags
 * (the port would clash; attach to the host on purpose if needed), `-e`/`-p` code and watch mode. Warnings are silenced: on Node 22, node:sqlite and type stripping are experimental
 * and would say so on the runtime's terminal.
 */
export function hostExecArgv(parentExecArgv: readonly string[]): string[] {
  const withValue = new Set([
    '-e',
    '--eval',
    '-p',
    '--print',
    '--inspect-port',
    '--debug-port',
    '--inspect-publish-uid',
    '--watch-path',
  ]);
  const dropped =
    /^--(?:inspect|inspect-brk|inspect-wait|inspect-port|inspect-publish-uid|debug-port|eval|print|watch|watch-path|watch-preserve-output)(?:=|$)/;
  const kept: string[] = [];
  for (let i = 0; i < parentExecArgv.length; i++) {
    const arg = parentExecArgv[i] as string;
    if (withValue.has(arg)) i++;
    else if (!dropped.test(arg)) kept.push(arg);
  }
  return [...kept, '--disable-warning=ExperimentalWarning'];
}
