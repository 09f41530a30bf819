/**
 * Order status: where an order is in its pipeline. Status only moves forward
 * (accepted → packing → delivering → delivered), which is what makes redelivered
 * messages harmless: a stage whose transition was already made skips the record.
 * `dead-lettered` can be left again when the message is redriven.
 */
import type { StageName } from '../topology/model.ts';

export const ORDER_STATUSES = ['accepted', 'packing', 'delivering', 'delivered', 'dead-lettered'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** The forward-moving statuses, in order. */
export type ProgressStatus = Exclude<OrderStatus, 'dead-lettered'>;
export const PROGRESS: readonly ProgressStatus[] = ['accepted', 'packing', 'delivering', 'delivered'];

/** The status an order has once `stage` has finished with it. */
export function statusAfter(stage: StageName): ProgressStatus {
  switch (stage) {
    case 'picking':
      return 'packing';
    case 'packing':
      return 'delivering';
    case 'delivery':
      return 'delivered';
  }
}

/** The stage an order in `status` waits in (or died in, for dead letters: see the record's `stage`). */
export function stageOf(status: ProgressStatus): StageName {
  switch (status) {
    case 'accepted':
      return 'picking';
    case 'packing':
      return 'packing';
    case 'delivering':
    case 'delivered':
      return 'delivery';
  }
}

/** Statuses from which an order may move to `target`: every earlier one, and dead-lettered (a redrive). */
export function predecessorsOf(target: ProgressStatus): OrderStatus[] {
  return [...PROGRESS.slice(0, PROGRESS.indexOf(target)), 'dead-lettered'];
}

/** True when an order in `current` has already passed through the transition to `target`. */
export function hasReached(current: OrderStatus | undefined, target: ProgressStatus): boolean {
  if (current === undefined || current === 'dead-lettered') return false;
  return PROGRESS.indexOf(current) >= PROGRESS.indexOf(target);
}

/** One entry of an order's history. */
export interface HistoryEntry {
  readonly at: string;
  readonly status: OrderStatus;
  /** Who made the transition: `intake` or a stage name. */
  readonly by: 'intake' | StageName;
  /** Short, id-only facts (wave id, box sizes, carrier) — never the order payload. */
  readonly detail?: Readonly<Record<string, string | number>>;
  readonly reason?: string;
}

/** The status record of one order, as stored and as `GET /orders/{orderId}` returns it. */
export interface OrderRecord {
  readonly orderId: string;
  readonly warehouseId?: string;
  readonly status: OrderStatus;
  /** The stage the order waits in, or for dead letters the stage whose DLQ holds it. */
  readonly stage: StageName;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly history: readonly HistoryEntry[];
  /** Why the order was dead-lettered (present while it is). */
  readonly reason?: string;
  readonly delivery?: Readonly<Record<string, string | number>>;
}
