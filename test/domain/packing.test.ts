import { describe, expect, it } from 'vitest';
import { unitOf } from '../../lib/domain/catalog.ts';
import type { PackingInput } from '../../lib/domain/messages.ts';
import type { Order } from '../../lib/domain/order.ts';
import type { Outcome } from '../../lib/runtime/outcome.ts';
import { BOX_SIZES, PackingPlan, planPacking, summarizePackingPlan, type BoxSize } from '../../lib/domain/packing.ts';
import { findSku, order, packingInput, randomInts, skus } from './inputs.ts';

const XL = BOX_SIZES[BOX_SIZES.length - 1]!;
const sizeNamed = (name: string) => BOX_SIZES.find((s) => s.size === name)!;

function plans(outcomes: readonly Outcome<PackingPlan>[]): PackingPlan[] {
  return outcomes.map((outcome) => {
    if (!outcome.ok) throw new Error(`unexpected failure: ${outcome.reason}`);
    return PackingPlan.parse(outcome.value);
  });
}

function packOne(o: Order): PackingPlan {
  return plans(planPacking([packingInput(o)]))[0]!;
}

/** Checks a plan against its order: every unit packed once, no box over its limits, no box bigger than needed. */
function expectSound(o: Order, plan: PackingPlan): void {
  const packed = new Map<string, number>();
  let parcels = 0;
  let weight = 0;
  for (const box of plan.boxes) {
    const size = sizeNamed(box.size);
    let volume = 0;
    let content = 0;
    for (const line of box.lines) {
      const unit = unitOf(line.sku);
      volume += line.quantity * unit.volumeCm3;
      content += line.quantity * unit.weightGrams;
      packed.set(line.sku, (packed.get(line.sku) ?? 0) + line.quantity * box.count);
    }
    expect(volume).toBeLessThanOrEqual(size.volumeCm3);
    expect(box.weightGrams).toBe(content + size.tareGrams);
    expect(box.weightGrams).toBeLessThanOrEqual(size.maxWeightGrams);
    // The smallest size that fits: the next smaller one would not.
    const smaller = BOX_SIZES[BOX_SIZES.indexOf(size) - 1];
    if (smaller) expect(volume > smaller.volumeCm3 || content + smaller.tareGrams > smaller.maxWeightGrams).toBe(true);
    parcels += box.count;
    weight += box.count * box.weightGrams;
  }
  const ordered = new Map<string, number>();
  for (const item of o.items) ordered.set(item.sku, (ordered.get(item.sku) ?? 0) + item.quantity);
  expect(packed).toEqual(ordered);
  expect(plan.parcels).toBe(parcels);
  expect(plan.totalWeightGrams).toBe(weight);
}

/** An order of 100 SKUs of 32 characters (the longest allowed) at `quantity(sku)` each. */
function largestOrder(seed: number, quantity: (sku: string) => number): Order {
  const items = Array.from({ length: 100 }, (_, i) => {
    const sku = `WORST-${seed}-${i}-`.padEnd(32, 'X');
    return [sku, quantity(sku)] as const;
  });
  return order(`worst-${seed}`, items);
}

describe('BOX_SIZES', () => {
  it('grow in every dimension, and XL takes any unit the catalog can describe', () => {
    for (let i = 1; i < BOX_SIZES.length; i++) {
      expect(BOX_SIZES[i]!.volumeCm3).toBeGreaterThan(BOX_SIZES[i - 1]!.volumeCm3);
      expect(BOX_SIZES[i]!.maxWeightGrams - BOX_SIZES[i]!.tareGrams).toBeGreaterThan(
        BOX_SIZES[i - 1]!.maxWeightGrams - BOX_SIZES[i - 1]!.tareGrams,
      );
    }
    expect(XL.volumeCm3).toBeGreaterThanOrEqual(6_000);
    expect(XL.maxWeightGrams - XL.tareGrams).toBeGreaterThanOrEqual(4_000);
  });
});

describe('planPacking', () => {
  it('packs a small order in one S box', () => {
    const plan = packOne(order('small', [['SKU-1042', 2]]));
    expect(plan).toEqual({
      boxes: [
        {
          size: 'S',
          count: 1,
          lines: [{ sku: 'SKU-1042', quantity: 2 }],
          weightGrams: 2 * 33 + sizeNamed('S').tareGrams,
        },
      ],
      parcels: 1,
      totalWeightGrams: 2 * 33 + sizeNamed('S').tareGrams,
    });
  });

  it('takes a bigger box when the content is too heavy for a smaller one, though its volume would fit', () => {
    // Dense goods whose volume fits an M box but whose weight M may not carry.
    const M = sizeNamed('M');
    const unitsFor = (sku: string) => Math.floor(M.volumeCm3 / unitOf(sku).volumeCm3);
    const dense = findSku(
      'DENSE',
      (sku) => unitsFor(sku) <= 1000 && unitsFor(sku) * unitOf(sku).weightGrams > M.maxWeightGrams - M.tareGrams,
    );
    const o = order('dense', [[dense, unitsFor(dense)]]);
    const plan = packOne(o);
    expect(plan.boxes.map((b) => [b.size, b.count])).toEqual([['L', 1]]);
    expectSound(o, plan);
  });

  it('respects volume and weight limits and uses the smallest box that fits, on varied orders', () => {
    const random = randomInts(7);
    for (let n = 0; n < 200; n++) {
      const lines = skus(`V${n}`, random(1, 12)).map((sku) => [sku, random(1, n % 10 === 0 ? 400 : 6)] as const);
      const o = order(`varied-${n}`, lines);
      expectSound(o, packOne(o));
    }
  });

  it('lists full boxes of one SKU once, with a count', () => {
    const bulky = findSku('BULKY', (sku) => unitOf(sku).volumeCm3 > 5_000);
    const unit = unitOf(bulky);
    const perBox = Math.min(
      Math.floor(XL.volumeCm3 / unit.volumeCm3),
      Math.floor((XL.maxWeightGrams - XL.tareGrams) / unit.weightGrams),
    );
    const o = order('bulk', [[bulky, 1000]]);
    const plan = packOne(o);
    expectSound(o, plan);
    const full = plan.boxes[0]!;
    expect(full).toMatchObject({
      size: 'XL',
      count: Math.floor(1000 / perBox),
      lines: [{ sku: bulky, quantity: perBox }],
    });
    expect(plan.boxes).toHaveLength(1000 % perBox === 0 ? 1 : 2);
    expect(plan.parcels).toBe(Math.ceil(1000 / perBox));
  });

  it('puts a lot in the first box with room (first fit, largest lots first)', () => {
    // Light goods (≤ 0.12 g/cm³: 90% of XL weighs under its limit), so volume alone decides: lots of about 60%, 45% and 30% of an XL box.
    const light = (min: number) => (sku: string) =>
      unitOf(sku).volumeCm3 >= min && unitOf(sku).weightGrams <= unitOf(sku).volumeCm3 * 0.12;
    const [a, b, c] = [findSku('LA', light(1_000)), findSku('LB', light(1_000)), findSku('LC', light(1_000))];
    const lot = (sku: string, share: number) =>
      [sku, Math.floor((XL.volumeCm3 * share) / unitOf(sku).volumeCm3)] as const;
    const o = order('first-fit', [lot(c, 0.3), lot(b, 0.45), lot(a, 0.6)]);
    const plan = packOne(o);
    expectSound(o, plan);
    // a opens box 1, b does not fit beside it and opens box 2, c fits in box 1 (the first with room).
    expect(plan.boxes.map((box) => box.lines.map((line) => line.sku))).toEqual([[a, c], [b]]);
  });

  it('never lists two identical boxes', () => {
    const random = randomInts(8);
    for (let n = 0; n < 50; n++) {
      const o = order(
        `dup-${n}`,
        skus(`D${n}`, 20).map((sku) => [sku, random(1, 1000)] as const),
      );
      const plan = packOne(o);
      const keys = plan.boxes.map((b) => JSON.stringify([b.size, b.lines]));
      expect(new Set(keys).size).toBe(keys.length);
      // A SKU is in at most two entries: its full boxes and the box holding the rest of it.
      const entries = new Map<string, number>();
      for (const box of plan.boxes)
        for (const line of box.lines) entries.set(line.sku, (entries.get(line.sku) ?? 0) + 1);
      expect(Math.max(...entries.values())).toBeLessThanOrEqual(2);
    }
  });

  it('keeps the plan of the largest possible order well under 32 KB', () => {
    const perBoxMinusOne = (sku: string) => {
      const u = unitOf(sku);
      const perBox = Math.min(
        Math.floor(XL.volumeCm3 / u.volumeCm3),
        Math.floor((XL.maxWeightGrams - XL.tareGrams) / u.weightGrams),
      );
      // The largest remainder after full boxes, within the quantity limit: the worst case for mixed boxes.
      return Math.max(1, Math.min(1000, perBox * Math.max(1, Math.floor(1000 / perBox)) - 1));
    };
    let largest = 0;
    for (let seed = 0; seed < 40; seed++) {
      for (const o of [largestOrder(seed, () => 1000), largestOrder(seed, perBoxMinusOne)]) {
        const plan = packOne(o);
        expectSound(o, plan);
        largest = Math.max(largest, JSON.stringify(plan).length);
      }
    }
    expect(largest).toBeGreaterThan(5_000); // the check would be vacuous on tiny plans
    expect(largest).toBeLessThan(24 * 1024);
  });

  it('combines duplicate items of one SKU', () => {
    const input = packingInput(order('twice', [['SKU-1042', 1]]));
    const doubled: PackingInput = {
      ...input,
      order: {
        ...input.order,
        items: [
          { sku: 'SKU-1042', quantity: 1 },
          { sku: 'SKU-1042', quantity: 2 },
        ],
      },
    };
    const [plan] = plans(planPacking([doubled]));
    expect(plan!.boxes).toEqual([
      {
        size: 'S',
        count: 1,
        lines: [{ sku: 'SKU-1042', quantity: 3 }],
        weightGrams: 3 * 33 + sizeNamed('S').tareGrams,
      },
    ]);
  });

  it('is deterministic and independent of item order', () => {
    const lines = skus('DET', 15).map((sku, i) => [sku, 1 + ((i * 37) % 90)] as const);
    const forward = packOne(order('det', lines));
    expect(packOne(order('det', lines))).toEqual(forward);
    expect(packOne(order('det', [...lines].reverse()))).toEqual(forward);
  });

  it('rejects, permanently, an order with a unit no box can take, and packs the rest of the batch', () => {
    const tiny: readonly BoxSize[] = [
      { size: 'S', innerCm: [10, 10, 5], volumeCm3: 400, maxWeightGrams: 1_000, tareGrams: 50 },
    ];
    const big = findSku('HUGE', (sku) => unitOf(sku).volumeCm3 > 400);
    const small = findSku('TINY', (sku) => unitOf(sku).volumeCm3 < 100 && unitOf(sku).weightGrams < 100);
    const [rejected, packed] = planPacking(
      [
        packingInput(
          order('too-big', [
            [small, 1],
            [big, 1],
          ]),
        ),
        packingInput(order('fine', [[small, 2]])),
      ],
      tiny,
    );
    expect(rejected).toMatchObject({ ok: false, permanent: true });
    expect(!rejected!.ok && rejected!.reason).toContain(big);
    expect(packed!.ok).toBe(true);
  });

  it('returns nothing for an empty batch', () => {
    expect(planPacking([])).toEqual([]);
  });
});

describe('PackingPlan', () => {
  it('refuses a plan whose totals do not add up', () => {
    const plan = packOne(order('totals', [['SKU-1042', 2]]));
    expect(PackingPlan.safeParse({ ...plan, parcels: 2 }).success).toBe(false);
    expect(PackingPlan.safeParse({ ...plan, totalWeightGrams: plan.totalWeightGrams + 1 }).success).toBe(false);
    expect(PackingPlan.safeParse(plan).success).toBe(true);
  });
});

describe('summarizePackingPlan', () => {
  it('lists box sizes largest first with counts', () => {
    const plan: PackingPlan = {
      boxes: [
        { size: 'S', count: 1, lines: [{ sku: 'A', quantity: 1 }], weightGrams: 400 },
        { size: 'XL', count: 3, lines: [{ sku: 'B', quantity: 9 }], weightGrams: 20_000 },
        { size: 'S', count: 2, lines: [{ sku: 'C', quantity: 1 }], weightGrams: 300 },
      ],
      parcels: 6,
      totalWeightGrams: 61_000,
    };
    expect(summarizePackingPlan(plan)).toEqual({ parcels: 6, boxes: 'XL×3,S×3', weightGrams: 61_000 });
  });
});
