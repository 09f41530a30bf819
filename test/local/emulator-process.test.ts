/**
 * The emulator host process: SQS and DynamoDB in a child process, in memory or durable in a data
 * directory (graceful restart and kill -9), gone when its parent dies, listening on 127.0.0.1 only.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  BatchGetItemCommand,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { hostExecArgv, startEmulatorProcess, type EmulatorProcess } from '../../lib/local/emulator-process.ts';
import { waitForTableActive } from '../../lib/local/provision.ts';

const REGION = 'us-east-1';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const root = mkdtempSync(join(tmpdir(), 'conveyor-emulator-process-'));
let dirs = 0;
const newDataDir = () => join(root, `data-${++dirs}`);

const started: EmulatorProcess[] = [];
const clients: { destroy(): void }[] = [];
async function start(dataDir?: string): Promise<EmulatorProcess> {
  const emulators = await startEmulatorProcess({ ...(dataDir ? { dataDir } : {}), region: REGION });
  started.push(emulators);
  return emulators;
}
function connect(emulators: EmulatorProcess): { sqs: SQSClient; dynamodb: DynamoDBClient } {
  const sqs = new SQSClient({ endpoint: emulators.endpoints.sqs, region: REGION, credentials });
  const dynamodb = new DynamoDBClient({ endpoint: emulators.endpoints.dynamodb, region: REGION, credentials });
  clients.push(sqs, dynamodb);
  return { sqs, dynamodb };
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await Promise.all(started.splice(0).map((emulators) => emulators.stop()));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** fauxqs's queue URLs name sqs.<region>.localhost (which does not resolve) and the port of the run that created the queue. */
async function queueUrl(
  sqs: SQSClient,
  endpoint: string,
  name: string,
  attributes?: Record<string, string>,
): Promise<string> {
  const { QueueUrl } = attributes
    ? await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))
    : await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
  return new URL(new URL(QueueUrl as string).pathname, endpoint).toString();
}

async function createTable(dynamodb: DynamoDBClient, name: string): Promise<void> {
  await dynamodb.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'orderId', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'orderId', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await waitForTableActive(dynamodb, name);
}

async function sendAll(sqs: SQSClient, url: string, bodies: string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    const { Failed = [] } = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: bodies.slice(i, i + 10).map((body, j) => ({ Id: String(j), MessageBody: body })),
      }),
    );
    expect(Failed).toEqual([]);
  }
}

/** Receives (and leaves in flight) everything visible. */
async function receiveAll(sqs: SQSClient, url: string): Promise<Message[]> {
  const messages: Message[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) return messages;
    messages.push(...Messages);
  }
}

async function itemCount(dynamodb: DynamoDBClient, table: string, ids: string[]): Promise<number> {
  let found = 0;
  for (let i = 0; i < ids.length; i += 100) {
    const { Responses } = await dynamodb.send(
      new BatchGetItemCommand({
        RequestItems: { [table]: { Keys: ids.slice(i, i + 100).map((id) => ({ orderId: { S: id } })) } },
      }),
    );
    found += Responses?.[table]?.length ?? 0;
  }
  return found;
}

const range = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

/** Listening TCP sockets of a process, from /proc: its socket inodes matched against /proc/net/tcp{,6}. */
function listeningSockets(pid: number): { address: string; port: number; family: 4 | 6 }[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match) inodes.add(match[1] as string);
    } catch {
      // closed meanwhile
    }
  }
  const sockets: { address: string; port: number; family: 4 | 6 }[] = [];
  for (const family of [4, 6] as const) {
    const lines = readFileSync(family === 4 ? '/proc/net/tcp' : '/proc/net/tcp6', 'utf8')
      .trim()
      .split('\n')
      .slice(1);
    for (const line of lines) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
      const fields = line.trim().split(/\s+/);
      const [local, state, inode] = [fields[1] as string, fields[3], fields[9] as string];
      if (state !== '0A' || !inodes.has(inode)) continue; // 0A = LISTEN
      const [hexAddress, hexPort] = local.split(':') as [string, string];
      sockets.push({ address: decodeAddress(hexAddress), port: parseInt(hexPort, 16), family });
    }
  }
  return sockets;
}

/** /proc/net/tcp prints addresses as 32-bit words in host (little-endian) order. */
function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g) as string[];
  const bytes = words.flatMap((word) => (word.match(/../g) as string[]).reverse().map((b) => parseInt(b, 16)));
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff)
    return `::ffff:${bytes.slice(12).join('.')}`;
  return bytes.every((b) => b === 0) ? '::' : bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('emulator process', () => {
  it('runs SQS and DynamoDB in memory, in another process, listening on 127.0.0.1 only', async () => {
    const emulators = await start();
    expect(emulators.pid).not.toBe(process.pid);
    const { sqs, dynamodb } = connect(emulators);

    const url = await queueUrl(sqs, emulators.endpoints.sqs, 'in-memory', {});
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'hello' }));
    expect((await receiveAll(sqs, url)).map((m) => m.Body)).toEqual(['hello']);

    await createTable(dynamodb, 'orders');
    await dynamodb.send(
      new PutItemCommand({ TableName: 'orders', Item: { orderId: { S: 'o-1' }, status: { S: 'picked' } } }),
    );
    const { Item } = await dynamodb.send(new GetItemCommand({ TableName: 'orders', Key: { orderId: { S: 'o-1' } } }));
    expect(Item?.status?.S).toBe('picked');

    const ports = [emulators.endpoints.sqs, emulators.endpoints.dynamodb]
      .map((endpoint) => Number(new URL(endpoint).port))
      .sort();
    const sockets = listeningSockets(emulators.pid);
    expect(sockets.map((s) => s.port).sort()).toEqual(ports);
    expect(sockets.every((s) => s.family === 4 && s.address === '127.0.0.1')).toBe(true);

    const cpu = await emulators.cpuUsage();
    expect(cpu.user + cpu.system).toBeGreaterThan(0);
    expect(cpu.rssBytes).toBeGreaterThan(10 * 1024 * 1024);

    await emulators.stop();
    expect(await emulators.exited).toEqual({ code: 0, signal: null });
    await emulators.stop(); // idempotent
  });

  it('keeps queues, their attributes, messages and items across a graceful restart', async () => {
    const dataDir = newDataDir();
    const bodies = range(30, 'graceful');
    const ids = range(20, 'order');
    let redrivePolicy: string;
    {
      const emulators = await start(dataDir);
      const { sqs, dynamodb } = connect(emulators);
      const dlqUrl = await queueUrl(sqs, emulators.endpoints.sqs, 'stage-dlq', {});
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }),
      );
      redrivePolicy = JSON.stringify({ deadLetterTargetArn: Attributes?.QueueArn, maxReceiveCount: 3 });
      const url = await queueUrl(sqs, emulators.endpoints.sqs, 'stage', {
        VisibilityTimeout: '45',
        RedrivePolicy: redrivePolicy,
      });
      await sendAll(sqs, url, bodies);
      // Acknowledged deletes are durable too: the first 10 must not come back.
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }));
      expect(Messages.map((m) => m.Body)).toEqual(bodies.slice(0, 10));
      const { Failed = [] } = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: url,
          Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
      expect(Failed).toEqual([]);
      // Attributes changed after creation are kept too.
      await sqs.send(new CreateQueueCommand({ QueueName: 'other', Attributes: { VisibilityTimeout: '5' } }));

      await createTable(dynamodb, 'orders');
      await Promise.all(
        ids.map((id) =>
          dynamodb.send(
            new PutItemCommand({ TableName: 'orders', Item: { orderId: { S: id }, status: { S: 'packed' } } }),
          ),
        ),
      );
      await emulators.stop();
      expect(await emulators.exited).toEqual({ code: 0, signal: null });
    }
    {
      const emulators = await start(dataDir);
      const { sqs, dynamodb } = connect(emulators);
      const url = await queueUrl(sqs, emulators.endpoints.sqs, 'stage');
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['VisibilityTimeout', 'RedrivePolicy'] }),
      );
      expect(Attributes?.VisibilityTimeout).toBe('45');
      expect(JSON.parse(Attributes?.RedrivePolicy as string)).toEqual(JSON.parse(redrivePolicy));
      const other = await queueUrl(sqs, emulators.endpoints.sqs, 'other');
      expect(
        (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: other, AttributeNames: ['VisibilityTimeout'] })))
          .Attributes?.VisibilityTimeout,
      ).toBe('5');

      expect((await receiveAll(sqs, url)).map((m) => m.Body).sort()).toEqual(bodies.slice(10).sort());
      expect(await itemCount(dynamodb, 'orders', ids)).toBe(ids.length);
      const { Item } = await dynamodb.send(
        new GetItemCommand({ TableName: 'orders', Key: { orderId: { S: 'order-7' } } }),
      );
      expect(Item?.status?.S).toBe('packed');
    }
  });

  it('loses no acknowledged message or item when the host is killed with SIGKILL', async () => {
    const dataDir = newDataDir();
    const bodies = range(200, 'kill');
    const ids = range(100, 'order');
    {
      const emulators = await start(dataDir);
      const { sqs, dynamodb } = connect(emulators);
      const url = await queueUrl(sqs, emulators.endpoints.sqs, 'stage', {});
      await createTable(dynamodb, 'orders');
      // Four concurrent senders and concurrent puts, then kill -9 right after the last acknowledgement.
      await Promise.all([
        ...[0, 1, 2, 3].map((k) =>
          sendAll(
            sqs,
            url,
            bodies.filter((_, i) => i % 4 === k),
          ),
        ),
        ...ids.map((id) => dynamodb.send(new PutItemCommand({ TableName: 'orders', Item: { orderId: { S: id } } }))),
      ]);
      process.kill(emulators.pid, 'SIGKILL');
      expect(await emulators.exited).toEqual({ code: null, signal: 'SIGKILL' });
    }
    {
      const emulators = await start(dataDir);
      const { sqs, dynamodb } = connect(emulators);
      const url = await queueUrl(sqs, emulators.endpoints.sqs, 'stage');
      const received = (await receiveAll(sqs, url)).map((m) => m.Body as string);
      expect(received.length).toBe(200);
      expect(new Set(received)).toEqual(new Set(bodies));
      expect(await itemCount(dynamodb, 'orders', ids)).toBe(ids.length);
    }
  });

  it('keeps a message made visible again with ChangeMessageVisibility 0 (persistent mode)', async () => {
    const dataDir = newDataDir();
    {
      const emulators = await start(dataDir);
      const { sqs } = connect(emulators);
      const url = await queueUrl(sqs, emulators.endpoints.sqs, 'retry', {});
      await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'again' }));
      const [first] = await receiveAll(sqs, url);
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: url,
          ReceiptHandle: first?.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      );
      const [second] = await receiveAll(sqs, url);
      expect(second?.Body).toBe('again');
      expect(second?.Attributes?.ApproximateReceiveCount).toBe('2');
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: url,
          ReceiptHandle: second?.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      );
      await emulators.stop();
    }
    const emulators = await start(dataDir);
    const { sqs } = connect(emulators);
    const [third] = await receiveAll(sqs, await queueUrl(sqs, emulators.endpoints.sqs, 'retry'));
    expect(third?.Body).toBe('again');
    expect(third?.Attributes?.ApproximateReceiveCount).toBe('3');
  });

  it('takes the queue chaos from its parent: a duplicate is a second delivery; an unknown queue is refused', async () => {
    const emulators = await start(newDataDir());
    const { sqs } = connect(emulators);
    const url = await queueUrl(sqs, emulators.endpoints.sqs, 'chaotic', { VisibilityTimeout: '300' });
    await expect(emulators.setQueueChaos({ nope: { duplicate: 1, reorder: 0 } })).rejects.toThrow(
      /no queue named "nope"/,
    );
    await emulators.setQueueChaos({ chaotic: { duplicate: 1, reorder: 0 } });
    await sendAll(sqs, url, ['once']);
    const deliveries = await receiveAll(sqs, url);
    const deadline = Date.now() + 10_000;
    while (deliveries.length < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      deliveries.push(...(await receiveAll(sqs, url)));
    }
    expect(deliveries.map((m) => m.Body)).toEqual(['once', 'once']);
    expect(new Set(deliveries.map((m) => m.MessageId)).size).toBe(2);
  });

  it('listens on 127.0.0.1 only in persistent mode too', async () => {
    const emulators = await start(newDataDir());
    const sockets = listeningSockets(emulators.pid);
    expect(sockets).toHaveLength(2);
    expect(sockets.filter((s) => s.family !== 4 || s.address !== '127.0.0.1')).toEqual([]);
  });

  it('exits by itself when its parent is killed with SIGKILL', async () => {
    const parentScript = join(root, 'parent.mjs');
    const entry = new URL('../../lib/local/emulator-process.ts', import.meta.url).href;
    writeFileSync(
      parentScript,
      `import { startEmulatorProcess } from ${JSON.stringify(entry)};
const emulators = await startEmulatorProcess({ dataDir: ${JSON.stringify(newDataDir())} });
process.stdout.write(JSON.stringify({ host: emulators.pid }) + '\\n');
setInterval(() => {}, 1000);
`,
    );
    const parent = spawn(process.execPath, [parentScript], { stdio: ['ignore', 'pipe', 'inherit'] });
    let hostPid: number | undefined;
    try {
      hostPid = await new Promise<number>((resolve, reject) => {
        let out = '';
        parent.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0] as string) as { host: number }).host);
        });
        parent.once('exit', (code) => reject(new Error(`parent exited early (${code})`)));
      });
      expect(isAlive(hostPid)).toBe(true);
      const parentExited = new Promise((resolve) => parent.once('exit', resolve));
      parent.kill('SIGKILL');
      await parentExited;
      const deadline = Date.now() + 5_000;
      while (isAlive(hostPid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(isAlive(hostPid)).toBe(false);
    } finally {
      if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
      // Never leave an orphan behind, even when the assertion failed.
      if (hostPid !== undefined && isAlive(hostPid)) process.kill(hostPid, 'SIGKILL');
    }
  });

  it('rejects with a message naming an unusable data directory', async () => {
    const file = join(root, 'not-a-directory');
    writeFileSync(file, '');
    const dataDir = join(file, 'data');
    await expect(startEmulatorProcess({ dataDir })).rejects.toThrow(dataDir);
  });

  it('refuses a data directory another host is using', async () => {
    const dataDir = newDataDir();
    await start(dataDir);
    await expect(startEmulatorProcess({ dataDir })).rejects.toThrow(/lock/);
  });

  it('does not pass inspector flags or -e code on to the host', () => {
    expect(
      hostExecArgv([
        '--inspect-brk=9229',
        '--conditions',
        'development',
        '--inspect-port',
        '9230',
        '-e',
        'code',
        '--max-old-space-size=512',
      ]),
    ).toEqual(['--conditions', 'development', '--max-old-space-size=512', '--disable-warning=ExperimentalWarning']);
  });
});
