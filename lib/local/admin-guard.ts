/**
 * The guard of the local runtime's operator endpoints (admin.ts, dead-letter-routes.ts,
 * order-routes.ts) and of the dashboard's actions: who may read them, who may change things.
 *
 *   1. the Host header names this machine (127.0.0.1, localhost, [::1]) — no DNS rebinding;
 *   2. a request a page made is same-origin: its `Origin` (when sent) is this runtime's own, its
 *      `Sec-Fetch-Site` (when sent) is `same-origin` (or `none` for a read typed in the address bar);
 *   3. a write has a JSON content type — a cross-site page cannot send one without a CORS
 *      preflight, which this server never grants;
 *   4. a write a browser made carries the CSRF token the dashboard page was served with
 *      (`x-conveyor-csrf`), compared in constant time.
 *
 * Why the CLI needs no token: a browser sends `Origin` on every POST, PUT, PATCH and DELETE (the
 * Fetch standard, in every mode, same-origin included) and `Sec-Fetch-Site` on every request, and a
 * page can neither remove nor forge them (forbidden header names). The CLI (Node's fetch), curl and
 * scripts send neither. So a write without both did not come from a page: it came from a process on
 * this machine (the API listens on 127.0.0.1 only), which could read the data directory and run the
 * CLI anyway — a token would not stop it. A write with either came from a page, and a page only
 * learns the token by being served the dashboard, same-origin.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiRequest, ApiResponse, Route } from './api-server.ts';

/** The header the dashboard sends its CSRF token in. */
export const CSRF_HEADER = 'x-conveyor-csrf';

/** The message of the runtime's log line for each action a browser took (what, on what, how it ended). */
export const DASHBOARD_ACTION = 'dashboard action';

/**
 * This process's CSRF token: random, issued with the dashboard page, never logged. A new one each time
 * the runtime starts, so a page served before a restart is told to reload.
 */
const TOKEN = randomBytes(32).toString('base64url');
const TOKEN_DIGEST = createHash('sha256').update(TOKEN).digest();

const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

/** The token the dashboard page embeds. */
export function csrfToken(): string {
  return TOKEN;
}

/**
 * Refuses a request that did not come from a local, same-origin client, and a write without JSON or,
 * from a browser, without the page's token.
 * @example
 * const refused = guard(request);
 * if (refused) return refused;   // 403 or 415 with `{error, details: [{field, message}]}`
 */
export function guard(request: ApiRequest): ApiResponse | undefined {
  return (
    refuseForeignHost(request) ??
    refuseCrossOrigin(request) ??
    (isWrite(request) ? (refuseNonJson(request) ?? refuseWithoutToken(request)) : undefined)
  );
}

/** True when a browser made the request (it sends `Origin` or `Sec-Fetch-Site`; the CLI neither). */
export function fromBrowser(request: ApiRequest): boolean {
  return request.headers.origin !== undefined || request.headers['sec-fetch-site'] !== undefined;
}

/**
 * The order API's writes (`DELETE /orders/{id}` from the dashboard) held to the same rules when a
 * browser sends them, and logged; API clients (the CLI, scripts, tests) are served as before.
 */
export function guardBrowserWrites(routes: readonly Route[], audit: Audit): Route[] {
  return routes.map((route) =>
    route.method === 'GET' || route.method === 'HEAD'
      ? route
      : {
          ...route,
          handle: loggedForBrowsers(
            (request) =>
              fromBrowser(request)
                ? (refuseForeignHost(request) ??
                  refuseCrossOrigin(request) ??
                  refuseWithoutToken(request) ??
                  route.handle(request))
                : route.handle(request),
            audit,
          ),
        },
  );
}

/** Reports what operators did (a line in the runtime's log). */
export type Audit = (message: string, fields: Record<string, unknown>) => void;

/** Wraps a write handler: when a browser sent it, one log line says what was asked, of what, and how it ended. */
export function loggedForBrowsers(
  handle: (request: ApiRequest) => Promise<ApiResponse> | ApiResponse,
  audit: Audit,
): (request: ApiRequest) => Promise<ApiResponse> {
  return async (request) => {
    const response = await handle(request);
    if (fromBrowser(request))
      audit(DASHBOARD_ACTION, {
        ...describeAction(request),
        status: response.status,
        result: describeResult(response),
      });
    return response;
  };
}

function isWrite(request: ApiRequest): boolean {
  return request.method !== 'GET' && request.method !== 'HEAD';
}

function refuseForeignHost(request: ApiRequest): ApiResponse | undefined {
  const host = (request.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
  return LOOPBACK_HOSTS.includes(host)
    ? undefined
    : problem(403, 'forbidden', 'host', 'admin endpoints answer local clients only (Host 127.0.0.1 or localhost)');
}

function refuseCrossOrigin(request: ApiRequest): ApiResponse | undefined {
  const { origin } = request.headers;
  const site = request.headers['sec-fetch-site'];
  if (origin !== undefined && origin.toLowerCase() !== `http://${(request.headers.host ?? '').toLowerCase()}`) {
    return problem(
      403,
      'forbidden',
      'origin',
      `cross-origin request from ${origin} refused: operator actions come only from this runtime's own dashboard`,
    );
  }
  if (site !== undefined && site !== 'same-origin' && !(site === 'none' && !isWrite(request))) {
    return problem(
      403,
      'forbidden',
      'sec-fetch-site',
      `a ${site} request is refused: operator actions come only from this runtime's own dashboard`,
    );
  }
  return undefined;
}

function refuseNonJson(request: ApiRequest): ApiResponse | undefined {
  return /^application\/json\s*(;|$)/i.test(request.headers['content-type'] ?? '')
    ? undefined
    : problem(415, 'unsupported media type', 'content-type', 'admin requests must be application/json');
}

function refuseWithoutToken(request: ApiRequest): ApiResponse | undefined {
  if (!fromBrowser(request) || tokenMatches(request.headers[CSRF_HEADER])) return undefined;
  const why = request.headers[CSRF_HEADER] === undefined ? 'missing' : 'wrong';
  return problem(
    403,
    'forbidden',
    CSRF_HEADER,
    `${why} CSRF token: the dashboard sends the one its page was served with — reload the page (the runtime issues a new token each time it starts)`,
  );
}

/** Constant-time: both sides hashed first, so the lengths match and the time says nothing about the token. */
function tokenMatches(candidate: string | undefined): boolean {
  return candidate !== undefined && timingSafeEqual(createHash('sha256').update(candidate).digest(), TOKEN_DIGEST);
}

/** `{action, target}` of a write: `pause` of `wh-1/picking`, `cancel` of `order o-1`, … */
export function describeAction(request: ApiRequest): { action: string; target: string } {
  const body = parseObject(request.body);
  const { pipeline, stage, orderId } = request.params;
  if (pipeline !== undefined && stage !== undefined) {
    const verb = request.path.split('/').slice(5).map(decodeSegment).join(' ');
    const detail =
      verb === 'scale'
        ? ` to ${String(body.maxConcurrency)}`
        : verb === 'breaker'
          ? ` ${String(body.state)}`
          : verb === 'dlq redrive' && body.dryRun === true
            ? ' (dry run)'
            : '';
    return { action: `${verb}${detail}`, target: `${pipeline}/${stage}` };
  }
  if (orderId !== undefined && request.method === 'DELETE') return { action: 'cancel', target: `order ${orderId}` };
  return { action: request.method, target: request.path };
}

/** How an action ended, in a few words: `paused`, `breaker open`, `moved 2`, `order cancelled`, or the error. */
export function describeResult(response: ApiResponse): string {
  const body =
    typeof response.body === 'string' ? parseObject(response.body) : (response.body as Record<string, unknown>);
  if (response.status >= 400) {
    const detail = (body.details as Array<{ field?: string; message?: string }> | undefined)?.[0];
    return [
      body.error ?? `HTTP ${response.status}`,
      detail ? `${detail.field ?? ''} ${detail.message ?? ''}`.trim() : '',
    ]
      .filter(Boolean)
      .join(': ');
  }
  if (typeof body.breaker === 'object' && body.breaker !== null)
    return `breaker ${(body.breaker as { state: string }).state}`;
  if (typeof body.dryRun === 'boolean')
    return body.dryRun
      ? `would move ${String(body.matched)} of ${String(body.scanned)} scanned`
      : `moved ${Number(body.moved) + Number(body.finished)}`;
  if (typeof body.paused === 'boolean')
    return `${body.paused ? 'paused' : 'running'}, max concurrency ${String(body.maxConcurrency)}`;
  if (body.purged === true) return `purged, ${String(body.orders)} orders closed`;
  if (typeof body.status === 'string') return `order ${body.status}`;
  return `HTTP ${response.status}`;
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function problem(status: number, error: string, field: string, message: string): ApiResponse {
  return { status, body: { error, details: [{ field, message }] } };
}
