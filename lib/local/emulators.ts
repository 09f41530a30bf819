/**
 * Embedded AWS emulators: fauxqs for SQS and dynalite for DynamoDB, both on 127.0.0.1 only.
 * The handlers reach them through the real AWS SDK clients — only the endpoint differs.
 */
import type { AddressInfo, Server } from 'node:net';
import { createRequire } from 'node:module';
import { buildApp } from 'fauxqs';

const require = createRequire(import.meta.url);
// dynalite is CommonJS with a default-function export.
const dynalite = require('dynalite') as (options: { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number; path?: string }) => Server;

export interface RunningEmulator {
  /** e.g. http://127.0.0.1:40123 */
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** The loopback address every local listener binds to. */
export const LOOPBACK = '127.0.0.1';

/**
 * Starts an in-memory SQS emulator (fauxqs) on 127.0.0.1. fauxqs's own `startFauxqs` listens on
 * 0.0.0.0 whatever it is told, so the app is built and bound here.
 *
 * @example
 * const sqs = await startSqsEmulator();
 * new SQSClient({ endpoint: sqs.endpoint });
 */
export async function startSqsEmulator(options: { port?: number; region?: string } = {}): Promise<RunningEmulator> {
  const app = buildApp({ logger: false, ...(options.region ? { defaultRegion: options.region } : {}) });
  const address = await app.listen({ host: LOOPBACK, port: options.port ?? 0 });
  const port = Number(new URL(address).port);
  return { endpoint: `http://${LOOPBACK}:${port}`, port, stop: () => app.close() };
}

/**
 * Starts a DynamoDB emulator (dynalite) on 127.0.0.1; in memory unless `path` names a LevelDB directory.
 *
 * @example
 * const dynamo = await startDynamoEmulator();
 * new DynamoDBClient({ endpoint: dynamo.endpoint });
 */
export async function startDynamoEmulator(options: { port?: number; path?: string } = {}): Promise<RunningEmulator> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(options.path ? { path: options.path } : {}) });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://${LOOPBACK}:${port}`,
    port,
    stop: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
