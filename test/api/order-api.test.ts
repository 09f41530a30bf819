/**
 * The intake handler with API Gateway REST proxy events, against the embedded emulators:
 * status codes and bodies a client sees, and what ends up (or does not) in the queues and table.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createOrderApi, MAX_BODY_BYTES } from '../../lib/api/order-api.ts';
import { PickingInput } from '../../lib/domain/messages.ts';
import { toApiGatewayEvent } from '../../lib/local/lambda-events.ts';
import { SqsQueues } from '../../lib/runtime/ports.ts';
import { startLocalAws, type LocalAws } from '../support/local-aws.ts';

let aws: LocalAws;
let api: ReturnType<typeof createOrderApi>;
beforeAll(async () => {
  aws = await startLocalAws();
  api = createOrderApi({ config: aws.intakeConfig(), queues: new SqsQueues(aws.sqs), ledger: aws.ledger });
});
afterAll(() => aws?.stop());
beforeEach(() => aws.purgeAll());

const json = { 'Content-Type': 'application/json' };
const post = (body: unknown, headers: Record<string, string> = json) =>
  api(
    toApiGatewayEvent({
      method: 'POST',
      path: '/orders',
      resource: '/orders',
      headers,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
const get = (orderId: string) =>
  api(
    toApiGatewayEvent({
      method: 'GET',
      path: `/orders/${orderId}`,
      resource: '/orders/{orderId}',
      pathParameters: { orderId },
    }),
  );
const bodyOf = (response: { body: string }) => JSON.parse(response.body);
const queued = async () =>
  (await Promise.all(['wh-1', 'wh-2'].map((w) => aws.depth(aws.stage(w, 'picking').queueUrl)))).reduce(
    (a, b) => a + b,
    0,
  );
const anOrder = (extra: Record<string, unknown> = {}) => ({
  warehouseId: 'wh-1',
  items: [{ sku: 'SKU-1', quantity: 2 }],
  ...extra,
});

describe('POST /orders', () => {
  it('accepts an order: 202, queued to its warehouse first stage, recorded as accepted', async () => {
    const response = await post(
      anOrder({ orderId: 'api-1', warehouseId: 'wh-2', shipTo: { country: 'FR', postalCode: '75001' } }),
    );

    expect(response.statusCode).toBe(202);
    expect(response.headers?.['content-type']).toMatch(/^application\/json/);
    expect(bodyOf(response)).toEqual({ orderId: 'api-1', warehouseId: 'wh-2', status: 'accepted' });
    const [message] = await aws.drain(aws.stage('wh-2', 'picking').queueUrl);
    const body = PickingInput.parse(JSON.parse(message?.Body ?? ''));
    expect(body.order).toMatchObject({ orderId: 'api-1', priority: 'standard' });
    expect(message?.MessageAttributes?.orderId?.StringValue).toBe('api-1');
    expect(message?.MessageAttributes?.traceId?.StringValue).toBeTruthy();
    expect(await aws.ledger.read('api-1')).toMatchObject({ status: 'accepted', stage: 'picking', warehouseId: 'wh-2' });
  });

  it('generates an order id when none is given', async () => {
    const response = await post(anOrder());
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response).orderId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('carries the caller correlation id into the queue message', async () => {
    await post(anOrder({ orderId: 'api-corr' }), { ...json, 'X-Correlation-Id': 'req-42' });
    const [message] = await aws.drain(aws.stage('wh-1', 'picking').queueUrl);
    expect(message?.MessageAttributes?.traceId?.StringValue).toBe('req-42');
  });

  it('does not process a resubmitted order twice, and answers with its current status', async () => {
    expect((await post(anOrder({ orderId: 'api-dup' }))).statusCode).toBe(202);
    const again = await post(anOrder({ orderId: 'api-dup' }));

    expect(again.statusCode).toBe(202);
    expect(bodyOf(again)).toEqual({ orderId: 'api-dup', warehouseId: 'wh-1', status: 'accepted', duplicate: true });
    expect(await queued()).toBe(1);
  });

  it('refuses a reused order id with different contents: 409', async () => {
    await post(anOrder({ orderId: 'api-reuse' }));
    const response = await post(anOrder({ orderId: 'api-reuse', items: [{ sku: 'SKU-2', quantity: 1 }] }));

    expect(response.statusCode).toBe(409);
    expect(bodyOf(response).details[0]).toMatchObject({ field: 'orderId' });
    expect(await queued()).toBe(1);
  });

  it.each([
    ['a missing warehouse', { items: [{ sku: 'SKU-1', quantity: 1 }] }, 'warehouseId'],
    ['an unknown warehouse', anOrder({ warehouseId: 'wh-9' }), 'warehouseId'],
    ['no items', anOrder({ items: [] }), 'items'],
    ['a zero quantity', anOrder({ items: [{ sku: 'SKU-1', quantity: 0 }] }), 'items.0.quantity'],
    ['a fractional quantity', anOrder({ items: [{ sku: 'SKU-1', quantity: 1.5 }] }), 'items.0.quantity'],
    ['a quantity given as a string', anOrder({ items: [{ sku: 'SKU-1', quantity: '2' }] }), 'items.0.quantity'],
    ['a lowercase sku', anOrder({ items: [{ sku: 'sku-1', quantity: 1 }] }), 'items.0.sku'],
    [
      'the same sku twice',
      anOrder({
        items: [
          { sku: 'SKU-1', quantity: 1 },
          { sku: 'SKU-1', quantity: 2 },
        ],
      }),
      'items.1.sku',
    ],
    ['an order id with a slash', anOrder({ orderId: '../etc/passwd' }), 'orderId'],
    ['an unknown field', anOrder({ colour: 'red' }), ''],
    ['an unserved country', anOrder({ shipTo: { country: 'AQ', postalCode: '00000' } }), 'shipTo.country'],
    [
      'express where no carrier offers it',
      anOrder({ priority: 'express', shipTo: { country: 'PL', postalCode: '00-001' } }),
      'shipTo.country',
    ],
    ['an unknown priority', anOrder({ priority: 'urgent' }), 'priority'],
    ['a JSON array', [anOrder()], 'body'],
    ['a JSON string', 'hello', 'body'],
    [
      '101 items',
      anOrder({ items: Array.from({ length: 101 }, (_, i) => ({ sku: `SKU-${i}`, quantity: 1 })) }),
      'items',
    ],
  ])('rejects %s with 400 naming the field, and queues nothing', async (_case, body, field) => {
    const response = await post(typeof body === 'string' ? JSON.stringify(body) : body);

    expect(response.statusCode).toBe(400);
    const problem = bodyOf(response);
    expect(problem.error).toEqual(expect.any(String));
    expect(problem.details.map((d: { field: string }) => d.field)).toContain(field === '' ? 'body' : field);
    expect(await queued()).toBe(0);
  });

  it('rejects malformed JSON with 400', async () => {
    const response = await post('{"warehouseId": "wh-1", "items": [');
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).details[0]).toMatchObject({
      field: 'body',
      message: expect.stringMatching(/^is not valid JSON/),
    });
  });

  it('rejects an empty body with 400', async () => {
    expect((await post('')).statusCode).toBe(400);
  });

  it('rejects a body that is not JSON by content type with 415', async () => {
    const response = await post(anOrder(), { 'content-type': 'text/plain' });
    expect(response.statusCode).toBe(415);
    expect(bodyOf(response).details[0].field).toBe('content-type');
    expect((await post(anOrder(), {})).statusCode).toBe(415);
    expect((await post(anOrder(), { 'content-type': 'application/json; charset=utf-8' })).statusCode).toBe(202);
  });

  it('rejects an oversized body with 413', async () => {
    const response = await post(`{"pad": "${'x'.repeat(MAX_BODY_BYTES)}"}`);
    expect(response.statusCode).toBe(413);
    expect(await queued()).toBe(0);
  });

  it('rejects a bad correlation id header with 400', async () => {
    expect((await post(anOrder(), { ...json, 'x-correlation-id': 'has spaces' })).statusCode).toBe(400);
  });
});

describe('POST /orders (bulk)', () => {
  it('accepts up to 100 orders at once with one result per order, and rejects the bad ones alone', async () => {
    const orders = [
      ...Array.from({ length: 30 }, (_, i) =>
        anOrder({ orderId: `bulk-${i}`, warehouseId: i % 2 === 0 ? 'wh-1' : 'wh-2' }),
      ),
      anOrder({ orderId: 'bulk-bad', items: [{ sku: 'SKU-1', quantity: -1 }] }),
      anOrder({ orderId: 'bulk-0' }),
    ];
    const response = await post({ orders });

    expect(response.statusCode).toBe(202);
    const body = bodyOf(response);
    expect(body).toMatchObject({ accepted: 30, rejected: 2, duplicates: 0 });
    expect(body.results).toHaveLength(32);
    expect(body.results[30]).toMatchObject({
      index: 30,
      orderId: 'bulk-bad',
      details: [{ field: 'orders.30.items.0.quantity' }],
    });
    expect(body.results[31]).toMatchObject({ index: 31, details: [{ field: 'orders.31.orderId' }] });
    expect(await aws.depth(aws.stage('wh-1', 'picking').queueUrl)).toBe(15);
    expect(await aws.depth(aws.stage('wh-2', 'picking').queueUrl)).toBe(15);
  });

  it('answers 400 when no order of the batch is valid', async () => {
    const response = await post({ orders: [{ warehouseId: 'wh-1' }, 42] });
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).results).toHaveLength(2);
    expect(await queued()).toBe(0);
  });

  it.each([
    ['more than 100 orders', { orders: Array.from({ length: 101 }, () => anOrder()) }, 'orders'],
    ['an empty list', { orders: [] }, 'orders'],
    ['orders that is not a list', { orders: 'all of them' }, 'orders'],
  ])('rejects %s with 400', async (_case, body, field) => {
    const response = await post(body);
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).details[0].field).toBe(field);
    expect(await queued()).toBe(0);
  });
});

describe('GET /orders/{orderId}', () => {
  it('returns status, stage and history', async () => {
    await post(anOrder({ orderId: 'api-get' }));
    const response = await get('api-get');

    expect(response.statusCode).toBe(200);
    const body = bodyOf(response);
    expect(body).toMatchObject({ orderId: 'api-get', status: 'accepted', stage: 'picking', warehouseId: 'wh-1' });
    expect(body.history).toEqual([{ at: expect.any(String), status: 'accepted', by: 'intake' }]);
    expect(body.payloadHash).toBeUndefined();
  });

  it('answers 404 for an unknown order', async () => {
    const response = await get('never-seen');
    expect(response.statusCode).toBe(404);
    expect(bodyOf(response).details[0].field).toBe('orderId');
  });

  it('answers 400 for an id that could never be valid', async () => {
    expect((await get('..%2F..%2Fetc')).statusCode).toBe(400);
    expect((await get('a'.repeat(65))).statusCode).toBe(400);
  });
});

describe('routing', () => {
  it('answers 405 with Allow for a method a resource does not have', async () => {
    const response = await api(toApiGatewayEvent({ method: 'DELETE', path: '/orders', resource: '/orders' }));
    expect(response.statusCode).toBe(405);
    expect(response.headers?.allow).toBe('POST');
  });

  it('answers 404 for an unknown path', async () => {
    expect((await api(toApiGatewayEvent({ method: 'GET', path: '/admin', resource: '/admin' }))).statusCode).toBe(404);
  });
});

describe('when a dependency is down', () => {
  it('answers 503, and neither records nor queues the order', async () => {
    const broken = createOrderApi({
      config: {
        ...aws.intakeConfig(),
        entryQueueUrls: new Map([
          ['wh-1', aws.stage('wh-1', 'picking').queueUrl.replace('conveyor-wh-1-picking', 'gone')],
        ]),
      },
      queues: new SqsQueues(aws.sqs),
      ledger: aws.ledger,
    });
    const response = await broken(
      toApiGatewayEvent({
        method: 'POST',
        path: '/orders',
        resource: '/orders',
        headers: json,
        body: JSON.stringify(anOrder({ orderId: 'api-down' })),
      }),
    );

    expect(response.statusCode).toBe(503);
    expect(response.headers?.['retry-after']).toBe('1');
    expect(await aws.ledger.read('api-down')).toBeUndefined();
  });
});
