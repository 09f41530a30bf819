/**
 * The workbench's small parts, without a runtime: the export format and its new order ids, the
 * filter flags' checks, and `orders cancel` against a stand-in API (ids from arguments and files, one
 * line per order, exit codes).
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEAD_LETTER_SINCE } from '../../lib/cli/dead-letter-flags.ts';
import { sinceFlag } from '../../lib/cli/since.ts';

const parseSince = sinceFlag('--since', DEAD_LETTER_SINCE);
import { ORDER_ID_PATTERN } from '../../lib/domain/order.ts';
import { exportLine, resubmissionId } from '../../lib/operations/dead-letter-export.ts';
import { DEAD_LETTER_KINDS, describeFilter, matchesFilter } from '../../lib/operations/dead-letter-filter.ts';
import { tempDir } from '../support/runtime-process.ts';
import { lines, runInProcess } from './support.ts';

describe('exported dead letters', () => {
  it('carry the order under a new id that stays a valid id, one generation further each time', () => {
    expect(resubmissionId('o-1')).toBe(`o-1.r1`);
    expect(resubmissionId(resubmissionId('o-1'))).toBe('o-1.r2');
    const longest = `a${'b'.repeat(63)}`;
    for (const id of [longest, resubmissionId(longest), 'x.r9', 'x.r999999']) {
      expect(ORDER_ID_PATTERN.test(resubmissionId(id)), id).toBe(true);
      expect(resubmissionId(id)).not.toBe(id);
    }
  });

  it('keep why and where the order died; poison keeps its raw body and no order', () => {
    const order = {
      orderId: 'o-7',
      warehouseId: 'wh-2',
      priority: 'express',
      items: [{ sku: 'SKU-1', quantity: 1 }],
      metadata: { note: 'x' },
    };
    const line = exportLine({
      messageId: 'm-7',
      orderId: 'o-7',
      kind: 'rejected',
      reason: 'no express carrier',
      stage: 'wh-2/delivery',
      receiveCount: 1,
      body: JSON.stringify({ v: 1, order, acceptedAt: '2025-01-01T00:00:00.000Z' }),
    });
    expect(line).toEqual({
      order: { ...order, orderId: resubmissionId('o-7') },
      deadLetter: {
        orderId: 'o-7',
        kind: 'rejected',
        reason: 'no express carrier',
        stage: 'wh-2/delivery',
        receiveCount: 1,
        messageId: 'm-7',
      },
    });
    expect(
      exportLine({ messageId: 'm-8', kind: 'poison', reason: 'body is not valid JSON', body: 'not json' }),
    ).toEqual({
      order: null,
      deadLetter: { kind: 'poison', reason: 'body is not valid JSON', messageId: 'm-8', body: 'not json' },
    });
  });
});

describe('dead-letter filters', () => {
  const letter = {
    messageId: 'm',
    orderId: 'o-1',
    kind: 'exhausted',
    reason: 'Scanner OFFLINE',
    deadLetteredAt: '2025-06-01T12:00:00.000Z',
    body: '',
  };

  it('hold all together: reason text in any case, kind, order, time', () => {
    expect(
      matchesFilter(letter, {
        grep: 'scanner offline',
        kinds: ['exhausted'],
        orderId: 'o-1',
        since: '2025-06-01T11:59:59.000Z',
      }),
    ).toBe(true);
    expect(matchesFilter(letter, { grep: 'printer' })).toBe(false);
    expect(matchesFilter(letter, { kinds: ['poison', 'rejected'] })).toBe(false);
    expect(matchesFilter(letter, { orderId: 'o-2' })).toBe(false);
    expect(matchesFilter(letter, { since: '2025-06-01T12:00:00.001Z' })).toBe(false);
    expect(describeFilter({ grep: 'x', kinds: ['poison', 'rejected'] })).toBe(
      'reason contains "x", kind poison|rejected',
    );
  });

  it('--since takes a span back from now or a time; anything else is refused with an example', () => {
    expect(parseSince('30m')).toEqual({ kind: 'ago', ms: 30 * 60_000 });
    expect(parseSince('7d')).toEqual({ kind: 'ago', ms: 7 * 86_400_000 });
    expect(parseSince('2025-06-01T12:00:00Z')).toEqual({ kind: 'at', epochMs: Date.parse('2025-06-01T12:00:00.000Z') });
    for (const bad of ['yesterday', '0m', '15d', '-5m', '2025-13-45'])
      expect(() => parseSince(bad), bad).toThrow(
        /^--since must be a duration up to 14 days \(SQS keeps a dead letter at most 14 days\) .*got "/,
      );
  });

  it('bad filter flags stop the command in one line naming the flag, before anything is touched', async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['--kind', 'sad'],
        new RegExp(`^conveyor: --kind must be ${DEAD_LETTER_KINDS.join(', ')} or several with commas, got "sad"`),
      ],
      [['--order', 'a/b'], /^conveyor: --order must be an order id/],
      [['--since', 'soon'], /^conveyor: --since must be a duration up to 14 days/],
      [['--grep', ''], /^conveyor: --grep must be 1–200 characters/],
    ];
    for (const [flags, message] of cases) {
      const run = await runInProcess(['dlq', 'redrive', '--stage', 'picking', ...flags, '--url', 'http://127.0.0.1:9']);
      expect(run.code, flags.join(' ')).toBe(2);
      expect(lines(run.stderr)).toHaveLength(1);
      expect(run.stderr).toMatch(message);
    }
  });
});

describe('conveyor orders cancel (local)', () => {
  let server: Server;
  let url: string;
  const deleted: string[] = [];
  beforeAll(async () => {
    server = createServer((request, response) => {
      const id = decodeURIComponent((request.url ?? '').split('/').at(-1) ?? '');
      if (request.method !== 'DELETE') return void response.writeHead(405).end();
      deleted.push(id);
      const [status, body] = id.startsWith('done-')
        ? [
            409,
            {
              error: 'order already delivered',
              order: { orderId: id, status: 'delivered', delivery: { carrier: 'paketfix', trackingNumber: 'PF9' } },
            },
          ]
        : id.startsWith('gone-')
          ? [404, { error: 'not found' }]
          : id.startsWith('bad-')
            ? [400, { error: 'invalid request', details: [{ field: 'orderId', message: 'refused' }] }]
            : [200, { orderId: id, status: 'cancelled', stage: 'packing' }];
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  beforeEach(() => void (deleted.length = 0));

  it('cancels each order once, one line each, exit 0 when all were cancelled', async () => {
    const run = await runInProcess(['orders', 'cancel', 'o-1', 'o-2', 'o-1', '--url', url]);
    expect(run.code).toBe(0);
    expect(deleted.sort()).toEqual(['o-1', 'o-2']);
    expect(lines(run.stdout).slice(1, 3)).toEqual([
      'o-1    cancelled  was waiting in packing',
      'o-2    cancelled  was waiting in packing',
    ]);
    expect(lines(run.stdout).at(-1)).toBe('2 cancelled · 0 already final · 0 not found');
  });

  it('--file: ids, JSON lines with orderId, `dlq export` lines (the dead order) and a JSON list; --json; exit 1 when any was not cancelled', async () => {
    const dir = tempDir('conveyor-cli-cancel-');
    try {
      const file = `${dir.path}/ids.txt`;
      const exported = JSON.stringify({ order: { orderId: 'x-1.r1' }, deadLetter: { orderId: 'x-1' } });
      writeFileSync(
        file,
        ['# to cancel', 'a-1', '', '{"orderId":"done-2","warehouseId":"wh-1"}', exported, 'gone-3', 'bad-4'].join('\n'),
      );
      const run = await runInProcess(['orders', 'cancel', '--file', file, '--json', '--url', url]);
      expect(run.code).toBe(1);
      expect(JSON.parse(run.stdout)).toEqual([
        { orderId: 'a-1', outcome: 'cancelled', status: 'cancelled', detail: 'was waiting in packing' },
        {
          orderId: 'done-2',
          outcome: 'already-final',
          status: 'delivered',
          detail: 'carrier paketfix, trackingNumber PF9',
        },
        { orderId: 'x-1', outcome: 'cancelled', status: 'cancelled', detail: 'was waiting in packing' },
        { orderId: 'gone-3', outcome: 'not-found' },
        {
          orderId: 'bad-4',
          outcome: 'failed',
          detail: expect.stringMatching(/^the runtime refused DELETE \/orders\/bad-4: 400 /),
        },
      ]);
      const list = `${dir.path}/list.json`;
      writeFileSync(list, JSON.stringify([{ orderId: 'l-1' }, { orderId: 'l-2' }]));
      expect((await runInProcess(['orders', 'cancel', '--file', list, '--url', url])).code).toBe(0);
      expect(deleted.filter((id) => id.startsWith('l-')).sort()).toEqual(['l-1', 'l-2']);
    } finally {
      dir.remove();
    }
  });

  it('a bad id or a bad line stops everything: nothing is cancelled, each bad line named', async () => {
    const dir = tempDir('conveyor-cli-cancel-');
    try {
      const file = `${dir.path}/ids.txt`;
      writeFileSync(file, ['ok-1', 'not an id', '{"order":null,"deadLetter":{"kind":"poison"}}', '{broken'].join('\n'));
      const run = await runInProcess(['orders', 'cancel', '--file', file, '--url', url]);
      expect(run.code).toBe(2);
      expect(deleted).toEqual([]);
      expect(lines(run.stderr)).toEqual([
        `${file}:2: "not an id" is not an order id`,
        `${file}:3: deadLetter.orderId: missing — this dead letter names no order`,
        `${file}:4: not valid JSON, or not an object with "orderId"`,
        `conveyor: 3 bad lines in ${file} (listed above); nothing was cancelled — one order id per line, or JSON with "orderId"`,
      ]);
      expect((await runInProcess(['orders', 'cancel', 'a/b', '--url', url])).stderr).toMatch(
        /^conveyor: "a\/b" is not an order id/,
      );
      expect((await runInProcess(['orders', 'cancel', '--url', url])).stderr).toMatch(
        /^conveyor: orders cancel needs order ids/,
      );
    } finally {
      dir.remove();
    }
  });
});
