/**
 * The dashboard's routes on the local API: the page (`GET /dashboard`), its static assets (the
 * page's scripts and styles, and uPlot from node_modules — no CDN, no build step), and the alarm
 * states (`GET /api/alarms`). Everything is same-origin, under a strict Content-Security-Policy,
 * and answered only to loopback host names, so a web page elsewhere cannot read it through DNS
 * rebinding — nor the CSRF token the page carries for its actions (admin-guard.ts).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Topology } from '../../topology/index.ts';
import { AlarmEvaluator } from '../alarms.ts';
import { csrfToken } from '../admin-guard.ts';
import type { ApiRequest, ApiResponse, Route } from '../api-server.ts';
import type { LocalResources } from '../provision.ts';
import type { StatsSnapshot } from '../stats.ts';
import { pageModel } from './assets/format.js';
import { ASSETS_PATH, renderDashboard } from './page.ts';

/** How often the alarm history is sampled in the background (each /api/alarms request samples too). */
export const ALARM_SAMPLE_INTERVAL_MS = 5_000;

/** What the dashboard reads from the runtime (a `LocalRuntime` is one). */
export interface DashboardSource {
  readonly topology: Topology;
  readonly resources: LocalResources;
  readonly dataDir: string | undefined;
  /** True once the runtime is stopping: sampling ends. */
  readonly stopping: boolean;
  stats(): Promise<StatsSnapshot>;
}

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));
const require = createRequire(import.meta.url);

/** The only files served under /dashboard/assets/. */
const ASSETS: Record<string, { readonly path: () => string; readonly type: string }> = {
  'dashboard.js': { path: () => `${ASSETS_DIR}dashboard.js`, type: 'text/javascript; charset=utf-8' },
  'format.js': { path: () => `${ASSETS_DIR}format.js`, type: 'text/javascript; charset=utf-8' },
  'actions.js': { path: () => `${ASSETS_DIR}actions.js`, type: 'text/javascript; charset=utf-8' },
  'stage-actions.js': { path: () => `${ASSETS_DIR}stage-actions.js`, type: 'text/javascript; charset=utf-8' },
  'dead-letters.js': { path: () => `${ASSETS_DIR}dead-letters.js`, type: 'text/javascript; charset=utf-8' },
  'orders-list.js': { path: () => `${ASSETS_DIR}orders-list.js`, type: 'text/javascript; charset=utf-8' },
  'dashboard.css': { path: () => `${ASSETS_DIR}dashboard.css`, type: 'text/css; charset=utf-8' },
  'favicon.svg': { path: () => `${ASSETS_DIR}favicon.svg`, type: 'image/svg+xml' },
  'uPlot.iife.min.js': {
    path: () => require.resolve('uplot/dist/uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  'uPlot.min.css': { path: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/**
 * The dashboard's routes. Starts sampling the runtime's stats every few seconds for the alarm
 * history (the longest alarm window, a few minutes); the sampling ends when the runtime stops.
 * @example
 * routes.push(...dashboardRoutes(runtime));   // GET /dashboard, /dashboard/assets/{file}, /api/alarms
 */
export function dashboardRoutes(source: DashboardSource): Route[] {
  const evaluator = new AlarmEvaluator(source.topology);
  let sampling: Promise<StatsSnapshot> | undefined;
  /** A fresh snapshot, recorded in the alarm history; concurrent callers share one. */
  const sample = (): Promise<StatsSnapshot> =>
    (sampling ??= source
      .stats()
      .then((snapshot) => {
        evaluator.observe(snapshot);
        return snapshot;
      })
      .finally(() => (sampling = undefined)));
  const timer = setInterval(() => {
    if (source.stopping) clearInterval(timer);
    else sample().catch(() => undefined); // the emulators restarting or stopping: the next tick tries again
  }, ALARM_SAMPLE_INTERVAL_MS);
  timer.unref();

  const queueNames = new Map(
    [...source.resources.stages].map(([key, s]) => [
      key,
      { queue: s.queueName, deadLetterQueue: s.deadLetterQueueUrl.split('/').at(-1) ?? `${s.queueName}-dlq` },
    ]),
  );
  const assetCache = new Map<string, string>();

  return [
    {
      method: 'GET',
      path: '/dashboard',
      handle: loopbackOnly(async () => {
        const stats = await sample();
        const body = renderDashboard({
          topology: source.topology,
          queueNames,
          model: pageModel(stats, evaluator.evaluate()),
          storage: source.dataDir ?? 'in memory',
          csrfToken: csrfToken(),
        });
        return { status: 200, headers: { ...PAGE_HEADERS, 'content-type': 'text/html; charset=utf-8' }, body };
      }),
    },
    {
      method: 'GET',
      path: `${ASSETS_PATH}/{file}`,
      handle: loopbackOnly((request) => {
        const name = request.params.file ?? '';
        const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
        if (!asset)
          return {
            status: 404,
            body: { error: 'not found', details: [{ field: 'path', message: `no dashboard asset ${name}` }] },
          };
        let body = assetCache.get(name);
        if (body === undefined) assetCache.set(name, (body = readFileSync(asset.path(), 'utf8')));
        return {
          status: 200,
          headers: { ...PAGE_HEADERS, 'content-type': asset.type, 'cache-control': 'no-cache' },
          body,
        };
      }),
    },
    {
      method: 'GET',
      path: '/api/alarms',
      handle: loopbackOnly(async () => {
        await sample();
        return { status: 200, body: evaluator.evaluate() };
      }),
    },
  ];
}

/** Host names a browser on this machine uses for 127.0.0.1; anything else is a rebinding attempt or a mistake. */
const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$/i;

function loopbackOnly(
  handle: (request: ApiRequest) => Promise<ApiResponse> | ApiResponse,
): (request: ApiRequest) => Promise<ApiResponse> | ApiResponse {
  return (request) =>
    LOOPBACK_HOST.test(request.headers.host ?? '')
      ? handle(request)
      : {
          status: 403,
          body: {
            error: 'forbidden',
            details: [
              {
                field: 'host',
                message:
                  'the dashboard answers only to http://127.0.0.1 or http://localhost (protection against DNS rebinding)',
              },
            ],
          },
        };
}
