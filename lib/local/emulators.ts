/**
 * Embedded AWS emulators: fauxqs for SQS and dynalite for DynamoDB, both on 127.0.0.1 only.
 * The handlers reach them through the real AWS SDK clients — only the endpoint differs.
 * In memory by default; durable when given a directory (SQLite for SQS, LevelDB for DynamoDB).
 */
import type { AddressInfo, Server } from 'node:net';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { buildApp } from 'fauxqs';
import type { QueueChaos } from '../runtime/chaos.ts';
import { END_LONG_POLLS_PATH, QUEUE_AGES_PATH, REQUEST_COUNTS_PATH, type RequestCounts } from './emulator-protocol.ts';
import {
  fauxqsInternals,
  type BuildAppStores,
  type FauxqsPersistenceManager,
  type FauxqsSqsStore,
} from './fauxqs-internals.ts';
import { requestConnection, SqsFidelity, type SqsFidelityOptions } from './sqs-fidelity.ts';

const require = createRequire(import.meta.url);
// dynalite is CommonJS with a default-function export.
const dynalite = require('dynalite') as (options: {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
  path?: string;
}) => Server;

export interface RunningEmulator {
  /** e.g. http://127.0.0.1:40123 */
  readonly endpoint: string;
  readonly port: number;
  /** Stops listening and, when persistent, closes the store (everything acknowledged is already on disk). */
  stop(): Promise<void>;
}

/** The loopback address every local listener binds to. */
export const LOOPBACK = '127.0.0.1';

export interface SqsEmulator extends RunningEmulator {
  /** Sets the `duplicate` / `reorder` chaos per queue name (see sqs-fidelity.ts); throws for an unknown queue. */
  setQueueChaos(chaos: Readonly<Record<string, QueueChaos>>): void;
}

export interface SqsEmulatorOptions extends SqsFidelityOptions {
  readonly port?: number;
  readonly region?: string;
  /** Durable in SQLite under this directory; in memory when absent. */
  readonly dataDir?: string;
}

/**
 * Starts an SQS emulator (fauxqs) on 127.0.0.1: in memory, or persistent in SQLite under
 * `dataDir` (created if missing), made to behave like SQS where fauxqs does not (sqs-fidelity.ts:
 * retention, chaos on standard queues, abandoned long polls). fauxqs's own `startFauxqs` listens
 * on 0.0.0.0 whatever it is told, so the app is built and bound here.
 *
 * @example
 * const sqs = await startSqsEmulator({ dataDir: '.conveyor/sqs' });
 * new SQSClient({ endpoint: sqs.endpoint });
 */
export async function startSqsEmulator(options: SqsEmulatorOptions = {}): Promise<SqsEmulator> {
  const region = options.region ? { defaultRegion: options.region } : {};
  const fidelity = new SqsFidelity(options);
  let persistent: Awaited<ReturnType<typeof openPersistentSqsStores>> | undefined;
  let stores: BuildAppStores;
  try {
    persistent = options.dataDir ? await openPersistentSqsStores(options.dataDir, fidelity) : undefined;
    stores = persistent?.stores ?? (await inMemorySqsStores(fidelity));
  } catch (error) {
    fidelity.close();
    throw error;
  }
  let app: ReturnType<typeof buildApp>;
  try {
    app = buildApp({ logger: false, ...region, stores });
  } catch (error) {
    fidelity.close();
    persistent?.close();
    throw error;
  }
  // Each request runs with its connection at hand, so a receive can tell that its caller is gone.
  app.addHook('onRequest', (request, _reply, done) => {
    count(counts.sqs, request.headers['x-amz-target']);
    requestConnection.run(request.raw.socket, done);
  });
  app.addHook('onSend', (request, _reply, payload, done) => {
    if (
      request.headers['x-amz-target'] === 'AmazonSQS.ReceiveMessage' &&
      typeof payload === 'string' &&
      !payload.includes('"Messages"')
    )
      counts.emptyReceives++;
    done(null, payload);
  });
  app.get(QUEUE_AGES_PATH, async () => oldestMessages(stores.sqsStore as unknown as FauxqsSqsStore));
  app.get(
    REQUEST_COUNTS_PATH,
    async (): Promise<RequestCounts> => ({
      sqs: { ...counts.sqs },
      dynamodb: { ...counts.dynamodb },
      emptyReceives: counts.emptyReceives,
      dynamodbItems: { read: counts.itemsRead, written: counts.itemsWritten },
    }),
  );
  app.post(END_LONG_POLLS_PATH, async (request, reply) => {
    const queue = (request.query as Record<string, unknown>).queue;
    const found = typeof queue === 'string' && fidelity.endLongPolls(queue);
    return found ? reply.code(204).send() : reply.code(404).send({ error: `no queue named ${JSON.stringify(queue)}` });
  });
  // buildApp's own preClose hook (registered first) releases long-polling receivers; the store
  // closes after it. Every operation is already committed, so closing loses nothing.
  app.addHook('preClose', () => {
    fidelity.close();
    persistent?.close();
  });
  let address: string;
  try {
    address = await app.listen({ host: LOOPBACK, port: options.port ?? 0 });
  } catch (error) {
    await app.close();
    throw error;
  }
  const port = Number(new URL(address).port);
  return {
    endpoint: `http://${LOOPBACK}:${port}`,
    port,
    stop: () => app.close(),
    setQueueChaos: (chaos) => fidelity.setQueueChaos(chaos),
  };
}

/**
 * Starts a DynamoDB emulator (dynalite) on 127.0.0.1; in memory unless `path` names a LevelDB
 * directory (created if missing). Rejects if that store cannot be opened (e.g. another process
 * holds its lock).
 *
 * @example
 * const dynamo = await startDynamoEmulator();
 * new DynamoDBClient({ endpoint: dynamo.endpoint });
 */
export async function startDynamoEmulator(options: { port?: number; path?: string } = {}): Promise<RunningEmulator> {
  if (options.path) await checkLevelDb(options.path);
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.path ? { path: options.path } : {}),
  });
  server.prependListener(
    'request',
    (request: NodeJS.ReadableStream & { headers: Record<string, string | string[] | undefined> }) => {
      const target = request.headers['x-amz-target'];
      count(counts.dynamodb, target);
      const action = typeof target === 'string' ? target.slice(target.lastIndexOf('.') + 1) : '';
      if (action === 'GetItem') counts.itemsRead++;
      else if (['PutItem', 'UpdateItem', 'DeleteItem'].includes(action)) counts.itemsWritten++;
      else if (action === 'BatchGetItem' || action === 'BatchWriteItem') {
        // Batch calls are billed per item: count them from the (small) body, alongside dynalite.
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
              RequestItems?: Record<string, { Keys?: unknown[] } | unknown[]>;
            };
            for (const items of Object.values(body.RequestItems ?? {})) {
              if (action === 'BatchGetItem') counts.itemsRead += (items as { Keys?: unknown[] }).Keys?.length ?? 0;
              else counts.itemsWritten += Array.isArray(items) ? items.length : 0;
            }
          } catch {
            // dynalite answers a malformed request itself.
          }
        });
      }
    },
  );
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
    stop: () =>
      new Promise<void>((resolve, reject) => {
        // dynalite's close also closes its store, once pending operations are done.
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive connections of idle SDK clients would otherwise hold the close open.
        (server as unknown as { closeIdleConnections(): void }).closeIdleConnections();
      }),
  };
}

/**
 * Opens and closes the LevelDB store once before dynalite does. dynalite opens it lazily and
 * does not report a failure: the first request then dies on an unhandled stream error.
 * Writes are acknowledged once LevelDB has written them to its log (sync: false): an
 * acknowledged write survives kill -9 of the process, not a power loss.
 */
async function checkLevelDb(path: string): Promise<void> {
  // dynalite's own `level` (a dependency of dynalite, not of this project).
  const { Level } = createRequire(require.resolve('dynalite'))('level') as {
    Level: new (path: string) => { open(): Promise<void>; close(): Promise<void> };
  };
  try {
    mkdirSync(path, { recursive: true }); // LevelDB creates only the last directory of a path
    const db = new Level(path);
    await db.open();
    await db.close();
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause;
    throw new Error(
      `cannot open the DynamoDB store in ${path}: ${(error as Error).message}${cause ? ` (${cause.message})` : ''}`,
      { cause: error },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Request counts: every AWS API call the emulators of this process served, by action.
// ---------------------------------------------------------------------------------------------

const counts = {
  sqs: {} as Record<string, number>,
  dynamodb: {} as Record<string, number>,
  emptyReceives: 0,
  itemsRead: 0,
  itemsWritten: 0,
};

/** `AmazonSQS.SendMessageBatch` / `DynamoDB_20120810.UpdateItem` → counted under the action name. */
function count(into: Record<string, number>, target: string | string[] | undefined): void {
  if (typeof target !== 'string') return;
  const action = target.slice(target.lastIndexOf('.') + 1);
  into[action] = (into[action] ?? 0) + 1;
}

// ---------------------------------------------------------------------------------------------
// Age of the oldest message.
//
// CloudWatch's ApproximateAgeOfOldestMessage (what the age alarms watch) is not a queue attribute
// SQS returns; locally the emulator answers it from its own store: per queue, the send time of
// the oldest message not yet deleted — ready, in flight or delayed.
// ---------------------------------------------------------------------------------------------

function oldestMessages(store: FauxqsSqsStore): Record<string, number | null> {
  const oldest: Record<string, number | null> = {};
  for (const queue of store.allQueues()) {
    let min = Infinity;
    for (const m of queue.messages ?? []) min = Math.min(min, m.sentTimestamp);
    for (const m of queue.delayedMessages ?? []) min = Math.min(min, m.sentTimestamp);
    for (const entry of queue.inflightMessages?.values() ?? []) min = Math.min(min, entry.message.sentTimestamp);
    for (const group of queue.fifoMessages?.values() ?? []) for (const m of group) min = Math.min(min, m.sentTimestamp);
    oldest[queue.name] = Number.isFinite(min) ? min : null;
  }
  return oldest;
}

async function inMemorySqsStores(fidelity: SqsFidelity): Promise<BuildAppStores> {
  const { SqsStore, SnsStore, S3Store } = await fauxqsInternals();
  const sqsStore = new SqsStore();
  await fidelity.attach(sqsStore);
  return { sqsStore, snsStore: new SnsStore(), s3Store: new S3Store() } as unknown as BuildAppStores;
}

// ---------------------------------------------------------------------------------------------
// fauxqs persistence, wired by hand.
//
// fauxqs 2.4 persists only through `startFauxqs({ dataDir })`, which always listens on 0.0.0.0;
// `buildApp` binds where asked but takes ready-made stores. So this does what startFauxqs does
// (fauxqs 2.4.1, dist/app.js) with its internal modules: create the PersistenceManager, load the
// saved state into fresh stores BEFORE attaching the manager (loading through an attached
// manager would re-insert queues with INSERT OR REPLACE, whose ON DELETE CASCADE drops their
// messages), then attach it to the stores and to every loaded queue, and close it on app close.
// The modules are not in the package's "exports", which restrict bare specifiers only: they are
// imported by file URL next to the resolved entry (fauxqs-internals.ts). This depends on
// internals, hence fauxqs is pinned to exactly 2.4.1 in package.json; re-read startFauxqs before upgrading.
//
// Durability (read from dist/persistence.js and dist/sqs/sqsStore.js): every state change
// (enqueue, receive → in flight, delete, visibility change, queue attributes and tags) runs one
// prepared statement synchronously, in SQLite's autocommit mode, inside the request handler and
// before the response is written: an acknowledged operation is committed. The database is in WAL
// mode; a commit has written its WAL frames to the file (the OS page cache) when it returns, so
// it survives kill -9 of the process. node:sqlite's default synchronous=FULL adds an fsync per
// commit, which only helps against an OS crash or power loss; it halves SendMessageBatch
// throughput (~5.6k → ~11k msg/s here) and triples the host's CPU per message. The DynamoDB side
// (LevelDB, sync: false) survives kill -9 but not a power loss either, so the SQS store is set to
// synchronous=NORMAL: the same guarantee for both, and the database stays consistent in all cases.
// A SendMessageBatch is one commit per entry, not one for the batch: a crash in the middle of a
// batch can keep some entries of a batch the client never saw acknowledged, and a retry then
// duplicates them — at-least-once delivery, as with SQS itself.
// ---------------------------------------------------------------------------------------------

async function openPersistentSqsStores(
  dataDir: string,
  fidelity: SqsFidelity,
): Promise<{ stores: BuildAppStores; close(): void }> {
  const { PersistenceManager, SqsStore, SnsStore, S3Store } = await fauxqsInternals();
  let persistence: FauxqsPersistenceManager;
  try {
    persistence = new PersistenceManager(dataDir); // mkdir -p, opens <dataDir>/fauxqs.db (WAL)
  } catch (error) {
    throw new Error(`cannot open the SQS store in ${dataDir}: ${(error as Error).message}`, { cause: error });
  }
  try {
    // See "Durability" above: kill -9 safe without an fsync per operation, as dynalite's LevelDB.
    persistence.db.exec('PRAGMA synchronous = NORMAL');
    const sqsStore = new SqsStore();
    const snsStore = new SnsStore();
    const s3Store = new S3Store();
    await fidelity.attach(sqsStore); // before loading: it takes charge of every queue as it is created
    persistence.load(sqsStore, snsStore, s3Store);
    sqsStore.persistence = persistence;
    snsStore.persistence = persistence;
    s3Store.persistence = persistence;
    for (const queue of sqsStore.allQueues()) queue.persistence = persistence;

    // fauxqs 2.4.1 bug: ChangeMessageVisibility to 0 persists NULL into the NOT NULL receive
    // count, so the statement throws (HTTP 500) after the message has left the in-flight set:
    // it vanishes until restart. Clear only the in-flight columns, as the in-memory state does.
    const clearInflight = persistence.db.prepare(
      'UPDATE sqs_messages SET receipt_handle = NULL, visibility_deadline = NULL WHERE message_id = ?',
    );
    persistence.updateMessageReady = (messageId) => void clearInflight.run(messageId);

    let open = true;
    const close = () => {
      if (open) persistence.close();
      open = false;
    };
    return { stores: { sqsStore, snsStore, s3Store } as unknown as BuildAppStores, close };
  } catch (error) {
    persistence.close();
    throw new Error(`cannot load the SQS store in ${dataDir}: ${(error as Error).message}`, { cause: error });
  }
}
