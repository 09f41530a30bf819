/**
 * The local HTTP API on 127.0.0.1: the order API served by invoking the intake function with API
 * Gateway REST proxy events (same status codes and bodies as on AWS), plus the runtime's own
 * endpoints (`/healthz`, `/api/…`). Bodies are capped while they are read, so a huge upload is
 * refused without being buffered.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { toApiGatewayEvent } from './lambda-events.ts';
import type { InvokeResult } from './local-function.ts';

/** API Gateway's own payload limit: larger requests never reach a function. */
export const GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Aborted when the client goes away before its answer (a long admin operation stops there). */
  readonly signal?: AbortSignal;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string | object;
}

export interface Route {
  readonly method: string;
  /** Path pattern with `{name}` segments, e.g. `/orders/{orderId}`. */
  readonly path: string;
  readonly handle: (request: ApiRequest) => Promise<ApiResponse> | ApiResponse;
}

/** The order API as API Gateway exposes it: both resources, every method, proxied to the intake function. */
export function orderApiRoutes(invokeIntake: (event: unknown) => Promise<InvokeResult>): Route[] {
  const proxy =
    (resource: string) =>
    async (request: ApiRequest): Promise<ApiResponse> => {
      const result = await invokeIntake(
        toApiGatewayEvent({
          method: request.method,
          path: request.path,
          resource,
          pathParameters: Object.keys(request.params).length > 0 ? { ...request.params } : undefined,
          query: request.query,
          headers: { ...request.headers },
          body: request.body === '' ? null : request.body,
        }),
      );
      if (!result.ok) {
        // What API Gateway answers when its Lambda integration fails or times out.
        return result.kind === 'timeout'
          ? { status: 504, body: { error: 'Endpoint request timed out', details: [] } }
          : { status: 502, body: { error: 'Internal server error', details: [] } };
      }
      const response = result.response as APIGatewayProxyResult;
      if (!response || typeof response.statusCode !== 'number')
        return {
          status: 502,
          body: {
            error: 'Internal server error',
            details: [{ field: 'integration', message: 'malformed Lambda proxy response' }],
          },
        };
      return {
        status: response.statusCode,
        headers: Object.fromEntries(Object.entries(response.headers ?? {}).map(([k, v]) => [k, String(v)])),
        body: response.body ?? '',
      };
    };
  return ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].flatMap((method) => [
    { method, path: '/orders', handle: proxy('/orders') },
    { method, path: '/orders/{orderId}', handle: proxy('/orders/{orderId}') },
  ]);
}

export interface ApiServer {
  readonly url: string;
  readonly server: Server;
  /**
   * Stops accepting requests: the port closes at once, requests already being handled are
   * answered (with `connection: close`), and a request that still arrives on an open keep-alive
   * connection gets `503` with `Retry-After` — so every order either got its answer or was not
   * taken. Resolves when the last connection has closed. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Binds 127.0.0.1:`port` (0 for any free port). Rejects with the listen error (EADDRINUSE, …)
 * so the caller can explain it.
 */
export async function startApiServer(
  port: number,
  routes: readonly Route[],
  onError: (error: Error) => void,
): Promise<ApiServer> {
  let closing: Promise<void> | undefined;
  const server = createServer((req, res) => {
    // Closing: no keep-alive, so every connection ends with the response it is waiting for.
    if (closing) res.setHeader('connection', 'close');
    handle(req, res).catch((error: Error) => {
      onError(error);
      if (!res.headersSent) send(res, { status: 500, body: { error: 'internal error', details: [] } });
      else res.destroy();
    });
  });
  server.requestTimeout = 60_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (closing) return send(res, SHUTTING_DOWN);
    if (routes.length === 0) return send(res, STARTING);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const matched = matchRoute(routes, req.method ?? 'GET', url.pathname);
    if ('status' in matched) return send(res, matched);
    const body = await readBody(req, GATEWAY_MAX_BODY_BYTES);
    // Closing began while the body arrived: refuse rather than start work whose answer may not get out.
    if (closing) return send(res, SHUTTING_DOWN);
    if (body === undefined) {
      res.setHeader('connection', 'close');
      return send(res, {
        status: 413,
        body: {
          error: 'request body too large',
          details: [{ field: 'body', message: `exceeds ${GATEWAY_MAX_BODY_BYTES} bytes` }],
        },
      });
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).flatMap(([k, v]) =>
        v === undefined ? [] : [[k, Array.isArray(v) ? v.join(', ') : v]],
      ),
    );
    const gone = new AbortController();
    res.once('close', () => res.writableFinished || gone.abort());
    const response = await matched.route.handle({
      method: req.method ?? 'GET',
      path: url.pathname,
      params: matched.params,
      query: url.searchParams,
      headers,
      body,
      signal: gone.signal,
    });
    if (closing) res.setHeader('connection', 'close'); // answered while closing: then the connection ends
    send(res, response);
  }

  await listen(server, port);
  server.on('error', onError);
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    server,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      })),
  };
}

const SHUTTING_DOWN: ApiResponse = {
  status: 503,
  headers: { 'retry-after': '1' },
  body: {
    error: 'shutting down',
    details: [
      {
        field: 'runtime',
        message:
          'the local runtime is stopping and takes no new requests; nothing was done — try again once it is back',
      },
    ],
  },
};
const STARTING: ApiResponse = {
  status: 503,
  headers: { 'retry-after': '1' },
  body: {
    error: 'starting',
    details: [{ field: 'runtime', message: 'the local runtime is starting; try again in a moment' }],
  },
};

/**
 * The route for `method` and `path` with its parameters, or the answer when there is none (400 for a
 * path that is not valid percent-encoding, 404, 405 with `allow`). Routes are read per request: the
 * runtime binds the port first and adds its routes once it is up.
 */
export function matchRoute(
  routes: readonly Route[],
  method: string,
  path: string,
): { route: Route; params: Record<string, string> } | ApiResponse {
  let segments: string[];
  try {
    segments = path
      .split('/')
      .filter(Boolean)
      .map((s) => decodeURIComponent(s));
  } catch {
    return {
      status: 400,
      body: { error: 'invalid path', details: [{ field: 'path', message: 'is not valid percent-encoding' }] },
    };
  }
  const table = routes.map((route) => ({ route, segments: route.path.split('/').filter(Boolean) }));
  const sameShape = table.filter(
    (r) => r.segments.length === segments.length && r.segments.every((s, i) => s.startsWith('{') || s === segments[i]),
  );
  if (sameShape.length === 0) {
    return {
      status: 404,
      body: {
        error: 'not found',
        details: [
          {
            field: 'path',
            message: `no route for ${path}; try POST /orders, GET /orders/{orderId}, GET /healthz or GET /api/stats`,
          },
        ],
      },
    };
  }
  // A literal segment beats a parameter (`/api/stats` before `/api/{x}`).
  const parameters = (r: (typeof table)[number]) => r.segments.filter((s) => s.startsWith('{')).length;
  const match = sameShape.filter((r) => r.route.method === method).sort((a, b) => parameters(a) - parameters(b))[0];
  if (!match) {
    const allowed = [...new Set(sameShape.map((r) => r.route.method))].join(', ');
    return {
      status: 405,
      headers: { allow: allowed },
      body: {
        error: 'method not allowed',
        details: [{ field: 'method', message: `${method} is not allowed on ${path}; use ${allowed}` }],
      },
    };
  }
  const params = Object.fromEntries(
    match.segments.flatMap((s, i) => (s.startsWith('{') ? [[s.slice(1, -1), segments[i] as string]] : [])),
  );
  return { route: match.route, params };
}

/** Listens on 127.0.0.1 only; rejects with the listen error (EADDRINUSE, …). */
function listen(server: Server, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Reads the body, or returns undefined as soon as it exceeds `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, response: ApiResponse): void {
  const body = typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
  const headers: Record<string, string> = {
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...response.headers,
  };
  if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type'))
    headers['content-type'] = 'application/json; charset=utf-8';
  res.writeHead(response.status, headers);
  res.end(body);
}
