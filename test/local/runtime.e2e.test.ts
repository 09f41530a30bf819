/**
 * The local runtime as a user runs it (`node bin/start.ts`), end to end over HTTP: the real
 * pipeline on the embedded emulators, no mocks.
 */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getJson,
  listeningSockets,
  makeOrders,
  startRuntime,
  submitAll,
  waitFor,
  type RuntimeProcess,
} from '../support/runtime-process.ts';
import { expectDeliveredOnce } from '../support/orders-check.ts';

let runtime: RuntimeProcess;
beforeAll(async () => {
  runtime = await startRuntime({ args: ['--in-memory'] });
});
afterAll(async () => {
  await runtime?.stop();
});

describe('npm start', () => {
  it('answers /healthz, and listens on loopback only — the whole process tree', async () => {
    expect(await getJson(`${runtime.url}/healthz`)).toMatchObject({
      status: 200,
      body: { status: 'ok', dataDir: 'in-memory' },
    });
    const sockets = listeningSockets(runtime.pid);
    // The API, SQS and DynamoDB at least.
    expect(sockets.length).toBeGreaterThanOrEqual(3);
    for (const socket of sockets) expect(socket).toMatch(/^(127\.0\.0\.1|::ffff:127\.0\.0\.1):\d+$/);
  });

  it('carries 1,000 orders over both warehouses to delivered, each exactly once, in real batches', async () => {
    const orders = makeOrders('e2e', 1000);
    await submitAll(runtime.url, orders);

    const stats = await waitFor(
      async () => {
        const { body } = await getJson(`${runtime.url}/api/stats`);
        // Delivered, and nothing left anywhere (a redelivered copy may still be on its way to being skipped).
        const waiting = Object.values(
          body.pipelines as Record<string, Record<string, { ready: number; inFlight: number; delayed: number }>>,
        )
          .flatMap((stages) => Object.values(stages))
          .reduce((sum, v) => sum + v.ready + v.inFlight + v.delayed, 0);
        return body.totals.delivered >= 1000 && body.totals.inFlight === 0 && waiting === 0 ? body : undefined;
      },
      120_000,
      '1,000 deliveries',
    );

    expect(stats.totals).toEqual({
      accepted: 1000,
      delivered: 1000,
      deadLettered: 0,
      cancelled: 0,
      purged: 0,
      inFlight: 0,
    });
    await expectDeliveredOnce(runtime.url, orders);
    for (const warehouse of ['wh-1', 'wh-2']) {
      const stages = stats.pipelines[warehouse];
      expect(stages.delivery.succeeded).toBe(500);
      for (const name of ['picking', 'packing', 'delivery']) {
        // The batching window really batches: many records per invocation under load.
        expect(stages[name].maxBatchSize, `${warehouse}/${name}`).toBeGreaterThan(1);
        expect(stages[name].dlq).toBe(0);
        expect(stages[name].ready + stages[name].inFlight + stages[name].delayed).toBe(0);
      }
    }
  }, 150_000);

  it('sends a poison message to the dead-letter queue with its reason, and marks the order dead-lettered', async () => {
    const { body: topology } = await getJson(`${runtime.url}/api/topology`);
    const picking = topology.pipelines[0].stages[0];
    const sqs = new SQSClient({
      endpoint: topology.endpoints.sqs,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: picking.queueUrl,
        MessageBody: '{"v":1,"order":{"orderId":"poison-1"',
        MessageAttributes: { orderId: { DataType: 'String', StringValue: 'poison-1' } },
      }),
    );
    sqs.destroy();

    const { body: order } = await waitFor(
      async () => {
        const response = await getJson(`${runtime.url}/orders/poison-1`);
        return response.status === 200 && response.body.status === 'dead-lettered' ? response : undefined;
      },
      30_000,
      'the poison order to be dead-lettered',
    );

    expect(order).toMatchObject({ stage: 'picking', reason: expect.stringMatching(/^body is not valid JSON/) });
    // The status is written before the invocation ends; the stage's counts come with its metrics at the end.
    const { body: stats } = await waitFor(
      async () => {
        const response = await getJson(`${runtime.url}/api/stats`);
        return response.body.pipelines['wh-1'].picking.deadLettered === 1 ? response : undefined;
      },
      10_000,
      'the dead letter to be counted',
    );
    expect(stats.pipelines['wh-1'].picking.dlq).toBe(1);
    // An order met first by a stage joins the totals there: they still reconcile.
    expect(stats.totals).toEqual({
      accepted: 1001,
      delivered: 1000,
      deadLettered: 1,
      cancelled: 0,
      purged: 0,
      inFlight: 0,
    });
  });

  it('routes the order API like API Gateway, and refuses what it does not serve', async () => {
    expect((await fetch(`${runtime.url}/nowhere`)).status).toBe(404);
    const wrongMethod = await fetch(`${runtime.url}/orders`, { method: 'PUT' });
    expect(wrongMethod.status).toBe(405);
    expect(((await wrongMethod.json()) as { details: Array<{ field: string }> }).details[0]?.field).toBe('method');
    expect((await fetch(`${runtime.url}/api/stats`, { method: 'POST' })).status).toBe(405);
    const big = await fetch(`${runtime.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(11 * 1024 * 1024),
    });
    expect(big.status).toBe(413);
  });

  it('stops gracefully on SIGTERM', async () => {
    const { code } = await runtime.stop();
    expect(code).toBe(0);
    expect(runtime.output()).toContain('"message":"stopped"');
  });
});
