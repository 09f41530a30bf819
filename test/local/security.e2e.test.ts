/**
 * Bad input at the edges and what the logs may hold, end to end on the local runtime:
 * malformed messages on every stage queue go to that stage's DLQ with a reason and never
 * crash-loop a batch; order contents never appear in logs (ids only), even at debug level.
 */
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, postOrders, startRuntime, waitFor, type RuntimeProcess } from '../support/runtime-process.ts';

const SECRETS = ['CUST-SECRET-9F3A', 'SECRET-NOTE-77AA', 'SKU-SECRETX', 'ZZ-SECRET', 'SECRET-POISON-51'];

let runtime: RuntimeProcess;
let info: any;
beforeAll(async () => {
  runtime = await startRuntime({ args: ['--in-memory'], env: { CONVEYOR_LOG_LEVEL: 'debug' } });
  info = (await getJson(`${runtime.url}/api/topology`)).body;
});
afterAll(() => runtime?.stop());

const stats = async () => (await getJson(`${runtime.url}/api/stats`)).body;

/** Malformed bodies of every kind, each labelled in its orderId attribute. */
function poison(warehouse: string, stage: string): Array<{ label: string; body: string }> {
  const deep = '['.repeat(50_000) + ']'.repeat(50_000);
  return [
    { label: 'truncated', body: `{"v":1,"order":{"orderId":"${SECRETS[4]}` },
    { label: 'not-json', body: `${SECRETS[4]} is not JSON` },
    {
      label: 'wrong-types',
      body: JSON.stringify({
        v: 1,
        acceptedAt: 'yesterday',
        order: { orderId: 42, warehouseId: warehouse, items: 'many' },
      }),
    },
    {
      label: 'wrong-version',
      body: JSON.stringify({
        v: 2,
        acceptedAt: new Date().toISOString(),
        order: {
          orderId: `${stage}-v2`,
          warehouseId: warehouse,
          priority: 'standard',
          items: [{ sku: 'SKU-1', quantity: 1 }],
        },
      }),
    },
    {
      label: 'other-warehouse',
      body: JSON.stringify({
        v: 1,
        acceptedAt: new Date().toISOString(),
        order: {
          orderId: `${stage}-misrouted`,
          warehouseId: warehouse === 'wh-1' ? 'wh-2' : 'wh-1',
          priority: 'standard',
          items: [{ sku: 'SKU-1', quantity: 1 }],
        },
      }),
    },
    { label: 'deeply-nested', body: deep },
    {
      label: 'huge-string',
      body: JSON.stringify({ v: 1, acceptedAt: new Date().toISOString(), order: { orderId: 'x'.repeat(200_000) } }),
    },
    { label: 'null', body: 'null' },
  ];
}

describe('bad input and logs', () => {
  it('sends malformed messages on every stage queue to that stage’s DLQ with a reason, and keeps serving', async () => {
    const sqs = new SQSClient({
      endpoint: info.endpoints.sqs,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    let sent = 0;
    for (const pipeline of info.pipelines) {
      for (const stage of pipeline.stages) {
        const bodies = poison(pipeline.id, stage.name);
        // One poison per call: a 100 kB body must not push a batch past SQS's size limit.
        for (const [i, p] of bodies.entries()) {
          await sqs.send(
            new SendMessageBatchCommand({
              QueueUrl: stage.queueUrl,
              Entries: [
                {
                  Id: String(i),
                  MessageBody: p.body,
                  MessageAttributes: {
                    orderId: { DataType: 'String', StringValue: `${pipeline.id}-${stage.name}-${p.label}` },
                  },
                },
              ],
            }),
          );
          sent++;
        }
      }
    }
    sqs.destroy();

    // Each stage's DLQ holds its poison; nothing is retried or left in the work queues.
    const final = await waitFor(
      async () => {
        const s = await stats();
        const views = info.pipelines.flatMap((p: any) => p.stages.map((st: any) => s.pipelines[p.id][st.name]));
        const inDlqs = views.reduce((sum: number, v: any) => sum + v.dlq, 0);
        const waiting = views.reduce((sum: number, v: any) => sum + v.ready + v.inFlight + v.delayed, 0);
        return inDlqs === sent && waiting === 0 ? s : undefined;
      },
      60_000,
      `${sent} dead letters`,
    );
    for (const pipeline of info.pipelines) {
      for (const stage of pipeline.stages) {
        const view = final.pipelines[pipeline.id][stage.name];
        expect(view.dlq, `${pipeline.id}/${stage.name}`).toBe(8);
        expect(view.retried, `${pipeline.id}/${stage.name} retried`).toBe(0);
        expect(
          view.ready + view.inFlight + view.delayed,
          `${pipeline.id}/${stage.name} left: ${JSON.stringify(view)}`,
        ).toBe(0);
      }
    }
    const letters = (await getJson(`${runtime.url}/api/stages/wh-2/delivery/dlq?limit=20`)).body.messages;
    expect(letters).toHaveLength(8);
    for (const letter of letters) {
      expect(letter.kind).toBe('poison');
      expect(letter.reason).toMatch(/^(body is not valid JSON|invalid message:|order for warehouse)/);
      expect(letter.reason).not.toContain(SECRETS[4]);
    }

    // Still serving: a good order goes through all of it.
    expect(
      (
        await postOrders(runtime.url, [
          { orderId: 'after-poison', warehouseId: 'wh-2', items: [{ sku: 'SKU-1', quantity: 1 }] },
        ])
      ).status,
    ).toBe(202);
    await waitFor(
      async () =>
        (await getJson(`${runtime.url}/orders/after-poison`)).body.status === 'delivered' ? true : undefined,
      30_000,
      'a good order after the poison',
    );
  }, 120_000);

  it('never writes order contents to the logs — ids only — even at debug level', async () => {
    const order = {
      orderId: 'logged-by-id-only',
      warehouseId: 'wh-1',
      customerId: SECRETS[0],
      metadata: { note: SECRETS[1] },
      shipTo: { country: 'FR', postalCode: SECRETS[3] },
      items: [{ sku: SECRETS[2], quantity: 3 }],
    };
    expect((await postOrders(runtime.url, [order])).status).toBe(202);
    const rejected = await postOrders(runtime.url, [
      { ...order, orderId: 'rejected-one', items: [{ sku: SECRETS[2], quantity: 0 }] },
    ]);
    expect(rejected.status).toBe(400);
    await waitFor(
      async () =>
        (await getJson(`${runtime.url}/orders/logged-by-id-only`)).body.status === 'delivered' ? true : undefined,
      30_000,
      'the order to be delivered',
    );

    const output = runtime.output();
    expect(output).toContain('logged-by-id-only');
    for (const secret of SECRETS) expect(output, `the logs contain ${secret}`).not.toContain(secret);
  }, 60_000);
});
