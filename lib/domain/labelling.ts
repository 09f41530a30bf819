/**
 * Labelling: a shipping label for every parcel of an order — its own id, its weight class and the
 * box's dimensions — from the packing plan. Like the other stages, pure and the same in any batch:
 * a redelivered order gets the same labels, so a label printed twice is the same label.
 */
import * as z from 'zod/mini';
import { hash53Hex } from './catalog.ts';
import { stageInput } from './messages.ts';
import { BOX_SIZES, BOX_SIZE_NAMES, PackingPlan } from './packing.ts';
import { succeed, type Outcome } from '../runtime/outcome.ts';

/** What labelling reads: the order and its packing plan. */
export const LabellingInput = stageInput({ packing: PackingPlan });
export type LabellingInput = z.infer<typeof LabellingInput>;

/** Carriers' weight classes, lightest first: a parcel takes the first whose limit it does not pass. */
export const WEIGHT_CLASSES = [
  { name: 'light', maxGrams: 2_000 },
  { name: 'standard', maxGrams: 10_000 },
  { name: 'heavy', maxGrams: 20_000 },
  { name: 'bulky', maxGrams: Number.POSITIVE_INFINITY },
] as const;
export type WeightClass = (typeof WEIGHT_CLASSES)[number]['name'];

export const ShippingLabel = z.strictObject({
  /** `LB-` and 14 hex digits of a hash of the order id and parcel number. */
  labelId: z.string().check(z.regex(/^LB-[0-9a-f]{14}$/)),
  /** This parcel's number, from 1, and how many the order has. */
  parcel: z.int().check(z.minimum(1)),
  of: z.int().check(z.minimum(1)),
  weightClass: z.enum(WEIGHT_CLASSES.map((c) => c.name) as [WeightClass, ...WeightClass[]]),
  weightGrams: z.int().check(z.minimum(1)),
  size: z.enum(BOX_SIZE_NAMES),
  /** The box's inner dimensions, length × width × height. */
  dimensionsCm: z.tuple([z.int(), z.int(), z.int()]),
});
export type ShippingLabel = z.infer<typeof ShippingLabel>;

export const LabelSet = z.strictObject({ labels: z.array(ShippingLabel).check(z.minLength(1)) });
export type LabelSet = z.infer<typeof LabelSet>;

/**
 * One label per parcel, for each order of a batch, in input order. Parcels are numbered in the
 * packing plan's order (each box entry stands for `count` identical boxes).
 *
 * @example
 * ```ts
 * const order = { orderId: 'ord-1', warehouseId: 'wh-1', priority: 'standard', items: [{ sku: 'SKU-1042', quantity: 2 }] };
 * const packing = { boxes: [{ size: 'S', count: 1, lines: [{ sku: 'SKU-1042', quantity: 2 }], weightGrams: 216 }], parcels: 1, totalWeightGrams: 216 };
 * printLabels([{ v: 1, order, acceptedAt: '2025-01-01T00:00:00.000Z', packing }])[0].value.labels.map((l) => [l.parcel, l.of, l.weightClass, l.size]);
 * // → [[1, 1, 'light', 'S']]
 * ```
 */
export function printLabels(batch: readonly LabellingInput[]): Outcome<LabelSet>[] {
  return batch.map(({ order, packing }) => {
    const labels: ShippingLabel[] = [];
    for (const box of packing.boxes) {
      const { innerCm } = BOX_SIZES.find((b) => b.size === box.size) ?? BOX_SIZES[BOX_SIZES.length - 1]!;
      for (let i = 0; i < box.count; i++) {
        const parcel = labels.length + 1;
        labels.push({
          labelId: `LB-${hash53Hex(`${order.orderId}#${parcel}`)}`,
          parcel,
          of: packing.parcels,
          weightClass: weightClassOf(box.weightGrams),
          weightGrams: box.weightGrams,
          size: box.size,
          dimensionsCm: [...innerCm] as [number, number, number],
        });
      }
    }
    return succeed({ labels });
  });
}

/**
 * The weight class of a parcel of `grams` gross.
 *
 * @example
 * ```ts
 * weightClassOf(1_500); // → 'light'
 * weightClassOf(12_000); // → 'heavy'
 * ```
 */
export function weightClassOf(grams: number): WeightClass {
  return (WEIGHT_CLASSES.find((c) => grams <= c.maxGrams) ?? WEIGHT_CLASSES[WEIGHT_CLASSES.length - 1]!).name;
}

/**
 * Short, id-only facts about an order's labels for its history.
 *
 * @example
 * ```ts
 * summarizeLabels({ labels: [
 *   { labelId: 'LB-0000000000000a', parcel: 1, of: 2, weightClass: 'light', weightGrams: 900, size: 'S', dimensionsCm: [25, 20, 10] },
 *   { labelId: 'LB-0000000000000b', parcel: 2, of: 2, weightClass: 'light', weightGrams: 800, size: 'S', dimensionsCm: [25, 20, 10] },
 * ] });
 * // → { labels: 2, first: 'LB-0000000000000a', weightClasses: 'light×2' }
 * ```
 */
export function summarizeLabels(set: LabelSet): Record<string, string | number> {
  const classes = new Map<string, number>();
  for (const label of set.labels) classes.set(label.weightClass, (classes.get(label.weightClass) ?? 0) + 1);
  return {
    labels: set.labels.length,
    first: set.labels[0]?.labelId ?? '',
    weightClasses: [...classes].map(([name, n]) => `${name}×${n}`).join(','),
  };
}
