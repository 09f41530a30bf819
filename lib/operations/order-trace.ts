/**
 * One order's story, the same on both targets: its history from the ledger (`GET /orders/{id}`) and
 * every log line a function wrote about it — the local runtime keeps them (lib/local/order-log.ts),
 * on AWS a Logs Insights query finds them — merged in time order. What makes a line "about an
 * order" and what a trace shows of it is decided here once, from the log fields of the contract.
 */
import { LogField } from '../contract/index.ts';
import type { HistoryEntry, OrderRecord } from '../ledger/records.ts';

/** Longer texts (an error's message) are cut: a trace line stays small in memory and on screen. */
export const MAX_TRACE_TEXT = 1_000;

/** One log line about an order, as a trace shows it. */
export interface TraceLine {
  /** When it was written (ISO). */
  readonly at: string;
  /** Who wrote it: a stage's name, or `intake`, `dead-letter-auditor`. */
  readonly source: string;
  /** The stage the line is about, where it is not its writer (the auditor's lines). */
  readonly stage?: string;
  /** The stage's pipeline (warehouse). */
  readonly pipeline?: string;
  readonly level: string;
  readonly message: string;
  /** The receive that failed (SQS's ApproximateReceiveCount). */
  readonly receiveCount?: number;
  readonly retryInSeconds?: number;
  /** A dead letter's kind: poison, rejected, exhausted. */
  readonly kind?: string;
  readonly reason?: string;
  readonly error?: string;
  readonly traceId?: string;
  /** For a line about several orders (the intake's, one per request): how many it names. */
  readonly orders?: number;
}

export type TraceEntry = ({ readonly type: 'history' } & HistoryEntry) | ({ readonly type: 'log' } & TraceLine);

/** Where a trace's log lines come from, and whether some may be missing. */
export interface TraceLogs {
  /** e.g. `the local runtime's log of order lines`, `CloudWatch Logs Insights, 5 log groups`. */
  readonly source: string;
  /** The time searched (ISO), when bounded. */
  readonly from?: string;
  readonly to?: string;
  /** Why lines may be missing (kept only from a time on, a query's row limit): absent when complete. */
  readonly incomplete?: string;
}

export interface OrderTrace {
  readonly orderId: string;
  /** The order's record without its history (its entries are in `entries`); absent when the ledger has none. */
  readonly record?: Omit<OrderRecord, 'history'>;
  /** History entries and log lines, oldest first. */
  readonly entries: readonly TraceEntry[];
  readonly logs: TraceLogs;
}

/** The order ids a structured log line names (`orderId`, `orderIds`). */
export function ordersNamed(fields: Readonly<Record<string, unknown>>): string[] {
  const one = fields[LogField.orderId];
  const many = fields[LogField.orderIds];
  return [
    ...(typeof one === 'string' ? [one] : []),
    ...(Array.isArray(many) ? many.filter((id): id is string => typeof id === 'string') : []),
  ];
}

/** Whether a structured log line is about `orderId`. */
export function mentionsOrder(fields: Readonly<Record<string, unknown>>, orderId: string): boolean {
  return ordersNamed(fields).includes(orderId);
}

/**
 * What a trace shows of a structured log line (Powertools JSON), or undefined for a line that is not
 * one (no message). `fallback` names the writer when the line does not (a function's name) and its
 * time when it has no timestamp.
 *
 * @example
 * traceLineOf({ level: 'WARN', message: 'record failed; will retry', timestamp: '…', pipeline: 'wh-1', stage: 'picking', orderId: 'o-1', receiveCount: 2, reason: 'scanner offline' }, { source: 'conveyor-wh-1-picking', at: '…' });
 * // { at: '…', source: 'picking', pipeline: 'wh-1', level: 'WARN', message: 'record failed; will retry', receiveCount: 2, reason: 'scanner offline' }
 */
export function traceLineOf(
  fields: Readonly<Record<string, unknown>>,
  fallback: { readonly source: string; readonly at: string },
): TraceLine | undefined {
  const message = fields[LogField.message];
  if (typeof message !== 'string') return undefined;
  const text = (key: string) => (typeof fields[key] === 'string' ? { [key]: cut(fields[key] as string) } : {});
  const number = (key: string) =>
    typeof fields[key] === 'number' && Number.isFinite(fields[key]) ? { [key]: fields[key] as number } : {};
  const named = ordersNamed(fields);
  // Stage functions name their stage; the intake and the auditor name themselves (the auditor, the stage too).
  const writer = fields[LogField.function] ?? fields[LogField.stage];
  const source = typeof writer === 'string' ? writer : fallback.source;
  return {
    at: typeof fields[LogField.timestamp] === 'string' ? (fields[LogField.timestamp] as string) : fallback.at,
    source,
    ...(typeof fields[LogField.stage] === 'string' && fields[LogField.stage] !== source ? text(LogField.stage) : {}),
    ...text(LogField.pipeline),
    level: String(fields[LogField.level] ?? 'INFO').toUpperCase(),
    message: cut(message),
    ...number(LogField.receiveCount),
    ...number(LogField.retryInSeconds),
    ...text(LogField.kind),
    ...text(LogField.reason),
    ...text(LogField.error),
    ...text(LogField.traceId),
    ...(Array.isArray(fields[LogField.orderIds]) ? { orders: named.length } : {}),
  };
}

/**
 * The trace: history and log lines in time order (at the same instant, the history first).
 *
 * @example
 * const trace = buildTrace('o-1', await ledger.read('o-1'), logIndex.linesOf('o-1'), { source: "the local runtime's log" });
 */
export function buildTrace(
  orderId: string,
  record: OrderRecord | undefined,
  lines: readonly TraceLine[],
  logs: TraceLogs,
): OrderTrace {
  const entries: TraceEntry[] = [
    ...(record?.history ?? []).map((h): TraceEntry => ({ type: 'history', ...h })),
    ...lines.map((l): TraceEntry => ({ type: 'log', ...l })),
  ];
  const rank = (e: TraceEntry) => (e.type === 'history' ? 0 : 1);
  entries.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : rank(a) - rank(b)));
  const { history: _history, ...summary } = record ?? { history: [] };
  return { orderId, ...(record ? { record: summary as Omit<OrderRecord, 'history'> } : {}), entries, logs };
}

function cut(text: string): string {
  return text.length > MAX_TRACE_TEXT ? `${text.slice(0, MAX_TRACE_TEXT - 1)}…` : text;
}
