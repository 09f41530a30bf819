/**
 * The guard of the operator endpoints and of the dashboard's actions (lib/local/admin-guard.ts), on
 * requests built by hand: a browser's write needs the page's CSRF token and the runtime's own
 * origin; the CLI (no Origin, no Sec-Fetch-Site: what Node's fetch sends) needs neither; each
 * action a browser takes is logged once with what, on what and how it ended. No server, no emulator.
 */
import { describe, expect, it } from 'vitest';
import { adminRoutes, StageControlStore, type AdminTarget } from '../../lib/local/admin.ts';
import {
  CSRF_HEADER,
  csrfToken,
  DASHBOARD_ACTION,
  describeAction,
  guard,
  guardBrowserWrites,
} from '../../lib/local/admin-guard.ts';
import type { ApiRequest, ApiResponse, Route } from '../../lib/local/api-server.ts';
import { allStages, loadTopology } from '../../lib/topology/index.ts';

const HOST = '127.0.0.1:3000';
const ORIGIN = `http://${HOST}`;

function request(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body = '',
  params: Record<string, string> = {},
): ApiRequest {
  return { method, path, params, query: new URLSearchParams(), headers: { host: HOST, ...headers }, body };
}

/** What Node's fetch sends for the CLI's writes (checked by hand: no Origin, no Sec-Fetch-Site). */
const cli = (method = 'POST') =>
  request(
    method,
    '/api/stages/wh-1/s/pause',
    { 'content-type': 'application/json', 'sec-fetch-mode': 'cors', 'user-agent': 'node' },
    '{}',
  );
/** What Chromium sends for the dashboard's same-origin fetch. */
const browser = (extra: Record<string, string> = {}, method = 'POST') =>
  request(
    method,
    '/api/stages/wh-1/s/pause',
    {
      'content-type': 'application/json',
      origin: ORIGIN,
      'sec-fetch-site': 'same-origin',
      'sec-fetch-mode': 'cors',
      [CSRF_HEADER]: csrfToken(),
      ...extra,
    },
    '{}',
  );

function refusal(response: ApiResponse | undefined): { status: number; field: string; message: string } | undefined {
  if (!response) return undefined;
  const { details } = response.body as { details: Array<{ field: string; message: string }> };
  return { status: response.status, field: details[0]!.field, message: details[0]!.message };
}

describe('guard', () => {
  it('lets the CLI write without a token: no Origin, no Sec-Fetch-Site, loopback Host, JSON', () => {
    expect(guard(cli())).toBeUndefined();
    expect(guard(cli('DELETE'))).toBeUndefined();
  });

  it("lets the dashboard write with the page's token from its own origin", () => {
    expect(guard(browser())).toBeUndefined();
    // Served as http://localhost:3000, the page's origin is that one (any case).
    const viaLocalhost = browser({ origin: 'http://LocalHost:3000' });
    expect(guard({ ...viaLocalhost, headers: { ...viaLocalhost.headers, host: 'localhost:3000' } })).toBeUndefined();
  });

  it('refuses a browser write without the token, or with a wrong one, with 403 naming the header and saying what to do', () => {
    const { [CSRF_HEADER]: _token, ...withoutToken } = browser().headers;
    expect(refusal(guard({ ...browser(), headers: withoutToken }))).toMatchObject({
      status: 403,
      field: CSRF_HEADER,
      message: expect.stringMatching(/^missing CSRF token: .*reload the page/),
    });
    const token = csrfToken();
    const sameLength = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    for (const wrong of [sameLength, `${token}x`, '', 'x']) {
      expect(refusal(guard(browser({ [CSRF_HEADER]: wrong }))), JSON.stringify(wrong)).toMatchObject({
        status: 403,
        field: CSRF_HEADER,
        message: expect.stringMatching(/^wrong CSRF token/),
      });
    }
    // A page that sends only Sec-Fetch-Site (no Origin) is a browser too.
    const { origin: _origin, [CSRF_HEADER]: _t, ...siteOnly } = browser().headers;
    expect(refusal(guard({ ...browser(), headers: siteOnly }))).toMatchObject({ status: 403, field: CSRF_HEADER });
  });

  it('refuses cross-origin requests with 403, the right token notwithstanding', () => {
    for (const origin of ['http://evil.example', 'null', 'http://127.0.0.1:9999', 'https://127.0.0.1:3000']) {
      expect(refusal(guard(browser({ origin }))), origin).toMatchObject({ status: 403, field: 'origin' });
    }
    for (const site of ['cross-site', 'same-site', 'none']) {
      expect(refusal(guard(browser({ 'sec-fetch-site': site }))), site).toMatchObject({
        status: 403,
        field: 'sec-fetch-site',
      });
    }
    // Reads: a cross-site page may not read either (a peek hides dead letters for a while).
    expect(refusal(guard(request('GET', '/api/orders', { 'sec-fetch-site': 'cross-site' })))).toMatchObject({
      status: 403,
      field: 'sec-fetch-site',
    });
  });

  it('serves reads without a token: the page, an address typed in the browser, the CLI', () => {
    expect(guard(request('GET', '/api/orders', { 'sec-fetch-site': 'same-origin' }))).toBeUndefined();
    expect(guard(request('GET', '/api/orders', { 'sec-fetch-site': 'none' }))).toBeUndefined();
    expect(guard(request('GET', '/api/orders'))).toBeUndefined();
  });

  it('keeps the earlier rules: a loopback Host only (no DNS rebinding), JSON writes only', () => {
    expect(refusal(guard({ ...cli(), headers: { ...cli().headers, host: 'evil.example:3000' } }))).toMatchObject({
      status: 403,
      field: 'host',
    });
    expect(refusal(guard({ ...cli(), headers: { ...cli().headers, 'content-type': 'text/plain' } }))).toMatchObject({
      status: 415,
      field: 'content-type',
    });
  });
});

describe('guardBrowserWrites (the order API: DELETE /orders/{id} from the dashboard)', () => {
  function orderApi(): { routes: Route[]; calls: string[]; logged: Array<Record<string, unknown>> } {
    const calls: string[] = [];
    const logged: Array<Record<string, unknown>> = [];
    const handle = (r: ApiRequest): ApiResponse => {
      calls.push(`${r.method} ${r.path}`);
      return { status: 200, body: JSON.stringify({ orderId: r.params.orderId, status: 'cancelled' }) };
    };
    const routes = guardBrowserWrites(
      [
        { method: 'GET', path: '/orders/{orderId}', handle },
        { method: 'DELETE', path: '/orders/{orderId}', handle },
      ],
      (message, fields) => logged.push({ message, ...fields }),
    );
    return { routes, calls, logged };
  }
  const cancel = (headers: Record<string, string>) => request('DELETE', '/orders/o-1', headers, '', { orderId: 'o-1' });

  it('serves API clients as before, unlogged', async () => {
    const { routes, calls, logged } = orderApi();
    expect((await routes[1]!.handle(cancel({}))).status).toBe(200);
    expect(
      (
        await routes[0]!.handle(
          request('GET', '/orders/o-1', { origin: 'http://evil.example' }, '', { orderId: 'o-1' }),
        )
      ).status,
    ).toBe(200);
    expect(calls).toEqual(['DELETE /orders/o-1', 'GET /orders/o-1']);
    expect(logged).toEqual([]);
  });

  it("refuses a browser's cancel without the token (nothing cancelled) and logs it; with the token it cancels and logs one line", async () => {
    const { routes, calls, logged } = orderApi();
    const refused = await routes[1]!.handle(cancel({ origin: ORIGIN, 'sec-fetch-site': 'same-origin' }));
    expect(refusal(refused)).toMatchObject({ status: 403, field: CSRF_HEADER });
    expect(calls).toEqual([]);
    expect(
      (await routes[1]!.handle(cancel({ origin: ORIGIN, 'sec-fetch-site': 'same-origin', [CSRF_HEADER]: csrfToken() })))
        .status,
    ).toBe(200);
    expect(calls).toEqual(['DELETE /orders/o-1']);
    expect(logged).toEqual([
      {
        message: DASHBOARD_ACTION,
        action: 'cancel',
        target: 'order o-1',
        status: 403,
        result: expect.stringMatching(/^forbidden: x-conveyor-csrf missing CSRF token/),
      },
      {
        message: DASHBOARD_ACTION,
        action: 'cancel',
        target: 'order o-1',
        status: 200,
        result: expect.stringContaining('cancelled'),
      },
    ]);
  });
});

describe("the admin routes' writes", () => {
  const topology = loadTopology();
  const stage = allStages(topology)[0]!;

  /** The admin routes over a stand-in event source mapping (only what pause, resume and scale touch). */
  function admin() {
    const logged: Array<{ message: string; fields: Record<string, unknown> }> = [];
    const mapping = {
      paused: false,
      maxConcurrency: stage.maxConcurrency,
      pause: () => void (mapping.paused = true),
      resume: () => void (mapping.paused = false),
      scale: (n: number) => void (mapping.maxConcurrency = n),
    };
    const target = {
      topology,
      mappings: new Map([[stage.key, mapping]]),
      controls: new StageControlStore(undefined),
      audit: (message: string, fields: Record<string, unknown>) => logged.push({ message, fields }),
    };
    const routes = adminRoutes(target as unknown as AdminTarget);
    const route = (suffix: string) => routes.find((r) => r.method === 'POST' && r.path.endsWith(`/${suffix}`))!;
    const call = (suffix: string, headers: Record<string, string>, body = '{}') =>
      route(suffix).handle(
        request('POST', `/api/stages/${stage.pipelineId}/${stage.name}/${suffix}`, headers, body, {
          pipeline: stage.pipelineId,
          stage: stage.name,
        }),
      );
    return { mapping, logged, call };
  }

  it("pauses for the CLI and for the dashboard with its token; one 'dashboard action' line for the dashboard's, none for the CLI's", async () => {
    const { mapping, logged, call } = admin();
    expect((await call('pause', cli().headers)).status).toBe(200);
    expect(logged.filter((l) => l.message === DASHBOARD_ACTION)).toEqual([]);
    mapping.paused = false;
    expect((await call('pause', browser().headers)).status).toBe(200);
    expect(mapping.paused).toBe(true);
    expect(logged.filter((l) => l.message === DASHBOARD_ACTION)).toEqual([
      {
        message: DASHBOARD_ACTION,
        fields: {
          action: 'pause',
          target: stage.key,
          status: 200,
          result: expect.stringMatching(new RegExp(`^paused\\b.*\\b${stage.maxConcurrency}$`)),
        },
      },
    ]);
  });

  it('refuses a forged resume (no token) with 403 and changes nothing; logs the refusal', async () => {
    const { mapping, logged, call } = admin();
    mapping.paused = true;
    const { [CSRF_HEADER]: _token, ...forged } = browser().headers;
    const response = await call('resume', forged);
    expect(refusal(response)).toMatchObject({ status: 403, field: CSRF_HEADER });
    expect(mapping.paused).toBe(true);
    expect(logged).toEqual([
      {
        message: DASHBOARD_ACTION,
        fields: {
          action: 'resume',
          target: stage.key,
          status: 403,
          result: expect.stringContaining('missing CSRF token'),
        },
      },
    ]);
  });

  it('names the action with what it asks: scale to N, breaker open, a dry-run redrive', () => {
    const at = (suffix: string, body: unknown) =>
      describeAction(
        request('POST', `/api/stages/${stage.pipelineId}/${stage.name}/${suffix}`, {}, JSON.stringify(body), {
          pipeline: stage.pipelineId,
          stage: stage.name,
        }),
      );
    expect(at('scale', { maxConcurrency: 7 })).toEqual({ action: 'scale to 7', target: stage.key });
    expect(at('breaker', { state: 'open' })).toEqual({ action: 'breaker open', target: stage.key });
    expect(at('dlq/redrive', { dryRun: true })).toEqual({ action: 'dlq redrive (dry run)', target: stage.key });
    expect(at('dlq/redrive', { filter: { grep: 'x' } })).toEqual({ action: 'dlq redrive', target: stage.key });
  });
});
