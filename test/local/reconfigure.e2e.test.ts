/**
 * A changed topology applies on restart as a deploy would (issue 12, item 1): queue attributes are
 * updated in place, new warehouses created, stages no longer in the topology reported and kept —
 * and every stored order keeps its history, queued orders included. Each restart is the real
 * `npm start` on one data directory.
 */
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterQueueSettings, loadTopology, queueSettings, type Topology } from '../../lib/topology/index.ts';
import { readmeConfigurationExample } from '../support/readme.ts';
import {
  getJson,
  makeOrders,
  postOrders,
  startRuntime,
  submitAll,
  tempDir,
  waitFor,
  type RuntimeProcess,
} from '../support/runtime-process.ts';

const dir = tempDir();
const dataDir = join(dir.path, 'data');
/** Every order's record as it stood before the restarts; they must read the same after each. */
const stored = new Map<string, unknown>();
let waiting: string[] = [];

async function start(overrides: unknown, args: string[] = []): Promise<RuntimeProcess> {
  return startRuntime({ env: { CONVEYOR_DATA_DIR: dataDir, CONVEYOR_TOPOLOGY: JSON.stringify(overrides) }, args });
}

async function post(url: string, path: string): Promise<number> {
  return (await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }))
    .status;
}

async function record(url: string, orderId: string): Promise<unknown> {
  const { status, body } = await getJson(`${url}/orders/${orderId}`);
  expect(status, orderId).toBe(200);
  return body;
}

async function deliveredAll(url: string, orderIds: readonly string[]): Promise<void> {
  await waitFor(
    async () =>
      (await Promise.all(orderIds.map((id) => record(url, id)))).every(
        (o) => (o as { status: string }).status === 'delivered',
      )
        ? true
        : undefined,
    60_000,
    `${orderIds.length} orders to be delivered`,
  );
}

/** Every queue's attributes are what the topology says (the shared queue settings, as the stack sets them). */
async function expectQueuesMatch(url: string, topology: Topology): Promise<void> {
  const { body } = await getJson(`${url}/api/topology`);
  const sqs = new SQSClient({
    endpoint: body.endpoints.sqs,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  try {
    for (const pipeline of topology.pipelines) {
      for (const stage of pipeline.stages) {
        const local = body.pipelines
          .find((p: { id: string }) => p.id === pipeline.id)
          .stages.find((s: { name: string }) => s.name === stage.name);
        const want = queueSettings(topology, stage);
        const { Attributes: queue = {} } = await sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: local.queueUrl, AttributeNames: ['All'] }),
        );
        expect(
          {
            visibility: Number(queue.VisibilityTimeout),
            retention: Number(queue.MessageRetentionPeriod),
            maxReceiveCount: Number(JSON.parse(queue.RedrivePolicy as string).maxReceiveCount),
            dlq: JSON.parse(queue.RedrivePolicy as string).deadLetterTargetArn,
          },
          stage.key,
        ).toEqual({
          visibility: want.visibilityTimeoutSeconds,
          retention: want.messageRetentionSeconds,
          maxReceiveCount: want.maxReceiveCount,
          dlq: local.deadLetterQueueArn,
        });
        const { Attributes: dlq = {} } = await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: local.deadLetterQueueUrl,
            AttributeNames: ['MessageRetentionPeriod'],
          }),
        );
        expect(Number(dlq.MessageRetentionPeriod), `${stage.key} DLQ`).toBe(
          deadLetterQueueSettings(topology).messageRetentionSeconds,
        );
      }
    }
  } finally {
    sqs.destroy();
  }
}

/** Restarts on `overrides`: it starts, the queues match, every stored order reads as before, a new order is delivered. */
async function restartWith(overrides: unknown, name: string): Promise<RuntimeProcess> {
  const runtime = await start(overrides);
  try {
    const topology = loadTopology(overrides);
    await expectQueuesMatch(runtime.url, topology);
    for (const [orderId, before] of stored)
      expect(await record(runtime.url, orderId), `${orderId} after ${name}`).toEqual(before);
    // wh-1's packing stays paused (its held orders wait there): new orders go to the other warehouses.
    const open = topology.pipelines.map((p) => p.id).filter((id) => id !== 'wh-1');
    const fresh = makeOrders(`after-${name}`, open.length, open);
    await submitAll(runtime.url, fresh);
    await deliveredAll(
      runtime.url,
      fresh.map((o) => o.orderId),
    );
    for (const order of fresh) stored.set(order.orderId, await record(runtime.url, order.orderId));
    return runtime;
  } catch (error) {
    await runtime.stop();
    throw error;
  }
}

beforeAll(async () => {
  // Orders delivered, and orders waiting in a paused stage (kept paused across restarts).
  const runtime = await start({});
  try {
    const delivered = makeOrders('before', 10);
    await submitAll(runtime.url, delivered);
    await deliveredAll(
      runtime.url,
      delivered.map((o) => o.orderId),
    );
    expect(await post(runtime.url, '/api/stages/wh-1/packing/pause')).toBe(200);
    const held = makeOrders('held', 6, ['wh-1']);
    await submitAll(runtime.url, held);
    waiting = held.map((o) => o.orderId);
    await waitFor(
      async () =>
        (await Promise.all(waiting.map((id) => record(runtime.url, id)))).every(
          (o) => (o as { status: string }).status === 'packing',
        )
          ? true
          : undefined,
      30_000,
      'held orders to reach packing',
    );
    for (const id of [...delivered.map((o) => o.orderId), ...waiting]) stored.set(id, await record(runtime.url, id));
  } finally {
    await runtime.stop();
  }
}, 120_000);
afterAll(() => dir.remove());

describe('a changed topology, applied on restart to a runtime with stored orders', () => {
  it("the README's configuration example (a longer batching window: a new visibility timeout)", async () => {
    const example = readmeConfigurationExample();
    expect(
      queueSettings(loadTopology(example), loadTopology(example).pipelines[0]!.stages[1]!).visibilityTimeoutSeconds,
    ).not.toBe(queueSettings(loadTopology({}), loadTopology({}).pipelines[0]!.stages[1]!).visibilityTimeoutSeconds);
    const runtime = await restartWith(example, 'readme');
    const { body } = await getJson(`${runtime.url}/api/deployment`);
    expect(body.updated).toContainEqual(
      expect.objectContaining({ queue: expect.stringMatching(/wh-1-packing$/), attribute: 'VisibilityTimeout' }),
    );
    await runtime.stop();
  }, 120_000);

  it.each([
    ['maxReceiveCount', { stages: { picking: { maxReceiveCount: 3 } } }],
    ['visibilityTimeoutSeconds', { stages: { delivery: { visibilityTimeoutSeconds: 900 } } }],
    ['retention', { retention: { queueDays: 2, deadLetterDays: 10 } }],
  ])(
    '%s',
    async (name, overrides) => {
      await (await restartWith(overrides, name)).stop();
    },
    120_000,
  );

  it('a new warehouse: its queues are created and its orders delivered; removed again, its queues are reported and kept until pruned', async () => {
    await (await restartWith({ warehouses: ['wh-1', 'wh-2', 'wh-3'] }, 'new-warehouse')).stop();

    const back = await start({});
    try {
      const { body } = await getJson(`${back.url}/api/deployment`);
      expect(body.leftover.map((l: { stage: string }) => l.stage)).toEqual([
        'wh-3/delivery',
        'wh-3/packing',
        'wh-3/picking',
      ]);
      expect(body.leftover.every((l: { removed: boolean; messages: number }) => !l.removed && l.messages === 0)).toBe(
        true,
      );
      // Said where the operator looks, too.
      expect(back.output()).toContain('wh-3/picking');
      // Orders of wh-3 keep their history; new ones are refused (the warehouse is gone).
      for (const [orderId, before] of stored) expect(await record(back.url, orderId), orderId).toEqual(before);
      expect((await postOrders(back.url, makeOrders('gone', 1, ['wh-3']))).status).toBe(400);
    } finally {
      await back.stop();
    }

    const pruned = await start({}, ['--prune']);
    try {
      const { body } = await getJson(`${pruned.url}/api/deployment`);
      expect(body.leftover.map((l: { stage: string; removed: boolean }) => [l.stage, l.removed])).toEqual([
        ['wh-3/delivery', true],
        ['wh-3/packing', true],
        ['wh-3/picking', true],
      ]);
      // The orders held in the paused stage all along continue once it resumes.
      expect(await post(pruned.url, '/api/stages/wh-1/packing/resume')).toBe(200);
      await deliveredAll(pruned.url, waiting);
    } finally {
      await pruned.stop();
    }
  }, 180_000);
});
