/** Claims (issue 10, item 1): concurrent submissions of one order id never both get a plain 202. */
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

const post = (body: unknown) =>
  api(toApiGatewayEvent({ method: 'POST', path: '/orders', resource: '/orders', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));

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
