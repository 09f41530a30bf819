/**
 * Child-process entry that runs the SQS and DynamoDB emulators off the handlers' event loop.
 * Forked by emulator-process.ts with an IPC channel and one argument, JSON `{ dataDir?, region?, ports? }`:
 * in memory, or durable under `<dataDir>/sqs` (SQLite) and `<dataDir>/dynamodb` (LevelDB).
 *
 * Protocol (IPC messages):
 *   host → parent  { type: 'ready', sqs, dynamodb, pid } | { type: 'error', message } (then exit 1)
 *   parent → host  { type: 'cpu' }      → { type: 'cpu', usage: process.cpuUsage(), memory: rss bytes }
 *                  { type: 'chaos', queues: { <queue name>: { duplicate, reorder } } }
 *                                       → { type: 'chaos', error?: message } (the SQS emulator's queue chaos, replaced)
 *                  { type: 'shutdown' } → closes servers and stores, exits 0
 * Requests are answered in the order they came.
 * The host exits by itself when the channel closes (the parent died, even by kill -9).
 * It writes nothing to stdout — the runtime owns the terminal — and only errors to stderr.
 */
import { join } from 'node:path';
import type { QueueChaos } from '../runtime/chaos.ts';
import { startDynamoEmulator, startSqsEmulator, type RunningEmulator, type SqsEmulator } from './emulators.ts';

export interface EmulatorHostOptions {
  readonly dataDir?: string;
  readonly region?: string;
  /** Ports to listen on (a restart keeps its endpoints); any free port when absent. */
  readonly ports?: { readonly sqs?: number; readonly dynamodb?: number };
}

export type HostToParent =
  | { type: 'ready'; sqs: string; dynamodb: string; pid: number }
  | { type: 'error'; message: string }
  | { type: 'cpu'; usage: NodeJS.CpuUsage; memory: number }
  | { type: 'chaos'; error?: string };

export type ParentToHost =
  | { type: 'cpu' }
  | { type: 'chaos'; queues: Record<string, QueueChaos> }
  | { type: 'shutdown' };

/** How long closing may take before the host exits anyway. */
const CLOSE_TIMEOUT_MS = 5_000;

const running: RunningEmulator[] = [];
let sqsEmulator: SqsEmulator | undefined;
let closing: Promise<void> | undefined;

/** Resolves once the message is handed over (or could not be: the parent is gone). */
function send(message: HostToParent): Promise<boolean> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve(false);
    process.send(message, undefined, undefined, (error) => resolve(!error));
  });
}

/** Closes whatever started (servers, then stores — each emulator's stop does both), then exits. */
function shutdown(code: number): Promise<void> {
  closing ??= (async () => {
    const timer = setTimeout(() => {
      process.stderr.write(`emulator host: closing took over ${CLOSE_TIMEOUT_MS} ms, exiting\n`);
      process.exit(code);
    }, CLOSE_TIMEOUT_MS);
    const results = await Promise.allSettled(running.map((emulator) => emulator.stop()));
    for (const result of results) {
      if (result.status === 'rejected')
        process.stderr.write(`emulator host: error while closing: ${String(result.reason)}\n`);
    }
    clearTimeout(timer);
    if (process.connected) process.disconnect();
    process.exit(code);
  })();
  return closing;
}

async function start(options: EmulatorHostOptions): Promise<void> {
  // dynalite takes the region of its ARNs from the environment.
  if (options.region) process.env.AWS_REGION = options.region;
  // DynamoDB first: opening LevelDB takes its lock, so a second host on the same data directory
  // fails here, before it touches the SQS store (SQLite would let two processes share it).
  running.push(
    await startDynamoEmulator({
      ...(options.dataDir ? { path: join(options.dataDir, 'dynamodb') } : {}),
      ...(options.ports?.dynamodb ? { port: options.ports.dynamodb } : {}),
    }),
  );
  sqsEmulator = await startSqsEmulator({
    ...(options.region ? { region: options.region } : {}),
    ...(options.dataDir ? { dataDir: join(options.dataDir, 'sqs') } : {}),
    ...(options.ports?.sqs ? { port: options.ports.sqs } : {}),
  });
  running.push(sqsEmulator);
}

/** Sets the SQS emulator's queue chaos; the answer carries the error, if any. */
function setQueueChaos(queues: Record<string, QueueChaos>): HostToParent {
  try {
    if (!sqsEmulator) throw new Error('the SQS emulator is not running');
    sqsEmulator.setQueueChaos(queues);
    return { type: 'chaos' };
  } catch (error) {
    return { type: 'chaos', error: (error as Error).message };
  }
}

function main(): void {
  if (!process.send) {
    process.stderr.write('emulator host: must be started with an IPC channel (child_process.fork)\n');
    process.exit(2);
  }
  const options = JSON.parse(process.argv[2] ?? '{}') as EmulatorHostOptions;

  // The parent died or closed the channel: nobody can use the emulators any more.
  process.on('disconnect', () => void shutdown(0));
  // Ctrl-C reaches the whole process group; the parent decides when the emulators stop (it
  // drains its handlers first), so the host ignores SIGINT. An explicit SIGTERM/SIGHUP stops it.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => void shutdown(0));
  process.on('SIGHUP', () => void shutdown(0));

  process.on('message', (message: ParentToHost) => {
    if (message.type === 'cpu')
      void send({ type: 'cpu', usage: process.cpuUsage(), memory: process.memoryUsage().rss });
    else if (message.type === 'chaos') void send(setQueueChaos(message.queues));
    else if (message.type === 'shutdown') void shutdown(0);
  });

  start(options).then(
    () => {
      const [dynamodb, sqs] = running as [RunningEmulator, RunningEmulator];
      if (!closing) void send({ type: 'ready', sqs: sqs.endpoint, dynamodb: dynamodb.endpoint, pid: process.pid });
    },
    async (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      // The parent reports it; stderr only when it cannot be told.
      if (!(await send({ type: 'error', message }))) process.stderr.write(`emulator host: ${message}\n`);
      await shutdown(1);
    },
  );
}

main();
