/**
 * The order statuses a customer sees: `accepted`, then one per stage the order waits in, then
 * `delivered` — or `dead-lettered` (with a reason), `cancelled`, `purged`. The ledger stores facts
 * (which stage finished with the order, and where it went next); these are the words for them.
 */
import type { StatusLabels } from '../ledger/records.ts';

/** What an order is called while it waits in a stage, where the stage's own name does not say it. */
const WAITING_IN: Readonly<Record<string, string>> = { picking: 'accepted', delivery: 'delivering' };

/**
 * The order domain's status words.
 *
 * @example
 * ORDER_STATUS_LABELS.waitingIn('packing'); // 'packing'
 * ORDER_STATUS_LABELS.waitingIn('delivery'); // 'delivering'
 */
export const ORDER_STATUS_LABELS: StatusLabels = {
  accepted: 'accepted',
  waitingIn: (stage) => WAITING_IN[stage] ?? stage,
  completed: 'delivered',
};

/** Statuses an order never leaves. */
export const FINAL_STATUSES = ['delivered', 'cancelled', 'purged'] as const;
