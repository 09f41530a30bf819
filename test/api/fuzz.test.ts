/**
 * Property-based fuzzing of `POST /orders` (fast-check): whatever the body and headers, the
 * intake answers a 2xx or a 4xx — never a 5xx — with a JSON body; a 4xx names at least one field;
 * and a rejected request enqueues nothing. Against the embedded emulators.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrderApi } from '../../lib/api/order-api.ts';
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

const queued = async () => (await Promise.all(['wh-1', 'wh-2'].map((w) => aws.depth(aws.stage(w, 'picking').queueUrl)))).reduce((a, b) => a + b, 0);

async function post(body: string, contentType: string | undefined) {
  const response = await api(toApiGatewayEvent({ method: 'POST', path: '/orders', resource: '/orders', headers: contentType === undefined ? {} : { 'content-type': contentType }, body }));
  return { status: response.statusCode, body: JSON.parse(response.body) as { error?: string; details?: Array<{ field: unknown; message: unknown }> } };
}

/** The contract every answer keeps, good or bad input. */
function expectContract(response: Awaited<ReturnType<typeof post>>): void {
  expect(response.status).toBeGreaterThanOrEqual(200);
  expect(response.status).toBeLessThan(500);
  if (response.status >= 400) {
    expect(typeof response.body.error).toBe('string');
    expect(response.body.details?.length).toBeGreaterThan(0);
    for (const detail of response.body.details ?? []) {
      expect(typeof detail.field).toBe('string');
      expect(typeof detail.message).toBe('string');
    }
  }
}

const sku = fc.stringMatching(/^[A-Z0-9][A-Z0-9-]{0,8}$/);
const validOrder = fc.record({
  warehouseId: fc.constantFrom('wh-1', 'wh-2'),
  items: fc.uniqueArray(fc.record({ sku, quantity: fc.integer({ min: 1, max: 1000 }) }), { minLength: 1, maxLength: 5, selector: (i) => i.sku }),
});

/** A value of any JSON shape, nested a little, with awkward strings. */
const anyJson = fc.jsonValue({ maxDepth: 4 });
const awkwardString = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('', ' ', '\u0000', '\u202e', '../../etc', '<script>', 'x'.repeat(300), '🙂'));

/** One mutation of a valid order: a field removed, retyped or replaced by something odd. */
const mutated = fc.tuple(validOrder, fc.constantFrom('warehouseId', 'items', 'orderId', 'priority', 'shipTo', 'metadata', 'extra'), fc.oneof(anyJson, awkwardString)).map(([order, field, value]) => {
  const copy: Record<string, unknown> = { ...order };
  if (field === 'items' && Array.isArray(value)) copy.items = value;
  else copy[field] = value;
  return copy;
});

describe('POST /orders under fuzzing', () => {
  it('answers any JSON body with a 2xx or a 4xx naming a field — never a 5xx — and enqueues nothing when it refuses', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyJson, mutated, fc.record({ orders: fc.array(fc.oneof(validOrder, mutated, anyJson), { maxLength: 8 }) })), async (body) => {
        const before = await queued();
        const response = await post(JSON.stringify(body), 'application/json');
        expectContract(response);
        if (response.status >= 400) expect(await queued()).toBe(before);
      }),
      { numRuns: 200 },
    );
  });

  it('answers any byte string with any content type the same way', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ maxLength: 200 })), fc.constantFrom(undefined, 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'APPLICATION/JSON', ''), async (body, contentType) => {
        const before = await queued();
        const response = await post(body, contentType);
        expectContract(response);
        if (response.status >= 400) expect(await queued()).toBe(before);
      }),
      { numRuns: 200 },
    );
  });

  it('accepts every valid order, exactly as sent', async () => {
    await fc.assert(
      fc.asyncProperty(validOrder, async (order) => {
        const response = await post(JSON.stringify(order), 'application/json');
        expect(response.status).toBe(202);
      }),
      { numRuns: 50 },
    );
  });
});
