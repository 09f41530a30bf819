/**
 * Keeps the server-rendered dashboard live: polls /api/stats and /api/alarms every 2 s and fills
 * in the elements the page marked (`data-bind`, `data-alarm`, …); draws the throughput chart
 * (uPlot); looks orders up (GET /orders/{orderId}) and cancels them; wires the operator's actions
 * (stage-actions.js, dead-letters.js, orders-list.js). Text only ever goes in through textContent:
 * nothing a user typed or a queue held is parsed as HTML.
 */
import { cancelOrder } from './actions.js';
import { deadLetterWorkbench } from './dead-letters.js';
import {
  alarmView,
  formatInt,
  formatMs,
  formatRate,
  formatValue,
  isHot,
  isShown,
  lookup,
  overallView,
  pageModel,
  pendingAlarms,
  toneOf,
} from './format.js';
import { ordersList } from './orders-list.js';
import { wireStageActions } from './stage-actions.js';

const POLL_MS = 2000;
const REQUEST_TIMEOUT_MS = 5000;
/** The chart keeps this much history in the browser (the API holds the last 120 s). */
const CHART_SECONDS = 600;
/** Statuses an order never leaves (the server's list, lib/domain/status.ts). */
const FINAL = new Set((document.body.dataset.finalStatuses ?? '').split(',').filter(Boolean));
/** Where an order stops moving by itself: a final state, or a dead letter (until redriven). */
const TERMINAL = new Set([...FINAL, 'dead-lettered']);

const clock = new Intl.DateTimeFormat('en-GB', {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});
const clockMs = new Intl.DateTimeFormat('en-GB', {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  fractionalSecondDigits: 3,
  hour12: false,
});

// ---------------------------------------------------------------- polling

let failingSince = null;
let polls = 0;
let pollTimer;
let polling = false;

async function fetchJson(path) {
  const response = await fetch(path, {
    headers: { accept: 'application/json' },
    cache: 'no-store',
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`${path} answered HTTP ${response.status}`);
  return response.json();
}

async function poll() {
  clearTimeout(pollTimer);
  polling = true;
  try {
    const [stats, alarms] = await Promise.all([fetchJson('/api/stats'), fetchJson('/api/alarms')]);
    const model = pageModel(stats, alarms);
    render(model);
    chart.absorb(stats);
    orders.watch(stats.totals);
    polls++;
    failingSince = null;
    document.body.classList.remove('stale');
    setLive('ok', `Live · ${clock.format(new Date(stats.at))}`, 'Polling /api/stats and /api/alarms every 2 s');
    if (order.current && !TERMINAL.has(order.current.status)) void order.refresh();
  } catch (error) {
    failingSince ??= new Date();
    document.body.classList.add('stale');
    setLive(
      'stale',
      `Disconnected since ${clock.format(failingSince)} · retrying`,
      String(error?.message ? error.message : error),
    );
  } finally {
    polling = false;
    pollTimer = setTimeout(poll, POLL_MS);
  }
}

/** After an action: the figures it changed, now rather than at the next tick. */
function pollNow() {
  if (!polling) void poll();
}

function setLive(state, text, title) {
  const live = document.getElementById('live');
  live.dataset.live = state;
  live.title = title;
  document.getElementById('live-text').textContent = text;
}

// ---------------------------------------------------------------- rendering

function render(model) {
  for (const el of document.querySelectorAll('[data-bind]')) {
    const value = lookup(model, el.dataset.bind);
    const text = formatValue(el.dataset.fmt, value);
    if (el.textContent !== text) {
      el.textContent = text;
      if (polls > 0 && el.dataset.fmt !== 'seconds') flash(el);
    }
    if (el.dataset.hot) el.classList.toggle(`hot-${el.dataset.hot}`, isHot(value, Number(el.dataset.over ?? 0)));
    if (el.dataset.tone !== undefined)
      el.className = [el.dataset.tone, toneOf(el.dataset.fmt, value)].filter(Boolean).join(' ');
    if (el.dataset.bindTitle) el.title = formatValue('text', lookup(model, el.dataset.bindTitle));
  }
  for (const el of document.querySelectorAll('[data-when]'))
    el.hidden = !isShown(model, el.dataset.when, el.dataset.whenIs.split(','));
  for (const el of document.querySelectorAll('[data-progress]')) {
    const c = lookup(model, el.dataset.progress);
    if (c) {
      el.max = Math.max(1, c.max);
      el.value = Math.min(c.inUse, c.max);
    }
  }
  for (const el of document.querySelectorAll('[data-alarm]')) {
    const [pipeline, stage, rule] = el.dataset.alarm.split('.');
    showAlarm(el, model.alarms.pipelines[pipeline]?.stages[stage]?.[rule]);
  }
  for (const el of document.querySelectorAll('[data-composite]'))
    showAlarm(el, model.alarms.pipelines[el.dataset.composite]?.composite);
  for (const el of document.querySelectorAll('[data-alarm-item]')) {
    const [pipeline, stage, rule] = el.dataset.alarmItem.split('.');
    const status = model.alarms.pipelines[pipeline]?.stages[stage]?.[rule];
    el.hidden = status?.state !== 'ALARM';
    if (status)
      el.querySelector('[data-alarm-reason]').textContent =
        `${status.reason} — since ${clock.format(new Date(status.since))}`;
  }
  const overall = document.querySelector('[data-overall]');
  const summary = overallView(model.alarms);
  overall.textContent = summary.label;
  overall.className = `overall alarm-${summary.state}`;
  overall.title =
    [
      ...model.alarms.alarming.map((a) => `ALARM: ${a}`),
      ...pendingAlarms(model.alarms).map((a) => `pending: ${a}`),
    ].join('\n') || 'No alarm in ALARM';
  document.body.dataset.state = model.alarms.state;
  document.title =
    model.alarms.state === 'ALARM'
      ? `ALARM (${model.alarms.alarming.length}) · Conveyor`
      : 'Conveyor · local dashboard';
}

function showAlarm(el, status) {
  const { state, label } = alarmView(status);
  if (el.textContent !== label) {
    el.textContent = label;
    if (polls > 0) flash(el);
  }
  el.className = `alarm alarm-${state}`;
  el.title = status
    ? `${status.reason}\n${status.state} since ${clock.format(new Date(status.since))}`
    : 'no evaluation yet';
}

function flash(el) {
  el.classList.remove('changed');
  void el.offsetWidth; // restart the animation
  el.classList.add('changed');
}

// ---------------------------------------------------------------- chart

const chart = (() => {
  /** Epoch second → [accepted, delivered, failed]. */
  const points = new Map();
  const container = document.getElementById('chart');
  let plot;
  let hovering = false;

  function absorb(stats) {
    const end = Math.floor(Date.parse(stats.at) / 1000);
    const { accepted, delivered, failed } = stats.history;
    // The last bucket is the current, unfinished second: leave it out.
    const n = accepted.length - 1;
    for (let i = 0; i < n; i++) points.set(end - n + i, [accepted[i], delivered[i], failed[i]]);
    for (const second of points.keys()) if (second < end - CHART_SECONDS) points.delete(second);
    draw();
  }

  function data() {
    const seconds = [...points.keys()].sort((a, b) => a - b);
    if (seconds.length === 0) return [[], [], [], []];
    const xs = [];
    const series = [[], [], []];
    for (let s = seconds[0]; s <= seconds.at(-1); s++) {
      xs.push(s);
      const p = points.get(s);
      for (let k = 0; k < 3; k++) series[k].push(p ? p[k] : null);
    }
    return [xs, ...series];
  }

  function options(width) {
    const axis = {
      stroke: '#8b949e',
      grid: { stroke: 'rgba(240,246,252,0.06)', width: 1 },
      ticks: { stroke: 'rgba(240,246,252,0.12)', width: 1 },
      font: '11px system-ui, sans-serif',
    };
    const perSecond = (_u, v) => (v == null ? '—' : `${formatRate(v)}/s`);
    return {
      width,
      height: 210,
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(5, Math.ceil((max ?? 0) * 1.15))] } },
      axes: [
        { ...axis, values: (_u, values) => values.map((v) => clock.format(new Date(v * 1000))) },
        {
          ...axis,
          size: 44,
          values: (_u, values) => values.map((v) => (Number.isInteger(v) ? formatInt(v) : formatRate(v))),
        },
      ],
      legend: { live: true },
      series: [
        { value: (_u, v) => (v == null ? '—' : clock.format(new Date(v * 1000))) },
        {
          label: 'Accepted',
          stroke: '#58a6ff',
          width: 1.5,
          fill: 'rgba(88,166,255,0.10)',
          value: perSecond,
          spanGaps: false,
        },
        { label: 'Delivered', stroke: '#3fb950', width: 2, value: perSecond, spanGaps: false },
        { label: 'Failed', stroke: '#f85149', width: 1.5, value: perSecond, spanGaps: false },
      ],
    };
  }

  function draw() {
    if (!window.uPlot || container.clientWidth === 0) return;
    if (!plot) {
      container.replaceChildren();
      plot = new window.uPlot(options(container.clientWidth), data(), container);
      new ResizeObserver(() => plot.setSize({ width: container.clientWidth, height: 210 })).observe(container);
      plot.over.addEventListener('mouseenter', () => (hovering = true));
      plot.over.addEventListener('mouseleave', () => {
        hovering = false;
        showLatest();
      });
    } else {
      plot.setData(data());
    }
    showLatest();
  }

  /** Without the pointer over the chart, the legend shows the latest second. */
  function showLatest() {
    const n = plot?.data[0].length ?? 0;
    if (!hovering && n > 0) plot.setLegend({ idx: n - 1 });
  }

  return { absorb };
})();

// ---------------------------------------------------------------- order lookup

function el(tag, className, text, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const child of children) if (child) node.append(child);
  return node;
}

function statusPill(status) {
  return el('span', `status status-${String(status).replace(/[^a-z-]/g, '')}`, status);
}

function facts(record) {
  return Object.entries(record ?? {}).map(([k, v]) =>
    el('span', 'fact', null, [el('span', 'fact-key', k), el('span', 'fact-value', v)]),
  );
}

const order = (() => {
  const panel = document.getElementById('order');
  const form = document.getElementById('order-search');
  const input = document.getElementById('order-id');
  let currentId;
  /** What the poller sees: the order shown (refreshed while it is on its way), and how to refresh it. */
  const api = {
    current: undefined,
    refresh: () => (currentId ? lookUp(currentId, { quiet: true }) : Promise.resolve()),
    /** Shows an order, as if its id had been typed in the search box. */
    show: (id) => {
      input.value = id;
      history.replaceState(null, '', `${location.pathname}?order=${encodeURIComponent(id)}`);
      void lookUp(id);
      panel.scrollIntoView({ block: 'nearest' });
    },
  };

  function show(...children) {
    const close = el('button', 'close', '×');
    close.type = 'button';
    close.title = 'Close (Esc)';
    close.setAttribute('aria-label', 'Close the order');
    close.addEventListener('click', hide);
    panel.replaceChildren(close, ...children);
    panel.hidden = false;
  }

  function hide() {
    panel.hidden = true;
    panel.replaceChildren();
    currentId = undefined;
    api.current = undefined;
    history.replaceState(null, '', location.pathname);
  }

  async function lookUp(id, { quiet = false } = {}) {
    currentId = id;
    if (!quiet) show(el('p', 'muted', `Looking up ${id}…`));
    let response;
    let body;
    try {
      response = await fetch(`/orders/${encodeURIComponent(id)}`, {
        headers: { accept: 'application/json' },
        cache: 'no-store',
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      body = await response.json().catch(() => ({}));
    } catch (error) {
      if (currentId === id) show(el('p', 'order-error', `Could not look up ${id}: ${error.message}`));
      return;
    }
    if (currentId !== id) return; // a newer lookup started meanwhile
    if (response.status === 404) {
      api.current = undefined;
      show(
        el('h3', 'order-title', null, [el('span', 'muted', 'Order '), el('code', null, id)]),
        el('p', 'order-error', 'No such order. Ids are case-sensitive; an order shows up once the API accepted it.'),
      );
      return;
    }
    if (!response.ok) {
      api.current = undefined;
      const detail = body.details?.[0];
      show(
        el('h3', 'order-title', null, [el('span', 'muted', 'Order '), el('code', null, id)]),
        el(
          'p',
          'order-error',
          `${body.error ?? `HTTP ${response.status}`}${detail?.message ? `: ${detail.field ? `${detail.field} ` : ''}${detail.message}` : ''}`,
        ),
      );
      return;
    }
    api.current = body;
    show(renderOrder(body));
  }

  /** Not final yet: it can still be cancelled (the runtime answers 409 if the delivery won meanwhile). */
  function cancelButton(orderId) {
    const button = el('button', 'act danger cancel-order', 'Cancel order…');
    button.type = 'button';
    button.addEventListener('click', async () => {
      const answer = await cancelOrder(orderId);
      if (!answer) return;
      pollNow();
      if (currentId === orderId) void lookUp(orderId, { quiet: true });
    });
    return button;
  }

  function renderOrder(o) {
    const created = Date.parse(o.createdAt);
    const updated = Date.parse(o.updatedAt);
    const took = o.status === 'delivered' && created && updated ? formatMs(updated - created) : null;
    const summary = el('div', 'order-summary', null, [
      el('h3', 'order-title', null, [el('span', 'muted', 'Order '), el('code', null, o.orderId), statusPill(o.status)]),
      el('dl', 'order-facts', null, [
        el('dt', null, 'Warehouse'),
        el('dd', null, o.warehouseId ?? '—'),
        el('dt', null, o.status === 'dead-lettered' ? 'Dead-lettered in' : 'Stage'),
        el('dd', null, o.stage ?? '—'),
        el('dt', null, 'Accepted'),
        el('dd', null, o.createdAt ? clock.format(new Date(o.createdAt)) : '—'),
        el('dt', null, 'Updated'),
        el('dd', null, o.updatedAt ? clock.format(new Date(o.updatedAt)) : '—'),
        took ? el('dt', null, 'Delivered in') : null,
        took ? el('dd', null, took) : null,
      ]),
      o.reason ? el('div', 'order-reason', null, [el('b', null, 'Reason: '), document.createTextNode(o.reason)]) : null,
      o.delivery ? el('div', 'facts', null, facts(o.delivery)) : null,
      FINAL.has(o.status) ? null : cancelButton(o.orderId),
    ]);
    const start = Date.parse(o.history?.[0]?.at ?? '');
    const timeline = el(
      'ol',
      'timeline',
      null,
      (o.history ?? []).map((entry) => {
        const at = Date.parse(entry.at);
        return el('li', `event event-${String(entry.status).replace(/[^a-z-]/g, '')}`, null, [
          el('div', 'event-time', null, [
            el('span', null, Number.isNaN(at) ? entry.at : clockMs.format(new Date(at))),
            Number.isNaN(at) || Number.isNaN(start) || at === start
              ? null
              : el('span', 'muted', ` +${formatMs(at - start)}`),
          ]),
          el('div', 'event-body', null, [
            statusPill(entry.status),
            el('span', 'event-by', `by ${entry.by}`),
            ...facts(entry.detail),
          ]),
          entry.reason ? el('div', 'event-reason', entry.reason) : null,
        ]);
      }),
    );
    return el('div', 'order-grid', null, [
      summary,
      el('div', 'order-history', null, [el('h4', null, 'History'), timeline]),
    ]);
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const id = input.value.trim();
    if (!id) return;
    history.replaceState(null, '', `${location.pathname}?order=${encodeURIComponent(id)}`);
    void lookUp(id);
  });
  document.addEventListener('keydown', (event) => {
    const typing = event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement;
    if (event.key === '/' && !typing) {
      event.preventDefault();
      input.focus();
      input.select();
    } else if (event.key === 'Escape' && !panel.hidden) {
      hide();
    }
  });
  const linked = new URLSearchParams(location.search).get('order');
  if (linked) {
    input.value = linked;
    void lookUp(linked);
  }
  return api;
})();

const orders = ordersList({ lookUp: (id) => order.show(id), changed: pollNow });
const workbench = deadLetterWorkbench({ changed: pollNow });
wireStageActions({ openDeadLetters: (row) => workbench.open(row), changed: pollNow });

void poll();
