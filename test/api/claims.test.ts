/** Claims (issue 10, item 1): concurrent submissions of one order id never both get a plain 202. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrderApi } from '../../lib/api/order-api.ts';
import { toApiGatewayEvent } from '../../lib/local/lambda-events.ts';
import { SqsQueues } from '../../lib/runtime/ports.ts';
import { MemoryPipeline } from '../support/memory-pipeline.ts';
import { startLocalAws, type LocalAws } from '../support/local-aws.ts';

let aws: LocalAws;
let api: ReturnType<typeof createOrderApi>;
beforeAll(async () => {
  aws = await startLocalAws();
  api = createOrderApi({ config: aws.intakeConfig(), queues: new SqsQueues(aws.sqs), ledger: aws.ledger });
});
afterAll(() => aws?.stop());

const post = (body: unknown) =>
  api(
    toApiGatewayEvent({
      method: 'POST',
      path: '/orders',
      resource: '/orders',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
  );

describe('concurrent submissions of one order id', () => {
  it('never answers two plain 202s, and queues each id once', async () => {
    const pairs = 30;
    const answers = await Promise.all(
      Array.from({ length: pairs }, async (_, i) => {
        const same = i % 2 === 0;
        const a = { orderId: `pair-${i}`, warehouseId: 'wh-1', items: [{ sku: 'SKU-1', quantity: 1 }] };
        const b = same ? a : { ...a, items: [{ sku: 'SKU-2', quantity: 3 }] };
        const [ra, rb] = await Promise.all([post(a), post(b)]);
        return { same, codes: [ra.statusCode, rb.statusCode], bodies: [JSON.parse(ra.body), JSON.parse(rb.body)] };
      }),
    );
    const plain = answers.filter((p) => p.codes.every((c) => c === 202) && p.bodies.every((b) => !b.duplicate));
    expect(plain).toEqual([]);
    expect(await aws.depth(aws.stage('wh-1', 'picking').queueUrl)).toBe(pairs);
  });
});

describe('claims, in memory (stale reads, crashes, failed sends)', () => {
  const random = (() => {
    let n = 7;
    return () => (n = (n * 16807) % 2147483647) / 2147483647;
  })();
  const pipeline = () => new MemoryPipeline({ random, stale: { probability: 0.9, maxLag: 20 } });
  const base = {
    orderId: 'f-1',
    warehouseId: 'wh-1',
    items: [
      { sku: 'SKU-1', quantity: 1 },
      { sku: 'SKU-2', quantity: 2 },
    ],
  };
  const answer = async (p: MemoryPipeline, body: unknown) => {
    const result = await p.post(body);
    if (result.crashed) throw new Error('crashed');
    return { status: result.value.statusCode, body: JSON.parse(result.value.body) };
  };

  it.each([
    ['another ship-to address', { shipTo: { country: 'FR', postalCode: '75001' } }],
    ['another priority', { priority: 'express' }],
    ['another customer', { customerId: 'c-9' }],
    ['other metadata', { metadata: { gift: 'yes' } }],
    [
      'another quantity',
      {
        items: [
          { sku: 'SKU-1', quantity: 2 },
          { sku: 'SKU-2', quantity: 2 },
        ],
      },
    ],
  ])('refuses the same id with %s: every field is part of the contents', async (_what, change) => {
    const p = pipeline();
    expect((await answer(p, base)).status).toBe(202);
    expect(await answer(p, { ...base, ...change })).toMatchObject({
      status: 409,
      body: { details: [{ field: 'orderId' }] },
    });
  });

  it('treats the same contents written differently (key order, item order, the default priority) as a resubmission', async () => {
    const p = pipeline();
    expect((await answer(p, base)).status).toBe(202);
    const reordered = {
      items: [...base.items].reverse().map((i) => ({ quantity: i.quantity, sku: i.sku })),
      priority: 'standard',
      warehouseId: 'wh-1',
      orderId: 'f-1',
    };
    expect(await answer(p, reordered)).toMatchObject({ status: 202, body: { duplicate: true } });
    expect(p.sqs.sent).toHaveLength(1);
  });

  it('records nothing for the orders of a bulk request that could not be queued, and accepts them when resubmitted', async () => {
    const p = pipeline();
    const orders = ['g-1', 'g-2', 'g-3'].map((orderId) => ({ ...base, orderId }));
    p.sqs.failSends = (_queue, body) => (body.includes('"g-2"') ? 'ServiceUnavailable' : undefined);

    const first = await answer(p, { orders });

    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ accepted: 2, unavailable: 1 });
    expect(first.body.results[1]).toMatchObject({ orderId: 'g-2', error: 'service unavailable' });
    expect(await p.ledger.read('g-2')).toBeUndefined();
    expect(await p.ledger.inspect('g-2')).toBeUndefined();
    expect((await p.ledger.totals()).accepted).toBe(2);
    p.sqs.failSends = undefined;
    expect(await answer(p, orders[1])).toMatchObject({ status: 202, body: { orderId: 'g-2', status: 'accepted' } });
    expect(await answer(p, orders[1])).toMatchObject({ status: 202, body: { duplicate: true } });
  });

  it('takes over a claim whose request died before queueing, once its lease has run out — and queues it once', async () => {
    const p = pipeline();
    // The first request dies right after its claim (its first effect).
    expect(await p.post(base, 1)).toEqual({ crashed: true });
    expect(p.sqs.sent).toHaveLength(0);
    // A retry within the lease cannot know whether the first request is still queueing: 503, try later.
    expect(await answer(p, base)).toMatchObject({ status: 503 });
    expect(p.sqs.sent).toHaveLength(0);
    // Once the lease has run out, a retry takes the claim over and queues the order.
    expect(await answer(p, base)).toMatchObject({ status: 202, body: { status: 'accepted' } });
    expect(p.sqs.sent).toHaveLength(1);
    expect(await answer(p, base)).toMatchObject({ status: 202, body: { duplicate: true } });
    expect(p.sqs.sent).toHaveLength(1);
  });

  it('answers a request racing one that is still queueing the same order only once that one has queued it', async () => {
    const p = pipeline();
    const [a, b] = await Promise.all([answer(p, base), answer(p, base)]);
    expect([a.body.duplicate, b.body.duplicate].sort()).toEqual([true, undefined].sort());
    expect(p.sqs.sent).toHaveLength(1);
    expect((await p.ledger.inspect('f-1'))?.queued).toBe(true);
  });
});
