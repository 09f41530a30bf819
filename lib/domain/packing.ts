/**
 * Packing: which boxes an order ships in. Goods are packed first-fit decreasing by volume, respecting
 * each box's volume and weight limits, then every box is shrunk to the smallest size its content fits.
 * Identical boxes are listed once with a count, so even a 100 × 1,000-unit order has a small plan:
 * at most one full-box entry and one line in a mixed box per SKU (about 20 KB of JSON at worst).
 */
import * as z from 'zod/mini';
import { MAX_ITEMS_PER_ORDER, MAX_QUANTITY_PER_ITEM, Sku } from './order.ts';
import type { PackingInput } from './messages.ts'; // type only: messages.ts imports this module's schemas
import { unitOf } from './catalog.ts';
import { reject, succeed, type Outcome } from '../runtime/outcome.ts';

export const BOX_SIZE_NAMES = ['S', 'M', 'L', 'XL'] as const;
export type BoxSizeName = (typeof BOX_SIZE_NAMES)[number];

export interface BoxSize {
  readonly size: BoxSizeName;
  /** Inner dimensions, for people; packing uses `volumeCm3`. */
  readonly innerCm: readonly [number, number, number];
  /** Usable volume: 80% of the inner volume, since real goods do not tessellate. */
  readonly volumeCm3: number;
  /** Gross weight limit (box and content): the box's rating and the carriers' parcel limits. */
  readonly maxWeightGrams: number;
  /** Weight of the empty box. */
  readonly tareGrams: number;
}

/**
 * The boxes on the packing line, smallest first. XL takes any single unit the catalog can describe
 * (≤ 6,000 cm³, ≤ 4,000 g), and its 30 kg gross limit is what every carrier accepts.
 */
export const BOX_SIZES: readonly BoxSize[] = [
  { size: 'S', innerCm: [25, 20, 10], volumeCm3: 4_000, maxWeightGrams: 5_000, tareGrams: 150 },
  { size: 'M', innerCm: [40, 30, 20], volumeCm3: 19_200, maxWeightGrams: 12_000, tareGrams: 400 },
  { size: 'L', innerCm: [60, 40, 40], volumeCm3: 76_800, maxWeightGrams: 20_000, tareGrams: 900 },
  { size: 'XL', innerCm: [80, 60, 60], volumeCm3: 230_400, maxWeightGrams: 30_000, tareGrams: 1_600 },
];

const positiveInt = z.int({ error: 'must be a whole number' }).check(z.minimum(1, { error: 'must be at least 1' }));

export const BoxLine = z.strictObject({
  sku: Sku,
  /** Units of this SKU in each box of the entry. */
  quantity: positiveInt.check(z.maximum(MAX_ITEMS_PER_ORDER * MAX_QUANTITY_PER_ITEM)),
});
export type BoxLine = z.infer<typeof BoxLine>;

/** `count` identical boxes: same size, same content. */
export const Box = z.strictObject({
  size: z.enum(BOX_SIZE_NAMES),
  count: positiveInt,
  lines: z.array(BoxLine).check(z.minLength(1), z.maxLength(MAX_ITEMS_PER_ORDER)),
  /** Gross weight of one box, tare included. */
  weightGrams: positiveInt,
});
export type Box = z.infer<typeof Box>;

export const PackingPlan = z
  .strictObject({
    boxes: z.array(Box).check(z.minLength(1), z.maxLength(1_000)),
    /** Parcels to ship: the sum of the boxes' counts. */
    parcels: positiveInt,
    /** Gross weight of all parcels. */
    totalWeightGrams: positiveInt,
  })
  .check(
    z.superRefine((plan, ctx) => {
      let parcels = 0;
      let weight = 0;
      for (const box of plan.boxes) {
        parcels += box.count;
        weight += box.count * box.weightGrams;
      }
      if (plan.parcels !== parcels)
        ctx.addIssue({
          code: 'custom',
          path: ['parcels'],
          message: `must be the sum of the boxes' counts (${parcels})`,
        });
      if (plan.totalWeightGrams !== weight)
        ctx.addIssue({
          code: 'custom',
          path: ['totalWeightGrams'],
          message: `must be the sum of count × weightGrams over the boxes (${weight})`,
        });
    }),
  );
export type PackingPlan = z.infer<typeof PackingPlan>;

/** The units of one SKU still to pack. */
interface Group {
  readonly sku: string;
  readonly volumeCm3: number;
  readonly weightGrams: number;
  remaining: number;
}

/** A box being filled; its size is chosen once it is closed. */
interface OpenBox {
  freeVolume: number;
  freeWeight: number;
  readonly lines: BoxLine[];
}

/**
 * Plans the boxes of each order of a batch, one outcome per input, in input order. Per order: units
 * of one SKU that fill whole boxes of the largest size go into single-SKU boxes, listed once with a
 * count; the rest of each SKU is one lot, and lots are packed first-fit decreasing by volume into
 * boxes of the largest size, each then shrunk to the smallest size that holds its content (volume and
 * weight). As a SKU's lot is never split, no two entries are identical. An order with a unit too big
 * or heavy for the largest box is rejected: no retry can pack it.
 *
 * @param boxSizes the boxes available, smallest first (default `BOX_SIZES`).
 * @example
 * ```ts
 * const order = { orderId: 'ord-1', warehouseId: 'wh-1', priority: 'standard', items: [{ sku: 'SKU-1042', quantity: 2 }] };
 * const picking = { waveId: 'W-0fd1d532773255', lines: [{ sku: 'SKU-1042', quantity: 2, aisle: 'B', bin: '23-03', sequence: 1 }] };
 * planPacking([{ v: 1, order, acceptedAt: '2025-01-01T00:00:00.000Z', picking }]);
 * // → [{ ok: true, value: { boxes: [{ size: 'S', count: 1, lines: [{ sku: 'SKU-1042', quantity: 2 }], weightGrams: 216 }], parcels: 1, totalWeightGrams: 216 } }]
 * ```
 */
export function planPacking(
  batch: readonly PackingInput[],
  boxSizes: readonly BoxSize[] = BOX_SIZES,
): Outcome<PackingPlan>[] {
  return batch.map(({ order }) => packOrder(order.orderId, order.items, boxSizes));
}

function packOrder(
  orderId: string,
  items: readonly { sku: string; quantity: number }[],
  boxSizes: readonly BoxSize[],
): Outcome<PackingPlan> {
  const largest = boxSizes[boxSizes.length - 1];
  if (largest === undefined) throw new RangeError('planPacking needs at least one box size');
  if (items.length === 0)
    return reject(`order ${orderId} has no items to pack; it needs at least one {"sku", "quantity"}`);
  const largestPayload = largest.maxWeightGrams - largest.tareGrams;

  const groups = groupBySku(items);
  const boxes: Box[] = [];
  for (const group of groups) {
    if (group.volumeCm3 > largest.volumeCm3 || group.weightGrams > largestPayload)
      return reject(
        `order ${orderId}: one unit of ${group.sku} (${group.volumeCm3} cm³, ${group.weightGrams} g) does not fit the largest box ` +
          `(${largest.size}: ${largest.volumeCm3} cm³, ${largestPayload} g of content); it must ship as freight`,
      );
    // Whole boxes of one SKU: one entry with a count, however many there are.
    const perBox = Math.min(
      Math.floor(largest.volumeCm3 / group.volumeCm3),
      Math.floor(largestPayload / group.weightGrams),
    );
    const full = Math.floor(group.remaining / perBox);
    if (full > 0) {
      boxes.push({
        size: largest.size,
        count: full,
        lines: [{ sku: group.sku, quantity: perBox }],
        weightGrams: largest.tareGrams + perBox * group.weightGrams,
      });
      group.remaining -= full * perBox;
    }
  }

  // First-fit decreasing over what is left (less than one largest box per SKU). A SKU's remainder is
  // packed as one lot, never split across boxes: packers keep a SKU together, and the plan stays
  // bounded (one line and at most one box per SKU), where unit-level first fit fragments lots.
  // O(lots × boxes), at most 100 × 100 for the largest order.
  groups.sort(byLotVolumeDescending);
  const open: OpenBox[] = [];
  for (const group of groups) {
    if (group.remaining === 0) continue;
    const volume = group.remaining * group.volumeCm3;
    const weight = group.remaining * group.weightGrams;
    let box = open.find((b) => b.freeVolume >= volume && b.freeWeight >= weight);
    if (!box) {
      box = { freeVolume: largest.volumeCm3, freeWeight: largestPayload, lines: [] };
      open.push(box);
    }
    box.lines.push({ sku: group.sku, quantity: group.remaining });
    box.freeVolume -= volume;
    box.freeWeight -= weight;
  }

  for (const box of open) boxes.push(close(box, largest, boxSizes));

  let parcels = 0;
  let totalWeightGrams = 0;
  for (const box of boxes) {
    parcels += box.count;
    totalWeightGrams += box.count * box.weightGrams;
  }
  return succeed({ boxes, parcels, totalWeightGrams });
}

/** Units per SKU, largest units first; duplicate items of one SKU are combined. */
function groupBySku(items: readonly { sku: string; quantity: number }[]): Group[] {
  const groups: Group[] = items.map(({ sku, quantity }) => ({ sku, ...unitOf(sku), remaining: quantity }));
  groups.sort(byVolumeDescending);
  // Sorting put items of one SKU next to each other (same unit, same SKU): fold them in one pass.
  let kept = 0;
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i] as Group;
    const previous = groups[kept - 1];
    if (previous !== undefined && previous.sku === group.sku) previous.remaining += group.remaining;
    else groups[kept++] = group;
  }
  groups.length = kept;
  return groups;
}

function byLotVolumeDescending(a: Group, b: Group): number {
  return b.remaining * b.volumeCm3 - a.remaining * a.volumeCm3 || byVolumeDescending(a, b);
}

function byVolumeDescending(a: Group, b: Group): number {
  return b.volumeCm3 - a.volumeCm3 || b.weightGrams - a.weightGrams || (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0);
}

/** The smallest size that holds the box's content. */
function close(box: OpenBox, largest: BoxSize, boxSizes: readonly BoxSize[]): Box {
  const volume = largest.volumeCm3 - box.freeVolume;
  const content = largest.maxWeightGrams - largest.tareGrams - box.freeWeight;
  const size = boxSizes.find((s) => volume <= s.volumeCm3 && content + s.tareGrams <= s.maxWeightGrams) ?? largest;
  return { size: size.size, count: 1, lines: box.lines, weightGrams: content + size.tareGrams };
}

/**
 * Short, id-only facts about a packing plan for the order's status history: box sizes largest first.
 *
 * @example
 * ```ts
 * summarizePackingPlan({
 *   boxes: [
 *     { size: 'S', count: 1, lines: [{ sku: 'SKU-1', quantity: 1 }], weightGrams: 400 },
 *     { size: 'M', count: 2, lines: [{ sku: 'SKU-2', quantity: 5 }], weightGrams: 3000 },
 *   ],
 *   parcels: 3,
 *   totalWeightGrams: 6400,
 * });
 * // → { parcels: 3, boxes: 'M×2,S×1', weightGrams: 6400 }
 * ```
 */
export function summarizePackingPlan(plan: PackingPlan): Record<string, string | number> {
  const counts = new Map<string, number>();
  for (const box of plan.boxes) counts.set(box.size, (counts.get(box.size) ?? 0) + box.count);
  const boxes = [...counts]
    .sort(([a], [b]) => sizeRank(b) - sizeRank(a))
    .map(([size, count]) => `${size}×${count}`)
    .join(',');
  return { parcels: plan.parcels, boxes, weightGrams: plan.totalWeightGrams };
}

function sizeRank(size: string): number {
  return BOX_SIZE_NAMES.indexOf(size as BoxSizeName);
}
