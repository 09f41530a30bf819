/**
 * The local SQS where fauxqs differs from SQS: retention (from the original enqueue time, dead
 * letters included), and the `duplicate` and `reorder` chaos of standard queues — counted and
 * ordered at the emulator, in memory and with a data directory.
 */
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { startSqsEmulator, type SqsEmulator, type SqsEmulatorOptions } from '../../lib/local/emulators.ts';
import { tempDir, waitFor } from '../support/runtime-process.ts';

const credentials = { accessKeyId: 'x', secretAccessKey: 'x' };
const running: Array<{ emulator: SqsEmulator; sqs: SQSClient }> = [];
const dirs: Array<{ remove(): void }> = [];
afterEach(async () => {
  for (const { emulator, sqs } of running.splice(0)) {
    sqs.destroy();
    await emulator.stop();
  }
  for (const dir of dirs.splice(0)) dir.remove();
});

/** Copies lag at most this long here (the runtime's default is longer), so the tests stay short. */
const LAG_MS = 400;

async function start(options: SqsEmulatorOptions = {}): Promise<{ emulator: SqsEmulator; sqs: SQSClient }> {
  const emulator = await startSqsEmulator({ region: 'us-east-1', duplicateLagMaxMs: LAG_MS, ...options });
  const sqs = new SQSClient({ endpoint: emulator.endpoint, region: 'us-east-1', credentials });
  running.push({ emulator, sqs });
  return { emulator, sqs };
}

async function stop(started: { emulator: SqsEmulator; sqs: SQSClient }): Promise<void> {
  running.splice(running.indexOf(started), 1);
  started.sqs.destroy();
  await started.emulator.stop();
}

/** A test clock: real time plus an offset the test moves forward. */
function movableClock(): { now: () => number; advance(ms: number): void } {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms) => void (offset += ms) };
}

/** Deterministic random numbers (mulberry32), so a chaos run is the same every time. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function createQueue(
  emulator: SqsEmulator,
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string> = {},
): Promise<{ url: string; arn: string }> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  const url = new URL(new URL(QueueUrl as string).pathname, emulator.endpoint).toString();
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return { url, arn: Attributes?.QueueArn as string };
}

async function send(sqs: SQSClient, url: string, bodies: readonly string[]): Promise<void> {
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

async function receive(sqs: SQSClient, url: string, max = 10): Promise<Message[]> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: max,
      WaitTimeSeconds: 0,
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return Messages;
}

async function remove(sqs: SQSClient, url: string, messages: readonly Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: messages.slice(i, i + 10).map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
  }
}

/** What the emulator holds for a queue, exactly (fauxqs's inspection endpoint). */
async function held(
  emulator: SqsEmulator,
  name: string,
): Promise<{ ready: number; inflight: number; delayed: number }> {
  const { messages } = (await (await fetch(`${emulator.endpoint}/_fauxqs/queues/${name}`)).json()) as {
    messages: Record<'ready' | 'inflight' | 'delayed', unknown[]>;
  };
  return { ready: messages.ready.length, inflight: messages.inflight.length, delayed: messages.delayed.length };
}

/** Receives and deletes until nothing has come for longer than a duplicate can lag; every delivery, in order. */
async function consumeAll(sqs: SQSClient, url: string, max = 10): Promise<Message[]> {
  const deliveries: Message[] = [];
  let quietSince = Date.now();
  while (Date.now() - quietSince < LAG_MS + 500) {
    const batch = await receive(sqs, url, max);
    if (batch.length === 0) {
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    quietSince = Date.now();
    deliveries.push(...batch);
    await remove(sqs, url, batch);
  }
  return deliveries;
}

const bodies = (n: number, prefix = 'm') =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);
const timesEach = (messages: readonly Message[]) => {
  const times = new Map<string, number>();
  for (const m of messages) times.set(m.Body as string, (times.get(m.Body as string) ?? 0) + 1);
  return times;
};

describe('retention', () => {
  it('a receive never hands out a message older than the queue retention, measured from its enqueue time', async () => {
    const clock = movableClock();
    const { emulator, sqs } = await start({ clock: clock.now });
    const { url } = await createQueue(emulator, sqs, 'retained', { MessageRetentionPeriod: '60' });
    await send(sqs, url, ['old']);
    await new Promise((r) => setTimeout(r, 1200));
    await send(sqs, url, ['young']);
    clock.advance(59_400); // 'old' is now ~60.6 s old, 'young' ~59.4 s

    expect((await receive(sqs, url)).map((m) => m.Body)).toEqual(['young']);
    expect(await held(emulator, 'retained')).toEqual({ ready: 0, inflight: 1, delayed: 0 });
  });

  it('expires what nobody receives, within a second, and the data directory forgets it too', async () => {
    const data = tempDir();
    dirs.push(data);
    const clock = movableClock();
    const first = await start({ clock: clock.now, dataDir: data.path });
    const { url } = await createQueue(first.emulator, first.sqs, 'forgotten', { MessageRetentionPeriod: '60' });
    const { url: keeper } = await createQueue(first.emulator, first.sqs, 'kept', { MessageRetentionPeriod: '120' });
    await send(first.sqs, url, bodies(15));
    await send(first.sqs, keeper, ['stays']);
    clock.advance(61_000);
    await waitFor(
      async () => ((await held(first.emulator, 'forgotten')).ready === 0 ? true : undefined),
      3_000,
      'the sweep',
    );
    expect(await held(first.emulator, 'kept')).toEqual({ ready: 1, inflight: 0, delayed: 0 });
    await stop(first);

    const second = await start({ dataDir: data.path });
    expect(await held(second.emulator, 'forgotten')).toEqual({ ready: 0, inflight: 0, delayed: 0 });
    expect(await held(second.emulator, 'kept')).toEqual({ ready: 1, inflight: 0, delayed: 0 });
  });

  it('a dead letter moved by the redrive policy keeps its original enqueue time, and expires by it (also across a restart)', async () => {
    const data = tempDir();
    dirs.push(data);
    const clock = movableClock();
    const first = await start({ clock: clock.now, dataDir: data.path });
    const dlq = await createQueue(first.emulator, first.sqs, 'stage-dlq', { MessageRetentionPeriod: '120' });
    const queue = await createQueue(first.emulator, first.sqs, 'stage', {
      MessageRetentionPeriod: '300',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 1 }),
    });
    await send(first.sqs, queue.url, ['doomed']);
    const [received] = await receive(first.sqs, queue.url);
    const sentAt = received?.Attributes?.SentTimestamp;
    await first.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queue.url,
        ReceiptHandle: received?.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    clock.advance(100_000); // it has waited 100 s in its queue when the next receive moves it
    expect(await receive(first.sqs, queue.url)).toEqual([]);
    expect(await held(first.emulator, 'stage-dlq')).toEqual({ ready: 1, inflight: 0, delayed: 0 });
    await stop(first);

    const restartClock = movableClock();
    restartClock.advance(100_000);
    const second = await start({ clock: restartClock.now, dataDir: data.path });
    const [dead] = await receive(second.sqs, dlq.url);
    expect(dead?.Body).toBe('doomed');
    expect(dead?.Attributes?.SentTimestamp).toBe(sentAt);
    await second.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: dlq.url,
        ReceiptHandle: dead?.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    // 121 s after it was sent, 21 s after the move: gone from a DLQ that keeps messages 120 s.
    restartClock.advance(21_000);
    expect(await receive(second.sqs, dlq.url)).toEqual([]);
    expect(await held(second.emulator, 'stage-dlq')).toEqual({ ready: 0, inflight: 0, delayed: 0 });
  });
});

describe('chaos: duplicate', () => {
  it('with probability 1, every message is delivered exactly twice, the copy with its own message id (copies are not copied)', async () => {
    const { emulator, sqs } = await start();
    const twice = (await createQueue(emulator, sqs, 'twice')).url;
    const { url } = await createQueue(emulator, sqs, 'once');
    emulator.setQueueChaos({ twice: { duplicate: 1, reorder: 0 } });
    const sent = bodies(30);
    await send(sqs, twice, sent);
    await send(sqs, url, sent);

    const [deliveries, plain] = await Promise.all([consumeAll(sqs, twice), consumeAll(sqs, url)]);
    expect([...timesEach(deliveries).entries()].sort()).toEqual(sent.map((b) => [b, 2]));
    expect(new Set(deliveries.map((m) => m.MessageId)).size).toBe(60);
    expect(plain.map((m) => m.Body)).toEqual(sent); // the queue without chaos: fauxqs's strict FIFO, once each
  });

  it('a copy reaches another receiver while the first delivery is still in flight', async () => {
    const { emulator, sqs } = await start();
    const { url } = await createQueue(emulator, sqs, 'contended', { VisibilityTimeout: '300' });
    emulator.setQueueChaos({ contended: { duplicate: 1, reorder: 0 } });
    await send(sqs, url, ['order-1']);
    const [first] = await receive(sqs, url); // held, never deleted
    const second = await waitFor(async () => (await receive(sqs, url))[0], LAG_MS + 1000, 'the copy');
    expect(second.Body).toBe(first?.Body);
    expect(second.MessageId).not.toBe(first?.MessageId);
    expect(await held(emulator, 'contended')).toEqual({ ready: 0, inflight: 2, delayed: 0 });
  });

  it('with probability 0.3, about 30 % of the messages come twice and none is lost', async () => {
    const { emulator, sqs } = await start({ random: seeded(7) });
    const { url } = await createQueue(emulator, sqs, 'some');
    emulator.setQueueChaos({ some: { duplicate: 0.3, reorder: 0 } });
    const sent = bodies(200);
    await send(sqs, url, sent);
    const times = timesEach(await consumeAll(sqs, url));
    expect([...times.keys()].sort()).toEqual(sent);
    const doubled = [...times.values()].filter((n) => n === 2).length;
    expect([...times.values()].every((n) => n === 1 || n === 2)).toBe(true);
    expect(doubled).toBeGreaterThan(30); // binomial(200, 0.3): mean 60, sd 6.5
    expect(doubled).toBeLessThan(90);
  });

  it('a copy is a real message with a data directory: it survives a restart, and a purge drops copies still to come', async () => {
    const data = tempDir();
    dirs.push(data);
    const first = await start({ dataDir: data.path });
    const { url } = await createQueue(first.emulator, first.sqs, 'durable', { VisibilityTimeout: '300' });
    first.emulator.setQueueChaos({ durable: { duplicate: 1, reorder: 0 } });
    const sent = bodies(5);
    await send(first.sqs, url, sent);
    const originals = [...(await receive(first.sqs, url))];
    expect(originals).toHaveLength(5);
    await waitFor(
      async () => ((await held(first.emulator, 'durable')).ready === 5 ? true : undefined),
      LAG_MS + 1000,
      'the copies',
    );
    await stop(first);

    const second = await start({ dataDir: data.path });
    const copies = await receive(second.sqs, url);
    expect(copies.map((m) => m.Body).sort()).toEqual(sent);
    expect(copies.some((m) => originals.some((o) => o.MessageId === m.MessageId))).toBe(false);

    second.emulator.setQueueChaos({ durable: { duplicate: 1, reorder: 0 } });
    await second.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: url,
        ReceiptHandle: copies[0]?.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    await send(second.sqs, url, ['after']);
    expect((await receive(second.sqs, url)).length).toBe(2); // leaves copies behind …
    await second.sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
    await new Promise((r) => setTimeout(r, LAG_MS + 300));
    expect(await held(second.emulator, 'durable')).toEqual({ ready: 0, inflight: 0, delayed: 0 }); // … which the purge took
  });
});

describe('chaos: reorder', () => {
  it('hands messages out of order, each exactly once', async () => {
    const { emulator, sqs } = await start({ random: seeded(11) });
    const { url } = await createQueue(emulator, sqs, 'shuffled');
    emulator.setQueueChaos({ shuffled: { duplicate: 0, reorder: 0.3 } });
    const sent = bodies(100);
    await send(sqs, url, sent);
    const order = (await consumeAll(sqs, url, 1)).map((m) => m.Body as string);

    expect([...order].sort()).toEqual(sent);
    const overtaken = order.filter((body, i) => order.slice(i + 1).some((later) => later < body)).length;
    expect(overtaken, 'messages delivered before an older one').toBeGreaterThan(10);
  });

  it('with probability 0, order is kept (the effect, not fauxqs, makes the difference)', async () => {
    const { emulator, sqs } = await start({ random: seeded(11) });
    const { url } = await createQueue(emulator, sqs, 'ordered');
    emulator.setQueueChaos({ ordered: { duplicate: 0, reorder: 0 } });
    const sent = bodies(40);
    await send(sqs, url, sent);
    expect((await consumeAll(sqs, url, 1)).map((m) => m.Body)).toEqual(sent);
  });

  it('refuses chaos for a queue that does not exist', async () => {
    const { emulator } = await start();
    expect(() => emulator.setQueueChaos({ nowhere: { duplicate: 1, reorder: 0 } })).toThrow(/no queue named "nowhere"/);
  });
});
