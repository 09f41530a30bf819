/**
 * Picking: one pick wave per batch. A picker walks the warehouse once for the whole batch, so all
 * orders' items are grouped by SKU into stops along a serpentine route, and each order's pick list
 * points at the wave-level stops its items are picked at.
 */
import * as z from 'zod/mini';
import { MAX_ITEMS_PER_ORDER, Quantity, Sku } from './order.ts';
import type { PickingInput } from './messages.ts'; // type only: messages.ts imports this module's schemas
import { BINS_PER_AISLE, hash53Hex, locationOfSlot, slotOf } from './catalog.ts';
import { reject, succeed, type Outcome } from '../runtime/outcome.ts';

export const PickLine = z.strictObject({
  sku: Sku,
  quantity: Quantity,
  aisle: z.string().check(z.regex(/^[A-Z]$/, { error: 'must be an aisle letter, e.g. "C"' })),
  bin: z.string().check(z.regex(/^\d{2}-\d{2}$/, { error: 'must be a bin "bay-level", e.g. "07-03"' })),
  /** Position of this line's stop in the wave's route, from 1. */
  sequence: z.int({ error: 'must be a whole number' }).check(z.minimum(1, { error: 'must be at least 1' })),
});
export type PickLine = z.infer<typeof PickLine>;

export const PickList = z.strictObject({
  waveId: z.string().check(z.minLength(1), z.maxLength(64)),
  lines: z.array(PickLine).check(z.minLength(1), z.maxLength(MAX_ITEMS_PER_ORDER)),
});
export type PickList = z.infer<typeof PickList>;

/** One stop of a wave: a SKU at its location. */
interface Stop {
  readonly sku: string;
  /** Position along the serpentine route; equal for SKUs sharing a bin. */
  readonly route: number;
  readonly aisle: string;
  readonly bin: string;
  sequence: number;
}

/**
 * Position of a storage slot along the serpentine route: aisles in order, walking up the odd aisles
 * (A, C, …: bins ascending) and back down the even ones (B, D, …: bins descending), so a picker never
 * walks an aisle empty-handed to its far end.
 *
 * @example
 * ```ts
 * routePosition(0);   // → 0   (A 01-01 is the first stop of aisle A, walking up)
 * routePosition(479); // → 240 (B 40-06 is the first stop of aisle B, walking down)
 * routePosition(240); // → 479 (B 01-01 is its last)
 * ```
 */
export function routePosition(slot: number): number {
  const aisle = Math.floor(slot / BINS_PER_AISLE);
  const bin = slot - aisle * BINS_PER_AISLE;
  return aisle * BINS_PER_AISLE + (aisle % 2 === 0 ? bin : BINS_PER_AISLE - 1 - bin);
}

/**
 * The id of the wave a batch is picked in: `W-` and a hash of the batch's sorted order ids, so the
 * same orders form the same wave however SQS orders or redelivers them.
 *
 * @example
 * ```ts
 * waveIdOf(['ord-2', 'ord-1']) === waveIdOf(['ord-1', 'ord-2']); // → true
 * waveIdOf(['ord-1']); // → 'W-0fd1d532773255'
 * ```
 */
export function waveIdOf(orderIds: readonly string[]): string {
  return `W-${hash53Hex([...orderIds].sort().join('\n'))}`;
}

/**
 * Plans one pick wave for the whole batch: every distinct SKU becomes a stop, stops are numbered
 * along the serpentine route (ties in one bin broken by SKU), and each order gets its lines with
 * their stop's wave sequence, sorted by it. Pure: the same batch (in any order) gives the same plan.
 * Returns one outcome per input, in input order.
 *
 * @example
 * ```ts
 * const order = { orderId: 'ord-1', warehouseId: 'wh-1', priority: 'standard', items: [{ sku: 'SKU-1042', quantity: 2 }] };
 * planPickWave([{ v: 1, order, acceptedAt: '2025-01-01T00:00:00.000Z' }]);
 * // → [{ ok: true, value: { waveId: 'W-0fd1d532773255', lines: [{ sku: 'SKU-1042', quantity: 2, aisle: 'B', bin: '23-03', sequence: 1 }] } }]
 * ```
 */
export function planPickWave(batch: readonly PickingInput[]): Outcome<PickList>[] {
  const stops = new Map<string, Stop>();
  const orderIds: string[] = new Array(batch.length);
  for (let i = 0; i < batch.length; i++) {
    const order = (batch[i] as PickingInput).order;
    orderIds[i] = order.orderId;
    for (const { sku } of order.items) {
      if (stops.has(sku)) continue;
      const slot = slotOf(sku);
      const { aisle, bin } = locationOfSlot(slot);
      stops.set(sku, { sku, route: routePosition(slot), aisle, bin, sequence: 0 });
    }
  }
  const route = Array.from(stops.values()).sort(alongRoute);
  for (let i = 0; i < route.length; i++) (route[i] as Stop).sequence = i + 1;
  const waveId = waveIdOf(orderIds);

  return batch.map(({ order }) => {
    // The schema requires items; a hand-built message without any would give an invalid pick list.
    if (order.items.length === 0)
      return reject(`order ${order.orderId} has no items to pick; it needs at least one {"sku", "quantity"}`);
    const lines = order.items.map(({ sku, quantity }): PickLine => {
      const { aisle, bin, sequence } = stops.get(sku) as Stop;
      return { sku, quantity, aisle, bin, sequence };
    });
    if (lines.length > 1) lines.sort(bySequence);
    return succeed({ waveId, lines });
  });
}

function alongRoute(a: Stop, b: Stop): number {
  return a.route - b.route || (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0);
}

function bySequence(a: PickLine, b: PickLine): number {
  return a.sequence - b.sequence;
}

/**
 * Short, id-only facts about a pick list for the order's status history.
 *
 * @example
 * ```ts
 * summarizePickList({ waveId: 'W-0fd1d532773255', lines: [{ sku: 'SKU-1042', quantity: 2, aisle: 'B', bin: '23-03', sequence: 1 }] });
 * // → { waveId: 'W-0fd1d532773255', lines: 1, units: 2 }
 * ```
 */
export function summarizePickList(pickList: PickList): Record<string, string | number> {
  let units = 0;
  for (const line of pickList.lines) units += line.quantity;
  return { waveId: pickList.waveId, lines: pickList.lines.length, units };
}
