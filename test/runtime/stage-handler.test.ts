/**
 * The stage runtime against the embedded SQS and DynamoDB emulators: real queues, real records
 * (receipt handles, receive counts, visibility), real conditional writes. The business function
 * is the real picking logic, with chosen orders made to fail.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SQSRecord } from 'aws-lambda';
import type { PickingInput } from '../../lib/domain/messages.ts';
import { retry, reject, type Outcome } from '../../lib/runtime/outcome.ts';
import { planPickWave, type PickList } from '../../lib/domain/picking.ts';
import { invokeAndSettle } from '../../lib/local/event-source.ts';
import { pickingStage } from '../../lib/orders/stages.ts';
import { SqsQueues } from '../../lib/runtime/ports.ts';
import { createStageHandler, type StageRuntimeOptions } from '../../lib/runtime/stage-handler.ts';
import { startLocalAws, type LocalAws } from '../support/local-aws.ts';
import { context, enqueue, order, pickingMessage, receive } from '../support/orders.ts';

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws({
    stages: { picking: { maxReceiveCount: 2, backoff: { baseSeconds: 1, capSeconds: 1 } } },
  });
});
afterAll(() => aws?.stop());
beforeEach(() => aws.purgeAll());

const picking = () => aws.stage('wh-1', 'picking');
const packing = () => aws.stage('wh-1', 'packing');

/** The picking stage, with the outcome of some orders replaced. */
function pickingHandler(
  overrides: Record<string, Outcome<PickList>> = {},
  options: Partial<StageRuntimeOptions> = {},
  process?: (batch: readonly PickingInput[]) => Promise<Outcome<PickList>[]>,
) {
  return createStageHandler(
    {
      ...pickingStage,
      process:
        process ??
        ((batch) =>
          planPickWave(batch).map((outcome, i) => overrides[(batch[i] as PickingInput).order.orderId] ?? outcome)),
    },
    { config: aws.stageConfig('wh-1', 'picking'), queues: new SqsQueues(aws.sqs), ledger: aws.ledger, ...options },
  );
}

const attribute = (m: { MessageAttributes?: Record<string, { StringValue?: string }> }, name: string) =>
  m.MessageAttributes?.[name]?.StringValue;
const idsOf = (records: SQSRecord[], orderIds: string[]) =>
  records.filter((r) => orderIds.includes(JSON.parse(r.body).order?.orderId)).map((r) => r.messageId);

describe('stage runtime', () => {
  it('forwards every result to the next stage in batches, keeps the tracing attributes and records the transition', async () => {
    const orders = Array.from({ length: 25 }, (_, i) => order(i));
    await enqueue(
      aws.sqs,
      picking().queueUrl,
      orders.map((o) => pickingMessage(o)),
    );
    const records = await receive(aws.sqs, picking());
    expect(records).toHaveLength(25);

    const response = await pickingHandler()({ Records: records }, context());

    expect(response.batchItemFailures).toEqual([]);
    const forwarded = await aws.drain(packing().queueUrl);
    expect(forwarded).toHaveLength(25);
    const first = forwarded.find((m) => attribute(m, 'orderId') === 'order-3');
    expect(first).toBeDefined();
    const body = JSON.parse(first?.Body ?? '{}');
    expect(body.order).toEqual(orders[3]);
    expect(body.picking.lines.length).toBe(orders[3]?.items.length);
    expect(attribute(first!, 'traceId')).toBe('trace-3');
    const status = await aws.ledger.read('order-3');
    expect(status?.status).toBe('packing');
    expect(status?.stage).toBe('packing');
    expect(status?.history.at(-1)).toMatchObject({
      status: 'packing',
      by: 'picking',
      detail: { waveId: body.picking.waveId },
    });
  });

  it('reports only the failed records, and holds them back for the backoff before they return', async () => {
    const orders = [order(101), order(102), order(103)];
    await enqueue(
      aws.sqs,
      picking().queueUrl,
      orders.map((o) => pickingMessage(o)),
    );
    const records = await receive(aws.sqs, picking());

    const settlement = await invokeAndSettle(
      aws.sqs,
      picking().queueUrl,
      records,
      pickingHandler({ 'order-102': retry('warehouse scanner offline') }),
      context(),
    );

    expect(settlement.kind).toBe('partial');
    if (settlement.kind !== 'partial') return;
    expect(settlement.failed.map((r) => r.messageId)).toEqual(idsOf(records, ['order-102']));
    expect(await aws.drain(packing().queueUrl)).toHaveLength(2);
    // Backoff of 1 s: not visible at once, back after it with its receive count raised.
    expect(await receive(aws.sqs, picking())).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 1300));
    const again = await receive(aws.sqs, picking());
    expect(again.map((r) => JSON.parse(r.body).order.orderId)).toEqual(['order-102']);
    expect(again[0]?.attributes.ApproximateReceiveCount).toBe('2');
  });

  it('dead-letters a record that fails on its last receive, with the reason, and marks the order', async () => {
    await enqueue(aws.sqs, picking().queueUrl, [pickingMessage(order(107))]);
    const handler = pickingHandler({ 'order-107': retry('scanner offline') });
    const first = await handler({ Records: await receive(aws.sqs, picking()) }, context());
    expect(first.batchItemFailures).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1300));
    const second = await receive(aws.sqs, picking());
    expect(second[0]?.attributes.ApproximateReceiveCount).toBe('2');

    const response = await handler({ Records: second }, context());

    expect(response.batchItemFailures).toEqual([]);
    const [dead] = await aws.drain(picking().deadLetterQueueUrl);
    expect(dead?.Body).toBe(second[0]?.body);
    expect(attribute(dead!, 'conveyor.kind')).toBe('exhausted');
    expect(attribute(dead!, 'conveyor.reason')).toBe('scanner offline (gave up after 2 attempts)');
    expect(attribute(dead!, 'conveyor.stage')).toBe('wh-1/picking');
    expect(attribute(dead!, 'orderId')).toBe('order-107');
    const status = await aws.ledger.read('order-107');
    expect(status).toMatchObject({
      status: 'dead-lettered',
      stage: 'picking',
      reason: 'scanner offline (gave up after 2 attempts)',
    });
  });

  it('sends poison straight to the dead-letter queue with the reason, and never retries it', async () => {
    const wrongWarehouse = pickingMessage(order(109, 'wh-2'));
    const badItems = {
      ...pickingMessage(order(108)),
      order: { ...order(108), items: [{ sku: 'SKU-1', quantity: 0 }] },
    };
    await enqueue(
      aws.sqs,
      picking().queueUrl,
      ['{"truncated": ', badItems, wrongWarehouse, pickingMessage(order(110))],
      (b) => (typeof b === 'string' ? 'order-77' : (b as PickingInput).order.orderId),
    );
    const records = await receive(aws.sqs, picking());

    const settlement = await invokeAndSettle(aws.sqs, picking().queueUrl, records, pickingHandler(), context());

    expect(settlement).toMatchObject({ kind: 'partial', failed: [] });
    expect(await aws.drain(packing().queueUrl)).toHaveLength(1);
    const dead = await aws.drain(picking().deadLetterQueueUrl);
    const reasons = Object.fromEntries(dead.map((m) => [attribute(m, 'orderId'), attribute(m, 'conveyor.reason')]));
    expect(dead.every((m) => attribute(m, 'conveyor.kind') === 'poison')).toBe(true);
    expect(reasons['order-77']).toMatch(/^body is not valid JSON/);
    expect(reasons['order-108']).toBe('invalid message: order.items.0.quantity: must be at least 1');
    expect(reasons['order-109']).toBe('order-109 belongs to pipeline wh-2, but arrived in pipeline wh-1');
    expect(dead.find((m) => attribute(m, 'orderId') === 'order-77')?.Body).toBe('{"truncated": ');
    expect((await aws.ledger.read('order-108'))?.status).toBe('dead-lettered');
    expect(await aws.depth(picking().queueUrl)).toBe(0);
  });

  it('dead-letters a permanent business failure on its first receive', async () => {
    await enqueue(aws.sqs, picking().queueUrl, [pickingMessage(order(111)), pickingMessage(order(112))]);
    const response = await pickingHandler({ 'order-111': reject('SKU-3 is discontinued') })(
      { Records: await receive(aws.sqs, picking()) },
      context(),
    );

    expect(response.batchItemFailures).toEqual([]);
    const [dead] = await aws.drain(picking().deadLetterQueueUrl);
    expect(attribute(dead!, 'conveyor.kind')).toBe('rejected');
    expect(attribute(dead!, 'conveyor.receiveCount')).toBe('1');
    expect((await aws.ledger.read('order-111'))?.reason).toBe('SKU-3 is discontinued');
    expect(await aws.drain(packing().queueUrl)).toHaveLength(1);
  });

  it('acknowledges a redelivered order it already finished without forwarding it again', async () => {
    const messages = [order(120), order(121)].map((o) => pickingMessage(o));
    await enqueue(aws.sqs, picking().queueUrl, messages);
    const handler = pickingHandler();
    await handler({ Records: await receive(aws.sqs, picking()) }, context());
    expect(await aws.drain(packing().queueUrl)).toHaveLength(2);

    // SQS delivers the same orders again (at-least-once).
    await enqueue(aws.sqs, picking().queueUrl, messages);
    const response = await handler({ Records: await receive(aws.sqs, picking()) }, context());

    expect(response.batchItemFailures).toEqual([]);
    expect(await aws.depth(packing().queueUrl)).toBe(2);
    expect((await aws.ledger.read('order-120'))?.history.filter((h) => h.by === 'picking')).toHaveLength(1);
  });

  it('handles the same order twice in one batch once', async () => {
    const message = pickingMessage(order(130));
    await enqueue(aws.sqs, picking().queueUrl, [message, message]);
    const records = await receive(aws.sqs, picking());
    expect(records).toHaveLength(2);

    const response = await pickingHandler()({ Records: records }, context());

    expect(response.batchItemFailures).toEqual([]);
    expect(await aws.drain(packing().queueUrl)).toHaveLength(1);
  });

  it('retries the whole batch when the business function throws', async () => {
    await enqueue(
      aws.sqs,
      picking().queueUrl,
      [order(140), order(141)].map((o) => pickingMessage(o)),
    );
    const records = await receive(aws.sqs, picking());

    const response = await pickingHandler({}, {}, async () => {
      throw new Error('inventory service unreachable');
    })({ Records: records }, context());

    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(
      records.map((r) => r.messageId).sort(),
    );
    expect(await aws.depth(packing().queueUrl)).toBe(0);
  });

  it('fails a batch that would outrun the function timeout, before Lambda kills it', async () => {
    await enqueue(aws.sqs, picking().queueUrl, [pickingMessage(order(150))]);
    const records = await receive(aws.sqs, picking());
    const started = Date.now();

    const response = await pickingHandler({}, {}, () => new Promise(() => undefined))({ Records: records }, context(2));

    expect(Date.now() - started).toBeLessThan(2000);
    expect(response.batchItemFailures).toHaveLength(1);
  });

  it('reports records it cannot forward as failures, so they are retried rather than lost', async () => {
    await enqueue(aws.sqs, picking().queueUrl, [pickingMessage(order(160))]);
    const config = {
      ...aws.stageConfig('wh-1', 'picking'),
      nextQueueUrl: picking().queueUrl.replace('conveyor-wh-1-picking', 'no-such-queue'),
    };

    const response = await pickingHandler({}, { config })({ Records: await receive(aws.sqs, picking()) }, context());

    expect(response.batchItemFailures).toHaveLength(1);
    expect(await aws.ledger.read('order-160')).toBeUndefined();
  });

  it('writes no intermediate status with terminal tracking', async () => {
    await enqueue(aws.sqs, picking().queueUrl, [pickingMessage(order(170))]);
    const config = { ...aws.stageConfig('wh-1', 'picking'), tracking: 'terminal' as const };

    const response = await pickingHandler({}, { config })({ Records: await receive(aws.sqs, picking()) }, context());

    expect(response.batchItemFailures).toEqual([]);
    expect(await aws.drain(packing().queueUrl)).toHaveLength(1);
    expect(await aws.ledger.read('order-170')).toBeUndefined();
  });

  it('rejects an event that is not an SQS batch', async () => {
    await expect(pickingHandler()({} as never, context())).rejects.toThrow(/Records/);
  });
});

describe('fault injection (CONVEYOR_CHAOS)', () => {
  it('fails the chosen share of records transiently, through the normal retry path', async () => {
    const orders = Array.from({ length: 40 }, (_, i) => order(300 + i));
    await enqueue(
      aws.sqs,
      picking().queueUrl,
      orders.map((o) => pickingMessage(o)),
    );
    const records = await receive(aws.sqs, picking());
    let draws = 0;
    // Every other draw is below 0.5: exactly half the records are hit.
    const config = {
      ...aws.stageConfig('wh-1', 'picking'),
      chaos: { fail: 0.5, stall: 0, delay: { probability: 0, ms: 0 } },
    };

    const response = await pickingHandler({}, { config, random: () => (draws++ % 2 === 0 ? 0.1 : 0.9) })(
      { Records: records },
      context(),
    );

    expect(response.batchItemFailures).toHaveLength(20);
    expect(await aws.drain(packing().queueUrl)).toHaveLength(20);
    expect(await aws.drain(picking().deadLetterQueueUrl)).toHaveLength(0);
  });
});
