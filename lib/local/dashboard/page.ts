/**
 * The dashboard page, rendered on the server from the current stats and alarm states: every
 * table is there before any script runs (and for `chromium --dump-dom`). The browser script then
 * keeps it live — it only fills in the elements marked here (`data-bind`, `data-alarm`, …) and
 * never rebuilds the structure, which follows the topology and does not change while running.
 */
import type { AlarmStatus } from '../alarms.ts';
import { stageAlarmRule, type StageAlarmRule } from '../../contract/alarm-rules.ts';
import { STAGE_ALARM_KINDS, type StageAlarmKind } from '../../contract/index.ts';
import type { Stage, Topology } from '../../topology/index.ts';
import { alarmView, formatSeconds, formatValue, isHot, lookup, overallView, pendingAlarms, type PageModel, type ValueKind } from './assets/format.js';
import { html, type Html } from './html.ts';

export const ASSETS_PATH = '/dashboard/assets';

export interface DashboardPageInput {
  readonly topology: Topology;
  /** Queue and dead-letter queue names by stage key. */
  readonly queueNames: ReadonlyMap<string, { readonly queue: string; readonly deadLetterQueue: string }>;
  readonly model: PageModel;
  /** Where state lives, or `in memory`. */
  readonly storage: string;
}

const RULE_LABELS: Record<StageAlarmKind, string> = {
  'dead-letters': 'DLQ',
  backlog: 'Age',
  'error-rate': 'Errors',
  throttles: 'Throttles',
  'queue-retention': 'Retention',
  'dead-letter-retention': 'DLQ retention',
};

/** When each rule fires, with the shared rule's numbers — the cloud alarms' descriptions in short. */
const RULE_HELP: Record<StageAlarmKind, (rule: StageAlarmRule) => string> = {
  'dead-letters': (r) => `Dead letters: the dead-letter queue holds messages ${windowOf(r)}. Orders wait there, unprocessed, until redriven.`,
  backlog: (r) => `Backlog: the oldest message is older than ${formatSeconds(r.threshold)} ${windowOf(r)}. The stage is paused, too slow or too narrow, or retrying a sick dependency.`,
  'error-rate': (r) => `Function errors: more than ${r.threshold} % of invocations failed as a whole (error, timeout, malformed response) ${windowOf(r)}. Records failed one by one do not count.`,
  throttles: (r) =>
    `Throttles: more than ${r.threshold} throttled invocations per ${formatSeconds(r.periodSeconds)} ${windowOf(r)}. Always 0 locally: the local runtime has no reserved concurrency, so nothing is throttled here.`,
  'queue-retention': (r) => `Near retention: the oldest message is older than ${formatSeconds(r.threshold)}, three quarters of the queue's retention; SQS deletes it at the end.`,
  'dead-letter-retention': (r) => `Dead letters near retention: the oldest dead letter is older than ${formatSeconds(r.threshold)}, three quarters of the dead-letter queue's retention; redrive or export it before SQS deletes it.`,
};

function windowOf(rule: StageAlarmRule): string {
  const { evaluationPeriods: n, periodSeconds } = rule;
  return n === 1 ? `in a period of ${formatSeconds(periodSeconds)}` : `for ${n} consecutive periods of ${formatSeconds(periodSeconds)}`;
}

interface Hot {
  /** Colour the figure when it is above `over` (default 0). */
  readonly hot?: 'bad' | 'warn';
  readonly over?: number;
}

/**
 * The whole page.
 * @example
 * const page = renderDashboard({ topology, queueNames, model: pageModel(stats, alarms), storage: 'in memory' });
 */
export function renderDashboard(input: DashboardPageInput): string {
  const { topology, model } = input;
  const overall = overallView(model.alarms);
  const pending = pendingAlarms(model.alarms);
  const overallTitle = [...model.alarms.alarming.map((a) => `ALARM: ${a}`), ...pending.map((a) => `pending: ${a}`)].join('\n') || 'No alarm in ALARM';

  /** An element showing one figure of the model; the script keeps it live. */
  const bound = (tag: 'span' | 'td' | 'b', path: string, fmt: ValueKind, hot: Hot = {}, className?: string): Html => {
    const value = lookup(model, path);
    const classes = [className, hot.hot && isHot(value, hot.over) ? `hot-${hot.hot}` : undefined].filter(Boolean).join(' ');
    const attributes = html`${classes ? html` class="${classes}"` : ''} data-bind="${path}" data-fmt="${fmt}"${hot.hot ? html` data-hot="${hot.hot}"` : ''}${hot.over !== undefined ? html` data-over="${hot.over}"` : ''}`;
    const text = formatValue(fmt, value);
    if (tag === 'td') return html`<td${attributes}>${text}</td>`;
    if (tag === 'b') return html`<b${attributes}>${text}</b>`;
    return html`<span${attributes}>${text}</span>`;
  };

  const alarmBadge = (stage: Stage, rule: StageAlarmKind): Html => {
    const status = model.alarms.pipelines[stage.pipelineId]?.stages[stage.name]?.[rule];
    const view = alarmView(status);
    return html`<span class="alarm alarm-${view.state}" data-alarm="${stage.pipelineId}.${stage.name}.${rule}" title="${status?.reason ?? 'no evaluation yet'}">${view.label}</span>`;
  };

  const compositeBadge = (pipelineId: string): Html => {
    const composite = model.alarms.pipelines[pipelineId]?.composite;
    const view = alarmView(composite);
    return html`<span class="alarm alarm-${view.state}" data-composite="${pipelineId}" title="${composite?.reason ?? 'no evaluation yet'}">${view.label}</span>`;
  };

  const totalCard = (label: string, path: string, fmt: ValueKind, help: string, options: { sub?: readonly [string, ValueKind, string]; hot?: Hot; tone?: 'good'; unit?: string } = {}): Html =>
    html`<div class="card${options.tone ? ` tone-${options.tone}` : ''}" title="${help}">
      <div class="card-label">${label}</div>
      <div class="card-value">${bound('span', path, fmt, options.hot)}${options.unit ? html`<span class="unit">${options.unit}</span>` : ''}</div>
      <div class="card-sub">${options.sub ? html`${bound('span', options.sub[0], options.sub[1])}${options.sub[2]}` : help}</div>
    </div>`;

  const stageHeader = (stage: Stage): Html => {
    const names = input.queueNames.get(stage.key);
    return html`<th scope="row" class="stage" title="${names ? `queue ${names.queue}, dead-letter queue ${names.deadLetterQueue}` : stage.key}"><span class="step">${stage.index + 1}</span>${stage.name}</th>`;
  };

  const pipelineRow = (pipelineId: string, columns: number, withAlarm = true): Html =>
    html`<tr class="group" data-pipeline="${pipelineId}"><th colspan="${columns}" scope="rowgroup"><span class="pipeline-name">${pipelineId}</span>${withAlarm ? compositeBadge(pipelineId) : ''}</th></tr>`;

  const queueTable = (): Html => html`<table class="grid-table queues">
    <thead><tr>
      <th scope="col">Stage</th>
      <th scope="col" title="running: the event source mapping polls; paused: messages wait in the queue">State</th>
      <th scope="col" class="num" title="Waiting to be received (ApproximateNumberOfMessages)">Ready</th>
      <th scope="col" class="num" title="Received by the event source mapping: gathered into a batch or being processed">In flight</th>
      <th scope="col" class="num" title="Waiting out a retry backoff (invisible, not held by an invocation)">Delayed</th>
      <th scope="col" class="num" title="Messages in the stage's dead-letter queue">DLQ</th>
      <th scope="col" class="num" title="Age of the oldest message in the queue (ApproximateAgeOfOldestMessage); coloured above the alarm threshold">Oldest</th>
      <th scope="col" class="num" title="Records received per second (10 s average)">In/s</th>
      <th scope="col" class="num" title="Records processed successfully per second (10 s average)">Done/s</th>
      <th scope="col" class="num" title="Records that failed an attempt per second (10 s average)">Failed/s</th>
    </tr></thead>
    ${topology.pipelines.map(
      (pipeline) => html`<tbody>
      ${pipelineRow(pipeline.id, 10)}
      ${pipeline.stages.map((stage) => {
        const p = `stats.pipelines.${stage.pipelineId}.${stage.name}`;
        const names = input.queueNames.get(stage.key);
        const paused = lookup(model, `${p}.paused`) === true;
        return html`<tr data-stage="${stage.key}" data-queue="${names?.queue ?? ''}">
        ${stageHeader(stage)}
        <td><span class="pill ${paused ? 'pill-paused' : 'pill-running'}" data-bind="${p}.paused" data-fmt="paused">${formatValue('paused', paused)}</span></td>
        ${bound('td', `${p}.ready`, 'int', {}, 'num')}
        ${bound('td', `${p}.inFlight`, 'int', {}, 'num')}
        ${bound('td', `${p}.delayed`, 'int', { hot: 'warn' }, 'num')}
        <td class="num dlq-cell" data-dlq="${names?.deadLetterQueue ?? `${stage.key} DLQ`}" title="dead-letter queue ${names?.deadLetterQueue ?? ''}">${bound('span', `${p}.dlq`, 'int', { hot: 'bad' })}</td>
        ${bound('td', `${p}.oldestMessageAgeSeconds`, 'seconds', { hot: 'bad', over: stage.alarms.maxAgeOfOldestMessageSeconds }, 'num')}
        ${bound('td', `${p}.incomingPerSecond`, 'rate', {}, 'num')}
        ${bound('td', `${p}.perSecond`, 'rate', {}, 'num')}
        ${bound('td', `${p}.failedPerSecond`, 'rate', { hot: 'warn' }, 'num')}
      </tr>`;
      })}
    </tbody>`,
    )}
  </table>`;

  const stageTable = (): Html => html`<table class="grid-table stages">
    <thead><tr>
      <th scope="col">Stage</th>
      <th scope="col" title="Concurrent invocations now / the event source mapping's maximum concurrency">Concurrency</th>
      <th scope="col" class="num" title="Records processed successfully">Processed</th>
      <th scope="col" class="num" title="Attempts that failed: retried plus dead-lettered">Failed</th>
      <th scope="col" class="num" title="Records returned to the queue for another attempt, after a backoff">Retried</th>
      <th scope="col" class="num" title="Records sent to the dead-letter queue">To DLQ</th>
      <th scope="col" class="num" title="Redeliveries skipped: the stage had already handled the order">Dupes</th>
      <th scope="col" class="num" title="Invocations (batches)">Batches</th>
      <th scope="col" class="num" title="Average and largest batch size (records per invocation)">Avg / max</th>
      <th scope="col" class="num" title="Invocations that failed as a whole (error, timeout, malformed response): their records return after the visibility timeout">Failed inv.</th>
    </tr></thead>
    ${topology.pipelines.map(
      (pipeline) => html`<tbody>
      ${pipelineRow(pipeline.id, 10, false)}
      ${pipeline.stages.map((stage) => {
        const p = `stats.pipelines.${stage.pipelineId}.${stage.name}`;
        const inUse = Number(lookup(model, `${p}.concurrency.inUse`) ?? 0);
        const max = Number(lookup(model, `${p}.concurrency.max`) ?? stage.maxConcurrency);
        return html`<tr data-stage="${stage.key}">
        ${stageHeader(stage)}
        <td class="concurrency"><progress max="${max}" value="${inUse}" data-progress="${p}.concurrency"></progress>${bound('span', `${p}.concurrency.inUse`, 'int')}<span class="of"> / </span>${bound('span', `${p}.concurrency.max`, 'int')}</td>
        ${bound('td', `${p}.succeeded`, 'int', {}, 'num')}
        ${bound('td', `${p}.failed`, 'int', { hot: 'warn' }, 'num')}
        ${bound('td', `${p}.retried`, 'int', {}, 'num')}
        ${bound('td', `${p}.deadLettered`, 'int', { hot: 'bad' }, 'num')}
        ${bound('td', `${p}.duplicates`, 'int', {}, 'num')}
        ${bound('td', `${p}.batches`, 'int', {}, 'num')}
        <td class="num">${bound('span', `${p}.averageBatchSize`, 'rate')}<span class="of"> / </span>${bound('span', `${p}.maxBatchSize`, 'int')}</td>
        ${bound('td', `${p}.failedBatches`, 'int', { hot: 'warn' }, 'num')}
      </tr>`;
      })}
    </tbody>`,
    )}
  </table>`;

  const alarmMatrix = (): Html => {
    const first = topology.pipelines[0]?.stages[0];
    const items = topology.pipelines.flatMap((pipeline) =>
      pipeline.stages.flatMap((stage) =>
        STAGE_ALARM_KINDS.map((rule) => {
          const status: AlarmStatus | undefined = model.alarms.pipelines[pipeline.id]?.stages[stage.name]?.[rule];
          const id = `${pipeline.id}.${stage.name}.${rule}`;
          return html`<li data-alarm-item="${id}"${status?.state === 'ALARM' ? '' : html` hidden`}><b>${pipeline.id} / ${stage.name}</b> · ${RULE_LABELS[rule]}: <span data-alarm-reason="${id}">${status?.reason ?? ''}</span></li>`;
        }),
      ),
    );
    return html`<table class="grid-table alarms">
      <thead><tr>
        <th scope="col">Stage</th>
        ${STAGE_ALARM_KINDS.map((rule) => html`<th scope="col" title="${first ? RULE_HELP[rule](stageAlarmRule(rule, first, topology.retention)) : ''}">${RULE_LABELS[rule]}</th>`)}
      </tr></thead>
      ${topology.pipelines.map(
        (pipeline) => html`<tbody>
        ${pipelineRow(pipeline.id, STAGE_ALARM_KINDS.length + 1)}
        ${pipeline.stages.map(
          (stage) => html`<tr data-stage="${stage.key}">
          ${stageHeader(stage)}
          ${STAGE_ALARM_KINDS.map((rule) => html`<td title="${RULE_HELP[rule](stageAlarmRule(rule, stage, topology.retention))}">${alarmBadge(stage, rule)}</td>`)}
        </tr>`,
        )}
      </tbody>`,
      )}
    </table>
    <ul class="active-alarms" id="active-alarms" aria-label="Alarms in ALARM">${items}</ul>
    <p class="note">The CloudWatch alarms' rules and thresholds, evaluated every few seconds on this runtime's figures. <span class="alarm alarm-PENDING">1/3</span> breaching for 1 of 3 periods: it fires at 3/3. Hover a state for its reason. Throttles are always 0 locally: no reserved concurrency here.</p>`;
  };

  return `<!doctype html>\n${html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<title>${model.alarms.state === 'ALARM' ? `ALARM (${model.alarms.alarming.length}) · Conveyor` : 'Conveyor · local dashboard'}</title>
<link rel="icon" href="${ASSETS_PATH}/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${ASSETS_PATH}/uPlot.min.css">
<link rel="stylesheet" href="${ASSETS_PATH}/dashboard.css">
<script src="${ASSETS_PATH}/uPlot.iife.min.js" defer></script>
<script type="module" src="${ASSETS_PATH}/dashboard.js"></script>
</head>
<body data-state="${model.alarms.state}">
<header class="topbar">
  <div class="brand"><span class="logo" aria-hidden="true"><i></i><i></i><i></i></span>Conveyor <span class="env">local</span></div>
  <div class="overall alarm-${overall.state}" data-overall title="${overallTitle}">${overall.label}</div>
  <div class="meta">
    <span title="Tracking level of the order status table">tracking <b>${topology.tracking}</b></span>
    <span title="Uptime of the local runtime">up ${bound('b', 'stats.uptimeSeconds', 'seconds')}</span>
    <span title="Where state lives">${input.storage}</span>
  </div>
  <form class="search" id="order-search" role="search" action="/dashboard" method="get">
    <input type="search" name="order" id="order-id" placeholder="Find an order by id" autocomplete="off" spellcheck="false" maxlength="200" aria-label="Order id" title="Press / to search">
    <button type="submit">Look up</button>
  </form>
  <div class="live" id="live" data-live="server" title="The page polls /api/stats and /api/alarms every 2 s"><span class="dot"></span><span id="live-text">snapshot ${model.stats.at.slice(11, 19)} UTC</span></div>
</header>
<main>
  <section class="totals" aria-label="Totals">
    ${totalCard('Accepted', 'stats.totals.accepted', 'int', 'orders taken by the API', { sub: ['derived.acceptedPerSecond', 'rate', ' /s now'] })}
    ${totalCard('Delivered', 'stats.totals.delivered', 'int', 'orders delivered', { sub: ['derived.deliveredPerSecond', 'rate', ' /s now'], tone: 'good' })}
    ${totalCard('Dead-lettered', 'stats.totals.deadLettered', 'int', 'orders in a DLQ', { hot: { hot: 'bad' } })}
    ${totalCard('In flight', 'stats.totals.inFlight', 'int', 'not yet delivered')}
    ${totalCard('Latency p50', 'stats.latencyMs.p50', 'ms', 'accepted → delivered')}
    ${totalCard('Latency p99', 'stats.latencyMs.p99', 'ms', 'acceptance → delivery, 99th percentile', { sub: ['stats.latencyMs.samples', 'int', ' recent deliveries'] })}
    ${totalCard('Failed attempts', 'derived.failedPerSecond', 'rate', 'retried or to a DLQ', { hot: { hot: 'warn' }, unit: ' /s' })}
  </section>
  <section class="panel order-panel" id="order" hidden aria-live="polite" aria-label="Order lookup"></section>
  <div class="grid">
    <div class="col-main">
      <section class="panel" aria-labelledby="queues-title">
        <h2 id="queues-title">Queues <small>each stage's queue and dead-letter queue</small></h2>
        ${queueTable()}
      </section>
      <section class="panel" aria-labelledby="stages-title">
        <h2 id="stages-title">Stages <small>functions and their event source mappings</small></h2>
        ${stageTable()}
      </section>
    </div>
    <aside class="col-side">
      <section class="panel" aria-labelledby="alarms-title">
        <h2 id="alarms-title">Alarms <small>cloud thresholds, evaluated locally</small></h2>
        ${alarmMatrix()}
      </section>
      <section class="panel" aria-labelledby="chart-title">
        <h2 id="chart-title">Throughput <small>per second</small></h2>
        <div id="chart" class="chart" role="img" aria-label="Orders accepted and delivered, and failed attempts, per second"><noscript>The chart needs JavaScript.</noscript></div>
      </section>
    </aside>
  </div>
</main>
<footer>Conveyor local runtime · figures from the handlers' EMF metrics and the queues' attributes · <a href="/api/stats">/api/stats</a> · <a href="/api/alarms">/api/alarms</a> · <a href="/api/topology">/api/topology</a></footer>
</body>
</html>
`}`;
}
