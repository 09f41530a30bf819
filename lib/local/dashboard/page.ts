/**
 * The dashboard page, rendered on the server from the current stats and alarm states: every
 * table is there before any script runs (and for `chromium --dump-dom`). The browser script then
 * keeps it live — it only fills in the elements marked here (`data-bind`, `data-alarm`, …) and
 * never rebuilds the structure, which follows the topology and does not change while running.
 *
 * The pieces: bind.ts (live elements), rows.ts, tables.ts (queues, stages), alarms-panel.ts,
 * controls.ts (the Operate table, the confirmation dialog, the dead-letter workbench),
 * orders-panel.ts (orders by state).
 */
import { FINAL_STATUSES } from '../../domain/status.ts';
import type { Topology } from '../../topology/index.ts';
import { overallView, pendingAlarms, type PageModel, type ValueKind } from './assets/format.js';
import { alarmMatrix } from './alarms-panel.ts';
import { bound, type Hot } from './bind.ts';
import { confirmDialog, controlsTable, deadLetterPanel } from './controls.ts';
import { html, type Html } from './html.ts';
import { ordersPanel } from './orders-panel.ts';
import type { StageNames } from './rows.ts';
import { queueTable, stageTable } from './tables.ts';

export const ASSETS_PATH = '/dashboard/assets';
/** The meta element the page carries its CSRF token in (actions.js reads it). */
export const CSRF_META = 'conveyor-csrf';

export interface DashboardPageInput {
  readonly topology: Topology;
  /** Queue and dead-letter queue names by stage key. */
  readonly queueNames: StageNames;
  readonly model: PageModel;
  /** Where state lives, or `in memory`. */
  readonly storage: string;
  /** The runtime's CSRF token, issued with the page: every action the page takes sends it. */
  readonly csrfToken: string;
}

/**
 * The whole page.
 * @example
 * const page = renderDashboard({ topology, queueNames, model: pageModel(stats, alarms), storage: 'in memory', csrfToken: csrfToken() });
 */
export function renderDashboard(input: DashboardPageInput): string {
  return `<!doctype html>\n${html`<html lang="en">
${head(input)}
<body data-state="${input.model.alarms.state}" data-final-statuses="${FINAL_STATUSES.join(',')}">
${topbar(input)}
<main>
  ${totals(input.model)}
  <section class="panel order-panel" id="order" hidden aria-live="polite" aria-label="Order lookup"></section>
  ${panels(input)}
</main>
${confirmDialog()}
<div class="toast" id="toast" role="status" aria-live="polite" hidden></div>
<footer>Conveyor local runtime · figures from the handlers' EMF metrics and the queues' attributes · <a href="/api/stats">/api/stats</a> · <a href="/api/alarms">/api/alarms</a> · <a href="/api/topology">/api/topology</a></footer>
</body>
</html>
`}`;
}

function head({ model, csrfToken }: DashboardPageInput): Html {
  return html`<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<meta name="${CSRF_META}" content="${csrfToken}">
<title>${model.alarms.state === 'ALARM' ? `ALARM (${model.alarms.alarming.length}) · Conveyor` : 'Conveyor · local dashboard'}</title>
<link rel="icon" href="${ASSETS_PATH}/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${ASSETS_PATH}/uPlot.min.css">
<link rel="stylesheet" href="${ASSETS_PATH}/dashboard.css">
<script src="${ASSETS_PATH}/uPlot.iife.min.js" defer></script>
<script type="module" src="${ASSETS_PATH}/dashboard.js"></script>
</head>`;
}

function topbar({ model, topology, storage }: DashboardPageInput): Html {
  const overall = overallView(model.alarms);
  const overallTitle =
    [
      ...model.alarms.alarming.map((a) => `ALARM: ${a}`),
      ...pendingAlarms(model.alarms).map((a) => `pending: ${a}`),
    ].join('\n') || 'No alarm in ALARM';
  return html`<header class="topbar">
  <div class="brand"><span class="logo" aria-hidden="true"><i></i><i></i><i></i></span>Conveyor <span class="env">local</span></div>
  <div class="overall alarm-${overall.state}" data-overall title="${overallTitle}">${overall.label}</div>
  <div class="meta">
    <span title="Tracking level of the order status table">tracking <b>${topology.tracking}</b></span>
    <span title="Uptime of the local runtime">up ${bound(model, 'b', 'stats.uptimeSeconds', 'seconds')}</span>
    <span title="Where state lives">${storage}</span>
  </div>
  <form class="search" id="order-search" role="search" action="/dashboard" method="get">
    <input type="search" name="order" id="order-id" placeholder="Find an order by id" autocomplete="off" spellcheck="false" maxlength="200" aria-label="Order id" title="Press / to search">
    <button type="submit">Look up</button>
  </form>
  <div class="live" id="live" data-live="server" title="The page polls /api/stats and /api/alarms every 2 s"><span class="dot"></span><span id="live-text">snapshot ${model.stats.at.slice(11, 19)} UTC</span></div>
</header>`;
}

function totalCard(
  model: PageModel,
  label: string,
  path: string,
  fmt: ValueKind,
  help: string,
  options: { sub?: readonly [string, ValueKind, string]; hot?: Hot; tone?: 'good'; unit?: string } = {},
): Html {
  return html`<div class="card${options.tone ? ` tone-${options.tone}` : ''}" title="${help}">
      <div class="card-label">${label}</div>
      <div class="card-value">${bound(model, 'span', path, fmt, options.hot)}${options.unit ? html`<span class="unit">${options.unit}</span>` : ''}</div>
      <div class="card-sub">${options.sub ? html`${bound(model, 'span', options.sub[0], options.sub[1])}${options.sub[2]}` : help}</div>
    </div>`;
}

/** The order totals, which reconcile: accepted = delivered + dead-lettered + cancelled + purged + in flight. */
function totals(model: PageModel): Html {
  return html`<section class="totals" aria-label="Totals">
    ${totalCard(model, 'Accepted', 'stats.totals.accepted', 'int', 'orders taken by the API', { sub: ['derived.acceptedPerSecond', 'rate', ' /s now'] })}
    ${totalCard(model, 'Delivered', 'stats.totals.delivered', 'int', 'orders delivered', { sub: ['derived.deliveredPerSecond', 'rate', ' /s now'], tone: 'good' })}
    ${totalCard(model, 'Dead-lettered', 'stats.totals.deadLettered', 'int', 'orders in a DLQ', { hot: { hot: 'bad' } })}
    ${totalCard(model, 'Cancelled', 'stats.totals.cancelled', 'int', 'cancelled before delivery')}
    ${totalCard(model, 'Purged', 'stats.totals.purged', 'int', 'removed with a purged queue', { hot: { hot: 'warn' } })}
    ${totalCard(model, 'In flight', 'stats.totals.inFlight', 'int', 'not yet delivered')}
    ${totalCard(model, 'Latency p50', 'stats.latencyMs.p50', 'ms', 'accepted → delivered')}
    ${totalCard(model, 'Latency p99', 'stats.latencyMs.p99', 'ms', 'acceptance → delivery, 99th percentile', { sub: ['stats.latencyMs.samples', 'int', ' recent deliveries'] })}
    ${totalCard(model, 'Failed attempts', 'derived.failedPerSecond', 'rate', 'retried or to a DLQ', { hot: { hot: 'warn' }, unit: ' /s' })}
  </section>`;
}

function panels({ model, topology, queueNames }: DashboardPageInput): Html {
  return html`<div class="grid">
    <div class="col-main">
      <section class="panel" aria-labelledby="queues-title">
        <h2 id="queues-title">Queues <small>each stage's queue and dead-letter queue</small></h2>
        ${queueTable(model, topology, queueNames)}
      </section>
      <section class="panel" aria-labelledby="operate-title">
        <h2 id="operate-title">Operate <small>pause, resume, scale, override the breaker, work the dead letters — each asks first and is logged</small></h2>
        ${controlsTable(model, topology, queueNames)}
      </section>
      ${deadLetterPanel()}
      ${ordersPanel(topology)}
      <section class="panel" aria-labelledby="stages-title">
        <h2 id="stages-title">Stages <small>functions and their event source mappings</small></h2>
        ${stageTable(model, topology, queueNames)}
      </section>
    </div>
    <aside class="col-side">
      <section class="panel" aria-labelledby="alarms-title">
        <h2 id="alarms-title">Alarms <small>cloud thresholds, evaluated locally</small></h2>
        ${alarmMatrix(model, topology, queueNames)}
      </section>
      <section class="panel" aria-labelledby="chart-title">
        <h2 id="chart-title">Throughput <small>per second</small></h2>
        <div id="chart" class="chart" role="img" aria-label="Orders accepted and delivered, and failed attempts, per second"><noscript>The chart needs JavaScript.</noscript></div>
      </section>
    </aside>
  </div>`;
}
