/**
 * Dead letters as JSON lines an operator can fix and send again (`conveyor dlq export`, then
 * `conveyor send --file`): one line per dead letter, `{"order": {…}, "deadLetter": {…}}` — the order
 * as the API takes it, and why and where it died. An order id is never processed twice (the old one
 * stays dead-lettered, or is cancelled), so the exported order carries a new id derived from the old:
 * `o-1` → `o-1.r1` → `o-1.r2`. Sending the same file twice sends each order once.
 */
import { ORDER_ID_PATTERN } from '../domain/order.ts';
import type { DeadLetter } from './dead-letters.ts';

export interface ExportedDeadLetter {
  /** The order to send again, with its new id; null when the dead letter's body holds no order (poison). */
  readonly order: Record<string, unknown> | null;
  readonly deadLetter: {
    readonly orderId?: string;
    readonly stage?: string;
    readonly kind?: string;
    readonly reason?: string;
    readonly receiveCount?: number;
    readonly deadLetteredAt?: string;
    readonly movedBy?: string;
    readonly messageId: string;
    /** The raw body, when no order could be read from it: fix it by hand into `order`. */
    readonly body?: string;
  };
}

const MAX_ORDER_ID_LENGTH = 64;

/**
 * The id an order gets when it is sent again.
 * @example
 * resubmissionId('o-1'); // 'o-1.r1'
 * resubmissionId('o-1.r1'); // 'o-1.r2'
 */
export function resubmissionId(orderId: string): string {
  const match = /^(.*)\.r(\d{1,6})$/.exec(orderId);
  const [base, generation] = match ? [match[1] as string, Number(match[2]) + 1] : [orderId, 1];
  const suffix = `.r${generation}`;
  return `${base.slice(0, MAX_ORDER_ID_LENGTH - suffix.length)}${suffix}`;
}

/** The order a stage message carries (`{"v", "order", …}`), or undefined. */
function orderOf(body: string): Record<string, unknown> | undefined {
  try {
    const parsed = JSON.parse(body) as { order?: unknown };
    return typeof parsed?.order === 'object' && parsed.order !== null && !Array.isArray(parsed.order)
      ? (parsed.order as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * @example
 * exportLine(letter); // { order: { orderId: 'o-1.r1', warehouseId: 'wh-1', items: [...] }, deadLetter: { orderId: 'o-1', kind: 'rejected', reason: '…', … } }
 */
export function exportLine(letter: DeadLetter): ExportedDeadLetter {
  const order = orderOf(letter.body);
  const oldId = typeof order?.orderId === 'string' ? order.orderId : letter.orderId;
  const deadLetter = {
    ...(oldId !== undefined ? { orderId: oldId } : {}),
    ...pick(letter, ['stage', 'kind', 'reason', 'receiveCount', 'deadLetteredAt', 'movedBy']),
    messageId: letter.messageId,
    ...(order ? {} : { body: letter.body }),
  };
  if (!order) return { order: null, deadLetter };
  return {
    order: {
      ...order,
      ...(oldId !== undefined && ORDER_ID_PATTERN.test(oldId) ? { orderId: resubmissionId(oldId) } : {}),
    },
    deadLetter,
  };
}

function pick<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(keys.filter((k) => value[k] !== undefined).map((k) => [k, value[k]])) as Partial<
    Pick<T, K>
  >;
}

/**
 * A line of an export file: `{"order", "deadLetter"}` (and nothing else); undefined for anything
 * else (e.g. a plain order).
 */
export function asExportedLine(
  value: unknown,
): { readonly order: unknown; readonly deadLetter: Record<string, unknown> } | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  const line = value as { order?: unknown; deadLetter?: unknown };
  if (!keys.includes('deadLetter') || !keys.every((k) => k === 'order' || k === 'deadLetter')) return undefined;
  const deadLetter =
    typeof line.deadLetter === 'object' && line.deadLetter !== null ? (line.deadLetter as Record<string, unknown>) : {};
  return { order: line.order, deadLetter };
}
