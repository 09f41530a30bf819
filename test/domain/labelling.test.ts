/** Labelling as pure business logic: a label per parcel, numbered, classed by weight, the same on every run. */
import { describe, expect, it } from 'vitest';
import {
  printLabels,
  summarizeLabels,
  WEIGHT_CLASSES,
  weightClassOf,
  type LabellingInput,
} from '../../lib/domain/labelling.ts';
import { BOX_SIZES, planPacking, type PackingPlan } from '../../lib/domain/packing.ts';
import { planPickWave } from '../../lib/domain/picking.ts';
import { order, pickingMessage } from '../support/orders.ts';

/** A labelling input for order `n`, packed by the real packing logic. */
function labellingInput(n: number, items = 3): LabellingInput {
  const picking = pickingMessage(order(n, 'wh-2', items));
  const [pick] = planPickWave([picking]);
  const [pack] = planPacking([{ ...picking, picking: (pick as unknown as { value: never }).value }]);
  return { ...picking, packing: (pack as unknown as { value: PackingPlan }).value };
}

describe('printLabels', () => {
  it('prints one label per parcel, numbered 1..n of n, with the box size and weight of the packing plan', () => {
    for (const n of [1, 7, 42, 99]) {
      const input = labellingInput(n, 12);
      const [outcome] = printLabels([input]);
      if (!outcome?.ok) throw new Error('labelling failed');
      const { labels } = outcome.value;
      expect(labels).toHaveLength(input.packing.parcels);
      expect(labels.map((l) => l.parcel)).toEqual(labels.map((_, i) => i + 1));
      expect(new Set(labels.map((l) => l.of))).toEqual(new Set([input.packing.parcels]));
      expect(labels.reduce((g, l) => g + l.weightGrams, 0)).toBe(input.packing.totalWeightGrams);
      for (const label of labels) {
        expect(label.dimensionsCm).toEqual([...BOX_SIZES.find((b) => b.size === label.size)!.innerCm]);
        expect(label.weightClass).toBe(weightClassOf(label.weightGrams));
      }
      expect(new Set(labels.map((l) => l.labelId)).size).toBe(labels.length);
    }
  });

  it('gives the same labels to a redelivered order, in any batch', () => {
    const a = labellingInput(5);
    const b = labellingInput(6);
    expect(printLabels([a])[0]).toEqual(printLabels([b, a])[1]);
    expect(printLabels([a])).not.toEqual(printLabels([b]));
  });
});

describe('weightClassOf', () => {
  it('takes the first class whose limit the parcel does not pass, limits included', () => {
    for (const [i, c] of WEIGHT_CLASSES.entries()) {
      if (!Number.isFinite(c.maxGrams)) continue;
      expect(weightClassOf(c.maxGrams)).toBe(c.name);
      expect(weightClassOf(c.maxGrams + 1)).toBe(WEIGHT_CLASSES[i + 1]!.name);
    }
  });
});

describe('summarizeLabels', () => {
  it('keeps ids and counts, not the labels', () => {
    const [outcome] = printLabels([labellingInput(3, 12)]);
    if (!outcome?.ok) throw new Error('labelling failed');
    const summary = summarizeLabels(outcome.value);
    expect(summary.labels).toBe(outcome.value.labels.length);
    expect(summary.first).toBe(outcome.value.labels[0]?.labelId);
  });
});
