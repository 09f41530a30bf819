/**
 * Where the CLI looks for the local runtime (issue 12, item 5): --url as people type it, then
 * CONVEYOR_URL, then CONVEYOR_PORT — the variable `npm start` listens on — then the default.
 * Against a stand-in runtime that records what reached it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../support/runtime-process.ts';
import { lines, runChild, runInProcess } from './support.ts';

let server: Server;
let port: number;
const seen: string[] = [];
/** Dead letters the stand-in holds per stage. */
const HELD = 15;

beforeAll(async () => {
  server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    seen.push(`${request.headers.host}${url.pathname}`);
    const send = (status: number, body: unknown) =>
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url.pathname === '/api/topology')
      return send(200, {
        pipelines: ['wh-1', 'wh-2'].map((id) => ({
          id,
          stages: ['picking', 'packing', 'delivery'].map((name) => ({ name, maxConcurrency: 2 })),
        })),
      });
    if (url.pathname === '/api/stats')
      return send(200, { pipelines: { 'wh-1': { picking: { dlq: HELD } }, 'wh-2': { picking: { dlq: HELD } } } });
    const dlq = /^\/api\/stages\/([^/]+)\/([^/]+)\/dlq$/.exec(url.pathname);
    if (dlq) {
      const limit = Number(url.searchParams.get('limit'));
      const messages = Array.from({ length: Math.min(limit, HELD) }, (_, i) => ({
        messageId: `m-${i}`,
        orderId: `o-${dlq[1]}-${i}`,
        kind: 'exhausted',
        reason: 'scanner offline',
        body: '{}',
      }));
      return send(200, { stage: `${dlq[1]}/${dlq[2]}`, messages });
    }
    send(404, { error: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));
beforeEach(() => void seen.splice(0));

/** `orders get` makes one request to the runtime; the stand-in answers 404 (no such order). */
async function reached(args: string[], env: Record<string, string>): Promise<string[]> {
  const run = await runInProcess(['orders', 'get', 'o-1', ...args], { env });
  expect(run.stderr, 'the stand-in answered').toMatch(/o-1/);
  return seen.splice(0);
}

describe('the local runtime address', () => {
  it('follows CONVEYOR_PORT, as npm start does', async () => {
    expect(await reached([], { CONVEYOR_PORT: String(port) })).toEqual([`127.0.0.1:${port}/orders/o-1`]);
  });

  it('prefers CONVEYOR_URL to CONVEYOR_PORT, and --url to both', async () => {
    const elsewhere = String(await freePort());
    expect(await reached([], { CONVEYOR_URL: `http://127.0.0.1:${port}`, CONVEYOR_PORT: elsewhere })).toHaveLength(1);
    expect(
      await reached(['--url', `127.0.0.1:${port}`], {
        CONVEYOR_URL: `http://127.0.0.1:${elsewhere}`,
        CONVEYOR_PORT: elsewhere,
      }),
    ).toHaveLength(1);
  });

  it.each([['localhost:%d'], ['127.0.0.1:%d'], [':%d'], ['%d'], ['http://localhost:%d/']])(
    'understands --url %s',
    async (form) => {
      const requests = await reached(['--url', form.replace('%d', String(port))], {});
      expect(requests).toHaveLength(1);
      expect(requests[0]).toMatch(new RegExp(`^(localhost|127\\.0\\.0\\.1):${port}/orders/o-1$`));
    },
  );

  it('refuses a CONVEYOR_PORT that is no port, in one line naming it (exit 2)', async () => {
    const run = await runInProcess(['status'], { env: { CONVEYOR_PORT: 'eighty' } });
    expect(run.code).toBe(2);
    expect(lines(run.stderr)).toEqual([
      expect.stringMatching(/^conveyor: CONVEYOR_PORT must be a port number from 1 to 65535, got "eighty"/),
    ]);
  });

  it('says which runtime it did not find: the one CONVEYOR_PORT names (a child process, as a user runs it)', async () => {
    const nobody = await freePort();
    const run = await runChild(['status'], { CONVEYOR_PORT: String(nobody) });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`http://127.0.0.1:${nobody}`);
  });
});

describe("commander's own errors", () => {
  it('end in one sentence, not a period followed by our dash', async () => {
    const run = await runInProcess(['status', '--target', 'gcp']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/local, aws — run with --help/);
    expect(run.stderr).not.toMatch(/\. —/);
  });
});

describe('dlq peek --json', () => {
  it('says when it shows fewer dead letters than the DLQ holds — in the JSON and on stderr', async () => {
    const limit = HELD - 5;
    const run = await runInProcess([
      'dlq',
      'peek',
      '--stage',
      'picking',
      '--limit',
      String(limit),
      '--json',
      '--url',
      `http://127.0.0.1:${port}`,
    ]);
    expect(run.code).toBe(0);
    const entries = JSON.parse(run.stdout) as Array<{
      stage: string;
      messages: unknown[];
      limit: number;
      total: number;
      truncated: boolean;
    }>;
    expect(entries.map((e) => [e.stage, e.messages.length, e.limit, e.total, e.truncated])).toEqual([
      ['wh-1/picking', limit, limit, HELD, true],
      ['wh-2/picking', limit, limit, HELD, true],
    ]);
    expect(lines(run.stderr)).toHaveLength(2);
    expect(run.stderr).toContain('wh-1/picking');
  });

  it('and when it shows them all', async () => {
    // Asked for more than there are, and for exactly as many: complete both times.
    expect(
      JSON.parse(
        (
          await runInProcess([
            'dlq',
            'peek',
            '--stage',
            'picking',
            '--limit',
            String(HELD + 5),
            '--json',
            '--url',
            `http://127.0.0.1:${port}`,
          ])
        ).stdout,
      )[0].truncated,
    ).toBe(false);
    const run = await runInProcess([
      'dlq',
      'peek',
      '--stage',
      'picking',
      '--limit',
      String(HELD),
      '--json',
      '--url',
      `http://127.0.0.1:${port}`,
    ]);
    const entries = JSON.parse(run.stdout) as Array<{ messages: unknown[]; truncated: boolean }>;
    expect(entries.map((e) => [e.messages.length, e.truncated])).toEqual([
      [HELD, false],
      [HELD, false],
    ]);
    expect(run.stderr).toBe('');
  });
});
