/**
 * How the dashboard shows numbers, states and times — one implementation, used by the server
 * when it renders the page and by the browser when it keeps it live (types: format.d.ts).
 * Plain JavaScript: the browser loads it as it is, no build step.
 */

export const DASH = '—';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });

/** Alarm states as the page labels them. */
export const STATE_LABELS = { OK: 'OK', ALARM: 'ALARM', INSUFFICIENT_DATA: 'No data' };

function isNumber(value) {
  return typeof value === 'number' && Number.isFinite(value);
}

/** 1,234,567 */
export function formatInt(value) {
  return isNumber(value) ? integer.format(value) : DASH;
}

/** Per-second rates: 0, 0.4, 12.5, 1,234 */
export function formatRate(value) {
  if (!isNumber(value)) return DASH;
  if (value === 0) return '0';
  return Math.abs(value) < 100 ? oneDecimal.format(value) : integer.format(value);
}

/** Ages and durations in seconds: 0 s, 45 s, 3 m 05 s, 2 h 07 m, 3 d 4 h */
export function formatSeconds(value) {
  if (!isNumber(value)) return DASH;
  const s = Math.max(0, Math.round(value));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, '0')} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} m`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** Latencies in milliseconds: 850 ms, 1.2 s, 2 m 03 s */
export function formatMs(value) {
  if (!isNumber(value)) return DASH;
  if (value < 1000) return `${integer.format(value)} ms`;
  if (value < 60000) return `${oneDecimal.format(value / 1000)} s`;
  return formatSeconds(value / 1000);
}

/** A value as the element asking for it wants it (`data-fmt`). */
export function formatValue(kind, value) {
  switch (kind) {
    case 'rate':
      return formatRate(value);
    case 'seconds':
      return formatSeconds(value);
    case 'ms':
      return formatMs(value);
    case 'state':
      return STATE_LABELS[value] ?? DASH;
    case 'paused':
      return value === true ? 'paused' : value === false ? 'running' : DASH;
    case 'breaker':
      return typeof value === 'string' ? value : DASH;
    case 'retention':
      return value && typeof value === 'object' ? retentionWarning(value) || 'ok' : DASH;
    case 'text':
      return value === undefined || value === null ? DASH : String(value);
    default:
      return formatInt(value);
  }
}

/**
 * The class a figure takes from its value (elements with `data-tone`): a paused or running pill, a
 * breaker's state, a retention warning.
 */
export function toneOf(kind, value) {
  switch (kind) {
    case 'paused':
      return value === true ? 'pill-paused' : 'pill-running';
    case 'breaker':
      return `breaker-${typeof value === 'string' ? value : 'unknown'}`;
    case 'retention':
      return value && typeof value === 'object' && retentionWarning(value) ? 'hot-warn' : '';
    default:
      return '';
  }
}

/**
 * What a stage's view in /api/stats says about SQS's retention: empty when nothing is near it, else
 * which queue's oldest message is how old, of how long SQS keeps it.
 */
export function retentionWarning(view) {
  const warnings = [];
  if (view.nearsRetention)
    warnings.push(
      `queue: oldest ${formatSeconds(view.oldestMessageAgeSeconds)} of ${formatSeconds(view.retentionSeconds)}`,
    );
  if (view.deadLettersNearRetention)
    warnings.push(
      `DLQ: oldest ${formatSeconds(view.oldestDeadLetterAgeSeconds)} of ${formatSeconds(view.deadLetterRetentionSeconds)}`,
    );
  return warnings.join('; ');
}

/** Whether an element marked `data-when` shows: the value at `path` is one of `values`. */
export function isShown(model, path, values) {
  return values.includes(String(lookup(model, path)));
}

/** `a.b.c` in a nested object (ids hold no dots: warehouse ids are letters, digits and dashes). */
export function lookup(model, path) {
  let value = model;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = value[key];
  }
  return value;
}

/** True when a figure deserves the eye: above `over` (default 0). */
export function isHot(value, over = 0) {
  return isNumber(value) && value > over;
}

/** Mean of the last `seconds` entries of a per-second series. */
export function recentRate(series, seconds = 10) {
  if (!Array.isArray(series) || series.length === 0) return 0;
  const window = series.slice(-seconds);
  return window.reduce((a, b) => a + b, 0) / window.length;
}

/**
 * What the page binds to: the stats and alarm reports as the API returns them, plus a few
 * figures derived from them.
 */
export function pageModel(stats, alarms) {
  return {
    stats,
    alarms,
    derived: {
      acceptedPerSecond: recentRate(stats?.history?.accepted),
      deliveredPerSecond: recentRate(stats?.history?.delivered),
      failedPerSecond: recentRate(stats?.history?.failed),
    },
  };
}

/**
 * How an alarm state shows: its label and class. An OK alarm whose condition already holds for
 * some periods shows as pending (e.g. `1/3`): it fires when the count reaches the last.
 */
export function alarmView(status) {
  const state = status?.state ?? 'INSUFFICIENT_DATA';
  if (state === 'OK' && status.breachingPeriods > 0)
    return { state: 'PENDING', label: `${status.breachingPeriods}/${status.evaluationPeriods}` };
  return { state, label: STATE_LABELS[state] ?? DASH };
}

/** Stage alarms on their way to ALARM (OK, but breaching for some of their periods), e.g. `wh-1/delivery dlq`. */
export function pendingAlarms(alarms) {
  const pending = [];
  for (const [pipeline, { stages }] of Object.entries(alarms?.pipelines ?? {})) {
    for (const [stage, rules] of Object.entries(stages)) {
      for (const [rule, status] of Object.entries(rules))
        if (alarmView(status).state === 'PENDING') pending.push(`${pipeline}/${stage} ${rule}`);
    }
  }
  return pending;
}

/** The header's summary: "2 alarms", "1 pending", "All clear" or "Waiting for data", with the state that colours it. */
export function overallView(alarms) {
  if (!alarms) return { state: 'INSUFFICIENT_DATA', label: DASH };
  if (alarms.state === 'ALARM')
    return { state: 'ALARM', label: `${alarms.alarming.length} alarm${alarms.alarming.length === 1 ? '' : 's'}` };
  const pending = pendingAlarms(alarms);
  if (pending.length > 0) return { state: 'PENDING', label: `${pending.length} pending` };
  return alarms.state === 'OK'
    ? { state: 'OK', label: 'All clear' }
    : { state: 'INSUFFICIENT_DATA', label: 'Waiting for data' };
}
