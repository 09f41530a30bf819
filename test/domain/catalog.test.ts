import { describe, expect, it } from 'vitest';
import {
  AISLE_COUNT,
  MAX_UNIT_VOLUME_CM3,
  MAX_UNIT_WEIGHT_GRAMS,
  MIN_UNIT_VOLUME_CM3,
  MIN_UNIT_WEIGHT_GRAMS,
  SLOT_COUNT,
  fnv1a32,
  hash53,
  hash53Hex,
  locationOf,
  locationOfSlot,
  slotOf,
  unitOf,
} from '../../lib/domain/catalog.ts';
import { skus } from './inputs.ts';

describe('fnv1a32', () => {
  it('matches the published FNV-1a 32-bit test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });
});

describe('hash53', () => {
  it('is pinned, a safe integer, and fixed-width in hex', () => {
    expect(hash53('ord-1')).toBe(4452838255571541);
    expect(Number.isSafeInteger(hash53('x'.repeat(500)))).toBe(true);
    expect(hash53Hex('ord-1')).toMatch(/^[0-9a-f]{14}$/);
    expect(hash53('ord-1')).not.toBe(hash53('ord-2'));
  });
});

describe('catalog facts', () => {
  // Pinned: stored orders and replays rely on these never changing. A hash change must fail here.
  it('pins known SKUs', () => {
    expect(locationOf('SKU-1042')).toEqual({ aisle: 'B', bin: '23-03' });
    expect(unitOf('SKU-1042')).toEqual({ volumeCm3: 70, weightGrams: 33 });
    expect(slotOf('SKU-1042')).toBe(374);
    expect(locationOf('A')).toEqual({ aisle: 'A', bin: '03-01' });
    expect(unitOf('A')).toEqual({ volumeCm3: 590, weightGrams: 224 });
  });

  it('maps slot corners to the grid corners', () => {
    expect(locationOfSlot(0)).toEqual({ aisle: 'A', bin: '01-01' });
    expect(locationOfSlot(5)).toEqual({ aisle: 'A', bin: '01-06' });
    expect(locationOfSlot(6)).toEqual({ aisle: 'A', bin: '02-01' });
    expect(locationOfSlot(240)).toEqual({ aisle: 'B', bin: '01-01' });
    expect(locationOfSlot(SLOT_COUNT - 1)).toEqual({ aisle: 'T', bin: '40-06' });
  });

  it('stays on the grid and within the unit ranges, spreading over all of them', () => {
    const aisles = new Set<string>();
    const offGrid: string[] = [];
    const outOfRange: string[] = [];
    let small = 0;
    let large = 0;
    for (const sku of skus('SKU', 20_000)) {
      const slot = slotOf(sku);
      const { aisle, bin } = locationOf(sku);
      const [bay, level] = bin.split('-').map(Number) as [number, number];
      if (
        !(
          Number.isInteger(slot) &&
          slot >= 0 &&
          slot < SLOT_COUNT &&
          /^[A-T]$/.test(aisle) &&
          /^\d\d-\d\d$/.test(bin) &&
          bay >= 1 &&
          bay <= 40 &&
          level >= 1 &&
          level <= 6
        )
      )
        offGrid.push(`${sku} → ${slot} ${aisle} ${bin}`);
      aisles.add(aisle);

      const { volumeCm3, weightGrams } = unitOf(sku);
      const inRange =
        Number.isInteger(volumeCm3) &&
        Number.isInteger(weightGrams) &&
        volumeCm3 >= MIN_UNIT_VOLUME_CM3 &&
        volumeCm3 <= MAX_UNIT_VOLUME_CM3 &&
        weightGrams >= MIN_UNIT_WEIGHT_GRAMS &&
        weightGrams <= MAX_UNIT_WEIGHT_GRAMS;
      if (!inRange) outOfRange.push(`${sku} → ${volumeCm3} cm³, ${weightGrams} g`);
      if (volumeCm3 < 500) small++;
      if (volumeCm3 > 4_000) large++;
    }
    expect(offGrid).toEqual([]);
    expect(outOfRange).toEqual([]);
    expect(aisles.size).toBe(AISLE_COUNT);
    // Skewed towards small goods, but large ones exist.
    expect(small).toBeGreaterThan(large);
    expect(large).toBeGreaterThan(1_000);
  });

  it('is deterministic', () => {
    expect(locationOf('PART-77')).toEqual(locationOf('PART-77'));
    expect(unitOf('PART-77')).toEqual(unitOf('PART-77'));
  });
});
