import { describe, expect, it } from 'vitest';
import { locationOf } from '../../lib/domain/catalog.ts';
import type { Outcome } from '../../lib/runtime/outcome.ts';
import { PickList, planPickWave, routePosition, summarizePickList, waveIdOf } from '../../lib/domain/picking.ts';
import { findSku, order, pickingInput, randomInts, skus } from './inputs.ts';

function values(outcomes: readonly Outcome<PickList>[]): PickList[] {
  return outcomes.map((outcome) => {
    if (!outcome.ok) throw new Error(`unexpected failure: ${outcome.reason}`);
    return PickList.parse(outcome.value);
  });
}

/** A batch of `count` orders of 1–8 items from a pool of 60 SKUs, so orders share SKUs. */
function randomBatch(count: number, seed: number) {
  const random = randomInts(seed);
  const pool = skus('SKU', 60);
  return Array.from({ length: count }, (_, i) => {
    const picked = new Set<string>();
    const size = random(1, 8);
    while (picked.size < size) picked.add(pool[random(0, pool.length - 1)] as string);
    return pickingInput(
      order(
        `ord-${seed}-${i}`,
        [...picked].map((sku) => [sku, random(1, 20)] as const),
      ),
    );
  });
}

const aisleIndex = (aisle: string) => aisle.charCodeAt(0) - 65;

describe('planPickWave', () => {
  it('returns one valid pick list per order, in input order, with every item once', () => {
    const batch = randomBatch(50, 1);
    const lists = values(planPickWave(batch));
    expect(lists).toHaveLength(50);
    lists.forEach((list, i) => {
      const items = batch[i]!.order.items;
      expect(
        list.lines.map(({ sku, quantity }) => ({ sku, quantity })).sort((a, b) => a.sku.localeCompare(b.sku)),
      ).toEqual([...items].sort((a, b) => a.sku.localeCompare(b.sku)));
      for (const line of list.lines) expect({ aisle: line.aisle, bin: line.bin }).toEqual(locationOf(line.sku));
    });
  });

  it('is deterministic, and independent of the order of the batch', () => {
    const batch = randomBatch(40, 2);
    const first = planPickWave(batch);
    expect(planPickWave(batch)).toEqual(first);
    const reversed = planPickWave([...batch].reverse()).reverse();
    expect(reversed).toEqual(first);
  });

  it('plans one wave per batch, identified by its orders', () => {
    const batch = randomBatch(30, 3);
    const lists = values(planPickWave(batch));
    const waves = new Set(lists.map((l) => l.waveId));
    expect(waves.size).toBe(1);
    expect([...waves][0]).toBe(waveIdOf(batch.map((b) => b.order.orderId)));
    expect([...waves][0]).toMatch(/^W-[0-9a-f]{14}$/);
    const [other] = values(planPickWave(batch.slice(1)));
    expect(other!.waveId).not.toBe(lists[0]!.waveId);
  });

  it('shares one stop across orders for a shared SKU and numbers stops 1..n along the route', () => {
    const a = pickingInput(
      order('a', [
        ['SHARED-1', 2],
        ['ONLY-A', 1],
      ]),
    );
    const b = pickingInput(
      order('b', [
        ['SHARED-1', 5],
        ['ONLY-B', 3],
      ]),
    );
    const [la, lb] = values(planPickWave([a, b]));
    const sharedA = la!.lines.find((l) => l.sku === 'SHARED-1')!;
    const sharedB = lb!.lines.find((l) => l.sku === 'SHARED-1')!;
    expect(sharedA.sequence).toBe(sharedB.sequence);
    expect([sharedA.quantity, sharedB.quantity]).toEqual([2, 5]);
    // Three distinct SKUs, three stops: the sequences across the wave are exactly 1, 2, 3.
    const sequences = new Set([...la!.lines, ...lb!.lines].map((l) => l.sequence));
    expect([...sequences].sort()).toEqual([1, 2, 3]);
  });

  it('gives every distinct SKU of a batch its own sequence number, consistently across orders', () => {
    const lists = values(planPickWave(randomBatch(100, 4)));
    const sequenceOf = new Map<string, number>();
    for (const list of lists) {
      for (const line of list.lines) {
        const known = sequenceOf.get(line.sku);
        if (known === undefined) sequenceOf.set(line.sku, line.sequence);
        else expect(line.sequence).toBe(known);
      }
      // Each order's lines are in walking order.
      const seq = list.lines.map((l) => l.sequence);
      expect(seq).toEqual([...seq].sort((x, y) => x - y));
    }
    const all = [...sequenceOf.values()].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: sequenceOf.size }, (_, i) => i + 1));
  });

  it('walks a serpentine route: aisles ascending, bins up in A, C, … and down in B, D, …', () => {
    const stops = new Map<number, { aisle: string; bin: string; sku: string }>();
    for (const list of values(planPickWave(randomBatch(200, 5).concat(randomBatch(50, 6)))))
      for (const l of list.lines) stops.set(l.sequence, { aisle: l.aisle, bin: l.bin, sku: l.sku });
    const route = [...stops.entries()].sort(([x], [y]) => x - y).map(([, stop]) => stop);
    expect(route.length).toBeGreaterThan(50);
    for (let i = 1; i < route.length; i++) {
      const previous = route[i - 1]!;
      const current = route[i]!;
      expect(current.aisle >= previous.aisle).toBe(true);
      if (current.aisle !== previous.aisle) continue;
      if (current.bin === previous.bin) expect(current.sku > previous.sku).toBe(true);
      else if (aisleIndex(current.aisle) % 2 === 0) expect(current.bin > previous.bin).toBe(true);
      else expect(current.bin < previous.bin).toBe(true);
    }
  });

  it('orders a hand-made wave: up aisle A, down aisle B', () => {
    const inA = (pred: (bin: string) => boolean) => (sku: string) =>
      locationOf(sku).aisle === 'A' && pred(locationOf(sku).bin);
    const inB = (pred: (bin: string) => boolean) => (sku: string) =>
      locationOf(sku).aisle === 'B' && pred(locationOf(sku).bin);
    const aNear = findSku(
      'P',
      inA((bin) => bin < '10'),
    );
    const aFar = findSku(
      'P',
      inA((bin) => bin > '30'),
    );
    const bNear = findSku(
      'P',
      inB((bin) => bin < '10'),
    );
    const bFar = findSku(
      'P',
      inB((bin) => bin > '30'),
    );
    const [list] = values(
      planPickWave([
        pickingInput(
          order('hand', [
            [bNear, 1],
            [aFar, 1],
            [bFar, 1],
            [aNear, 1],
          ]),
        ),
      ]),
    );
    expect(list!.lines.map((l) => l.sku)).toEqual([aNear, aFar, bFar, bNear]);
    expect(list!.lines.map((l) => l.sequence)).toEqual([1, 2, 3, 4]);
  });

  it('routePosition reverses the even aisles', () => {
    expect([routePosition(0), routePosition(239), routePosition(240), routePosition(479), routePosition(480)]).toEqual([
      0, 239, 479, 240, 480,
    ]);
  });

  it('handles an empty batch and the largest order', () => {
    expect(planPickWave([])).toEqual([]);
    const [big] = values(
      planPickWave([
        pickingInput(
          order(
            'big',
            skus('BIG', 100).map((sku) => [sku, 1000] as const),
          ),
        ),
      ]),
    );
    expect(big!.lines).toHaveLength(100);
  });
});

describe('summarizePickList', () => {
  it('gives the wave, the line count and the units', () => {
    const [list] = values(
      planPickWave([
        pickingInput(
          order('s', [
            ['X-1', 3],
            ['X-2', 4],
          ]),
        ),
      ]),
    );
    expect(summarizePickList(list!)).toEqual({ waveId: list!.waveId, lines: 2, units: 7 });
  });
});
