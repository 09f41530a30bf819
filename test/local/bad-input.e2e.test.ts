/**
 * Hand-picked bad input at the HTTP edge of the running local runtime: always a 4xx with a JSON
 * error naming the field, never a 5xx, never a hang (each request is bounded), and nothing
 * enqueued or recorded.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, startRuntime, type RuntimeProcess } from '../support/runtime-process.ts';

let runtime: RuntimeProcess;
beforeAll(async () => {
  runtime = await startRuntime({ args: ['--in-memory'] });
});
afterAll(() => runtime?.stop());

const order = (extra: Record<string, unknown> = {}) => ({
  warehouseId: 'wh-1',
  items: [{ sku: 'SKU-1', quantity: 1 }],
  ...extra,
});

/** A raw request (any method, path, headers and body), answered within 5 s. */
function raw(
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const url = new URL(runtime.url);
    const req = request({ host: url.hostname, port: url.port, path, method, headers, timeout: 5000 }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch {
          reject(new Error(`not JSON (${res.statusCode}): ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} hung`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function accepted(): Promise<number> {
  return (await getJson(`${runtime.url}/api/stats`)).body.totals.accepted;
}

const CASES: Array<
  [string, string, string, string | Buffer | undefined, Record<string, string> | undefined, number, string]
> = [
  [
    'truncated JSON',
    'POST',
    '/orders',
    '{"warehouseId": "wh-1", "items": [{"sku": "SKU-1", "qua',
    undefined,
    400,
    'body',
  ],
  ['a lone brace', 'POST', '/orders', '{', undefined, 400, 'body'],
  ['JSON null', 'POST', '/orders', 'null', undefined, 400, 'body'],
  ['a number', 'POST', '/orders', '42', undefined, 400, 'body'],
  ['deep nesting', 'POST', '/orders', `${'['.repeat(100_000)}${']'.repeat(100_000)}`, undefined, 400, 'body'],
  [
    'deep nesting inside an order',
    'POST',
    '/orders',
    JSON.stringify(order({ metadata: { a: '{'.repeat(200) } })),
    undefined,
    202,
    '',
  ],
  ['an empty items array', 'POST', '/orders', JSON.stringify(order({ items: [] })), undefined, 400, 'items'],
  [
    'a huge items array',
    'POST',
    '/orders',
    JSON.stringify(order({ items: Array.from({ length: 5000 }, (_, i) => ({ sku: `SKU-${i}`, quantity: 1 })) })),
    undefined,
    400,
    'items',
  ],
  [
    'a huge string',
    'POST',
    '/orders',
    JSON.stringify(order({ customerId: 'c'.repeat(200_000) })),
    undefined,
    400,
    'customerId',
  ],
  [
    'control characters in a sku',
    'POST',
    '/orders',
    JSON.stringify(order({ items: [{ sku: 'SKU-\u0000\u0007', quantity: 1 }] })),
    undefined,
    400,
    'items.0.sku',
  ],
  [
    'a quantity as a string',
    'POST',
    '/orders',
    JSON.stringify(order({ items: [{ sku: 'SKU-1', quantity: '1' }] })),
    undefined,
    400,
    'items.0.quantity',
  ],
  [
    'a negative quantity',
    'POST',
    '/orders',
    JSON.stringify(order({ items: [{ sku: 'SKU-1', quantity: -5 }] })),
    undefined,
    400,
    'items.0.quantity',
  ],
  ['a float warehouse', 'POST', '/orders', JSON.stringify(order({ warehouseId: 1.5 })), undefined, 400, 'warehouseId'],
  [
    '101 orders in bulk',
    'POST',
    '/orders',
    JSON.stringify({ orders: Array.from({ length: 101 }, () => order()) }),
    undefined,
    400,
    'orders',
  ],
  [
    'a body over 1 MiB',
    'POST',
    '/orders',
    JSON.stringify(order({ metadata: { pad: 'x'.repeat(1_100_000) } })),
    undefined,
    413,
    'body',
  ],
  ['a body over API Gateway’s 10 MB', 'POST', '/orders', Buffer.alloc(11 * 1024 * 1024, 32), undefined, 413, 'body'],
  ['text/plain', 'POST', '/orders', JSON.stringify(order()), { 'content-type': 'text/plain' }, 415, 'content-type'],
  [
    'form encoding',
    'POST',
    '/orders',
    'warehouseId=wh-1',
    { 'content-type': 'application/x-www-form-urlencoded' },
    415,
    'content-type',
  ],
  ['no content type', 'POST', '/orders', JSON.stringify(order()), {}, 415, 'content-type'],
  ['PUT on /orders', 'PUT', '/orders', JSON.stringify(order()), undefined, 405, 'method'],
  ['PUT on an order', 'PUT', '/orders/o-1', undefined, undefined, 405, 'method'],
  ['DELETE on an unknown order (cancel)', 'DELETE', '/orders/o-1', undefined, undefined, 404, 'orderId'],
  ['a traversal in an id', 'GET', '/orders/..%2F..%2Fetc%2Fpasswd', undefined, undefined, 400, 'orderId'],
  ['a NUL in an id', 'GET', '/orders/a%00b', undefined, undefined, 400, 'orderId'],
  ['broken percent-encoding', 'GET', '/orders/%E0%A4%A', undefined, undefined, 400, 'path'],
  ['an id too long', 'GET', `/orders/${'a'.repeat(300)}`, undefined, undefined, 400, 'orderId'],
  ['a path below an order', 'GET', '/orders/o-1/secrets', undefined, undefined, 404, 'path'],
  ['a unicode id', 'GET', '/orders/%F0%9F%99%82', undefined, undefined, 400, 'orderId'],
];

describe('bad input at the HTTP edge', () => {
  it.each(CASES)('%s → %s %s answers %#', async (_name, method, path, body, headers, status, field) => {
    const before = await accepted();
    const response = await raw(method, path, body, headers);

    expect(response.status).toBe(status);
    if (status >= 400) {
      expect(response.body.error).toEqual(expect.any(String));
      expect(response.body.details.map((d: { field: string }) => d.field)).toContain(field);
      expect(await accepted()).toBe(before);
    }
  });

  it('is still healthy afterwards', async () => {
    expect((await getJson(`${runtime.url}/healthz`)).status).toBe(200);
  });
});
