/**
 * `conveyor send` against a stand-in order API: bulk requests of at most 100, spread over the
 * warehouses, the summary with rejections grouped by reason, retries of what the API could not
 * queue, pacing, and the progress bar only on a terminal.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { exportLine, resubmissionId } from '../../lib/operations/dead-letter-export.ts';
import { tempDir } from '../support/runtime-process.ts';
import { lines, runInProcess } from './support.ts';

type Order = { orderId?: string; warehouseId: string; items: Array<{ sku: string; quantity: number }> };
let server: Server;
let url: string;
const requests: Order[][] = [];
let reply: (orders: Order[], attempt: number) => { status: number; body: unknown; headers?: Record<string, string> };

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      if (request.url === '/api/topology')
        return void response.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            pipelines: [
              { id: 'wh-1', stages: [] },
              { id: 'wh-2', stages: [] },
            ],
          }),
        );
      const orders = (JSON.parse(body) as { orders: Order[] }).orders;
      requests.push(orders);
      const { status, body: answer, headers = {} } = reply(orders, requests.length);
      response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));
beforeEach(() => {
  requests.length = 0;
  reply = (orders) => accepted(orders);
});

function accepted(orders: Order[]) {
  return {
    status: 202,
    body: {
      accepted: orders.length,
      duplicates: 0,
      rejected: 0,
      unavailable: 0,
      results: orders.map((o, index) => ({
        index,
        orderId: o.orderId,
        warehouseId: o.warehouseId,
        status: 'accepted',
      })),
    },
  };
}

describe('conveyor send', () => {
  it('generates valid orders in bulk requests of at most 100, round-robin over all warehouses', async () => {
    const run = await runInProcess(['send', '--count', '250', '--url', url]);
    expect(run.code).toBe(0);
    expect(requests.map((r) => r.length).sort((a, b) => a - b)).toEqual([50, 100, 100]);
    const all = requests.flat();
    expect(new Set(all.map((o) => o.orderId)).size).toBe(250);
    expect(all.filter((o) => o.warehouseId === 'wh-1')).toHaveLength(125);
    expect(all.every((o) => o.items.length >= 1 && o.items.every((i) => /^SKU-/.test(i.sku) && i.quantity >= 1))).toBe(
      true,
    );
    expect(lines(run.stdout)[0]).toMatch(/^sent 250 orders to wh-1, wh-2 in [\d.]+ s — [\d,]+ orders\/s$/);
    expect(run.stdout).toMatch(/^order ids: load-[a-z0-9]+-0 … load-[a-z0-9]+-249$/m);
  });

  it('groups rejections by reason, counts duplicates, and exits 1', async () => {
    reply = (orders) => ({
      status: 202,
      body: {
        results: orders.map((o, index) =>
          index % 10 === 0
            ? {
                index,
                orderId: o.orderId,
                error: 'invalid order',
                details: [{ field: `orders.${index}.items.0.quantity`, message: 'must be at least 1' }],
              }
            : index % 10 === 1
              ? { index, orderId: o.orderId, status: 'delivered', duplicate: true }
              : { index, orderId: o.orderId, status: 'accepted' },
        ),
      },
    });
    const run = await runInProcess(['send', '--count', '20', '--warehouse', 'wh-2', '--url', url]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^ {2}accepted\s+16$/m);
    expect(run.stdout).toMatch(/^ {2}duplicates\s+2$/m);
    expect(run.stdout).toMatch(/^ {2}rejected\s+2$/m);
    expect(run.stdout).toMatch(
      /^ +2 × invalid order — items\.0\.quantity: must be at least 1 \(e\.g\. load-\S+-0, load-\S+-10\)$/m,
    );
    const summary = JSON.parse(
      (await runInProcess(['send', '--count', '20', '--warehouse', 'wh-2', '--url', url, '--json'])).stdout,
    );
    expect(summary).toMatchObject({
      requested: 20,
      accepted: 16,
      duplicates: 2,
      rejected: 2,
      unavailable: 0,
      warehouses: ['wh-2'],
      rejections: [{ reason: 'invalid order — items.0.quantity: must be at least 1', count: 2 }],
    });
  });

  it('retries what the API could not queue (503 with Retry-After, per-order "service unavailable"), then reports the rest', async () => {
    reply = (orders, attempt) =>
      attempt === 1
        ? { status: 503, body: { error: 'service unavailable', details: [] }, headers: { 'retry-after': '1' } }
        : attempt === 2
          ? {
              status: 202,
              body: {
                results: orders.map((o, index) =>
                  index < 3
                    ? { index, orderId: o.orderId, error: 'service unavailable', details: [] }
                    : { index, orderId: o.orderId, status: 'accepted' },
                ),
              },
            }
          : accepted(orders);
    const slept: number[] = [];
    const run = await runInProcess(['send', '--count', '10', '--url', url], {
      sleep: async (ms) => void slept.push(ms),
    });
    expect(run.code).toBe(0);
    expect(requests.map((r) => r.length)).toEqual([10, 10, 3]);
    expect(slept[0]).toBe(1000);
    expect(run.stdout).toMatch(/^ {2}accepted\s+10$/m);

    reply = () => ({ status: 503, body: { error: 'service unavailable', details: [] } });
    const down = await runInProcess(['send', '--count', '5', '--url', url]);
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/^ {2}unavailable\s+5$/m);
    expect(down.stdout).toContain('5 orders could not be queued after retries');
  });

  it('a request the API refuses as a whole is one line', async () => {
    reply = () => ({
      status: 413,
      body: { error: 'request body too large', details: [{ field: 'body', message: 'is 2000000 bytes' }] },
    });
    const run = await runInProcess(['send', '--count', '5', '--url', url]);
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([
      'conveyor: the order API refused the request: 413 request body too large (body: is 2000000 bytes)',
    ]);
  });

  it('--rate paces the requests: chunks of the rate, one per second', async () => {
    const waits: number[] = [];
    const run = await runInProcess(['send', '--count', '30', '--rate', '10', '--url', url], {
      now: () => 0,
      sleep: async (ms) => void waits.push(ms),
    });
    expect(run.code).toBe(0);
    expect(requests.map((r) => r.length)).toEqual([10, 10, 10]);
    expect(waits.sort((a, b) => a - b)).toEqual([1000, 2000]);
  });

  it('--file: the valid lines with --skip-invalid, filling in --warehouse', async () => {
    const dir = tempDir('conveyor-cli-send-');
    try {
      const file = `${dir.path}/orders.jsonl`;
      writeFileSync(
        file,
        [
          '# two good, one bad',
          '{"orderId":"f-1","items":[{"sku":"SKU-1","quantity":2}]}',
          '',
          '{"orderId":"f-2","warehouseId":"wh-1","items":[{"sku":"SKU-2","quantity":1}]}',
          '{"orderId":"f-3","items":[]}',
        ].join('\n'),
      );
      const run = await runInProcess(['send', '--file', file, '--warehouse', 'wh-2', '--skip-invalid', '--url', url]);
      expect(run.code).toBe(0);
      expect(lines(run.stderr)).toEqual([`${file}:5: items: must hold at least one item`]);
      expect(requests.flat().map((o) => [o.orderId, o.warehouseId])).toEqual([
        ['f-1', 'wh-2'],
        ['f-2', 'wh-1'],
      ]);
      expect(lines(run.stdout)[0]).toMatch(/^sent 2 orders to wh-2, wh-1 in/);
    } finally {
      dir.remove();
    }
  });

  it('--file takes the lines `dlq export` writes: their "order" is sent; a bad one is named by line and field', async () => {
    const dir = tempDir('conveyor-cli-send-');
    try {
      const letter = (orderId: string, order: unknown) =>
        JSON.stringify({
          order,
          deadLetter: {
            orderId,
            stage: 'wh-1/packing',
            kind: 'rejected',
            reason: 'no box fits',
            messageId: `m-${orderId}`,
          },
        });
      const good = exportLine({
        messageId: 'm-1',
        orderId: 'o-1',
        kind: 'rejected',
        reason: 'no box fits',
        body: JSON.stringify({
          v: 1,
          order: { orderId: 'o-1', warehouseId: 'wh-1', priority: 'standard', items: [{ sku: 'SKU-1', quantity: 2 }] },
        }),
      });
      const file = `${dir.path}/dead.jsonl`;
      writeFileSync(
        file,
        [
          JSON.stringify(good),
          letter('o-2', { orderId: 'o-2.r1', warehouseId: 'wh-1', items: [{ sku: 'SKU-1', quantity: 0 }] }),
          letter('o-3', null),
          '{"orderId":"plain-1","warehouseId":"wh-2","items":[{"sku":"SKU-3","quantity":1}]}',
        ].join('\n'),
      );
      const refused = await runInProcess(['send', '--file', file, '--url', url]);
      expect(refused.code).toBe(2);
      expect(requests).toEqual([]);
      expect(lines(refused.stderr).slice(0, 2)).toEqual([
        `${file}:2: order.items.0.quantity: must be at least 1`,
        `${file}:3: order: this dead letter held no readable order (see deadLetter.body); write the order here by hand, or drop the line`,
      ]);
      const run = await runInProcess(['send', '--file', file, '--skip-invalid', '--url', url]);
      expect(run.code).toBe(0);
      expect(requests.flat()).toEqual([
        good.order,
        { orderId: 'plain-1', warehouseId: 'wh-2', items: [{ sku: 'SKU-3', quantity: 1 }] },
      ]);
      expect(good.order?.orderId).toBe(resubmissionId('o-1'));
    } finally {
      dir.remove();
    }
  });

  it('draws a progress bar on a terminal (stderr), and colours the summary', async () => {
    let stderr = '';
    const run = await runInProcess(['send', '--count', '300', '--url', url], {
      stderr: { write: (text: string) => (stderr += text), isTTY: true, columns: 100 },
      stdout: { write: () => true, isTTY: true },
      env: {},
    });
    expect(run.code).toBe(0);
    expect(stderr).toMatch(/\r\[█+░*\] {2}300\/300 {2}100%/);
    expect(stderr.endsWith('\r')).toBe(true); // cleared before the summary
  });
});
