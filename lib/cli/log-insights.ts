/**
 * One order's log lines from CloudWatch Logs, for `conveyor trace --target aws`: a Logs Insights
 * query (`StartQuery`, then `GetQueryResults` until it completes) over the log groups of the
 * functions that write about orders — the order's warehouse's stages, the intake, the dead-letter
 * auditor — within the order's lifetime. The filter matches the order id only where a line names
 * it: in its `orderId` field, or in its `orderIds` list (the contract's fields), never as a
 * substring of another id; each line found is checked again against the same rule locally
 * (lib/operations/order-trace.ts) and becomes a trace line.
 */
import {
  GetQueryResultsCommand,
  StartQueryCommand,
  StopQueryCommand,
  type CloudWatchLogsClient,
  type QueryStatistics,
  type ResultField,
} from '@aws-sdk/client-cloudwatch-logs';
import { LogField } from '../contract/index.ts';
import { mentionsOrder, traceLineOf, type TraceLine } from '../operations/order-trace.ts';
import { CliError } from './errors.ts';

/** Logs Insights returns at most this many rows per query. */
export const INSIGHTS_MAX_ROWS = 10_000;
/** Logs Insights queries at most this many log groups at once. */
export const INSIGHTS_MAX_LOG_GROUPS = 50;

export interface InsightsProgress {
  readonly status: string;
  readonly recordsScanned: number;
  readonly recordsMatched: number;
  readonly bytesScanned: number;
}

export interface InsightsOptions {
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  /** Between two GetQueryResults calls. @default 1000 */
  readonly pollMs?: number;
  /** Give up (and stop the query) after this long. @default 120000 */
  readonly maxWaitMs?: number;
  readonly onProgress?: (progress: InsightsProgress) => void;
}

/** A log group with who writes to it (the source a line is shown under when it does not say). */
export interface TracedLogGroup {
  readonly name: string;
  readonly source: string;
}

/** `o-1.x` → `o-1\.x`: the id as a literal inside a regular expression. */
function literal(id: string): string {
  return id.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * The query for one order's lines, oldest first.
 *
 * @example
 * orderQueryString('o-1');
 * // 'fields @timestamp, @log, @message\n| filter @message like /"orderId":\s*"o-1"|"orderIds":\s*\[[^\]]*"o-1"/\n| sort @timestamp asc\n| limit 10000'
 */
export function orderQueryString(orderId: string): string {
  const id = `"${literal(orderId)}"`;
  return [
    'fields @timestamp, @log, @message',
    `filter @message like /"${LogField.orderId}":\\s*${id}|"${LogField.orderIds}":\\s*\\[[^\\]]*${id}/`,
    'sort @timestamp asc',
    `limit ${INSIGHTS_MAX_ROWS}`,
  ].join('\n| ');
}

/**
 * Runs the order's query over `logGroups` (in chunks of 50, Logs Insights' limit) between `from` and
 * `to` (epoch ms) and returns its lines, oldest first, and whether a query hit its row limit.
 * @throws CliError when a query fails, is cancelled, or does not finish within `maxWaitMs` (then it is stopped).
 */
export async function queryOrderLines(
  logs: CloudWatchLogsClient,
  logGroups: readonly TracedLogGroup[],
  orderId: string,
  window: { readonly from: number; readonly to: number },
  options: InsightsOptions,
): Promise<{ lines: TraceLine[]; truncated: boolean }> {
  const sourceOf = new Map(logGroups.map((g) => [g.name, g.source]));
  const lines: TraceLine[] = [];
  let truncated = false;
  for (let i = 0; i < logGroups.length; i += INSIGHTS_MAX_LOG_GROUPS) {
    const names = logGroups.slice(i, i + INSIGHTS_MAX_LOG_GROUPS).map((g) => g.name);
    const rows = await runQuery(logs, names, orderQueryString(orderId), window, options);
    truncated ||= rows.length >= INSIGHTS_MAX_ROWS;
    for (const row of rows) {
      const line = lineOf(row, orderId, sourceOf);
      if (line) lines.push(line);
    }
  }
  return { lines: lines.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)), truncated };
}

/** One result row as a trace line, when its message is a structured line about the order. */
function lineOf(
  row: readonly ResultField[],
  orderId: string,
  sourceOf: ReadonlyMap<string, string>,
): TraceLine | undefined {
  const value = (field: string) => row.find((f) => f.field === field)?.value;
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(value('@message') ?? '') as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof fields !== 'object' || fields === null || !mentionsOrder(fields, orderId)) return undefined;
  // `@log` is "<account>:<log group name>"; `@timestamp` is "2026-12-01 10:00:00.123" (UTC).
  const group = (value('@log') ?? '').replace(/^\d+:/, '');
  const at = (value('@timestamp') ?? '').replace(' ', 'T');
  return traceLineOf(fields, {
    source: sourceOf.get(group) ?? group,
    at: at.endsWith('Z') || at === '' ? at : `${at}Z`,
  });
}

async function runQuery(
  logs: CloudWatchLogsClient,
  logGroupNames: string[],
  queryString: string,
  window: { readonly from: number; readonly to: number },
  options: InsightsOptions,
): Promise<ResultField[][]> {
  const { queryId } = await logs.send(
    new StartQueryCommand({
      logGroupNames,
      startTime: Math.floor(window.from / 1000),
      endTime: Math.ceil(window.to / 1000),
      queryString,
      limit: INSIGHTS_MAX_ROWS,
    }),
  );
  if (!queryId) throw new CliError('CloudWatch Logs did not start the Logs Insights query (no query id) — try again');
  const maxWaitMs = options.maxWaitMs ?? 120_000;
  const deadline = options.now() + maxWaitMs;
  for (;;) {
    const answer = await logs.send(new GetQueryResultsCommand({ queryId }));
    const status = answer.status ?? 'Unknown';
    options.onProgress?.(progressOf(status, answer.statistics));
    if (status === 'Complete') return answer.results ?? [];
    if (status === 'Failed' || status === 'Cancelled' || status === 'Timeout') {
      throw new CliError(
        `the Logs Insights query ${queryId} ended ${status} — try a shorter time range (--since), or run it in the console (CloudWatch → Logs Insights)`,
      );
    }
    if (options.now() >= deadline) {
      await logs.send(new StopQueryCommand({ queryId })).catch(() => undefined);
      const scanned = answer.statistics?.recordsScanned;
      throw new CliError(
        `the Logs Insights query did not finish within ${Math.round(maxWaitMs / 1000)} s (${status}${scanned !== undefined ? `, ${Math.round(scanned).toLocaleString('en-US')} records scanned` : ''}; stopped) — try a shorter time range with --since`,
      );
    }
    await options.sleep(options.pollMs ?? 1000);
  }
}

function progressOf(status: string, statistics: QueryStatistics | undefined): InsightsProgress {
  return {
    status,
    recordsScanned: statistics?.recordsScanned ?? 0,
    recordsMatched: statistics?.recordsMatched ?? 0,
    bytesScanned: statistics?.bytesScanned ?? 0,
  };
}
