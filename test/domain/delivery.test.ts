import { describe, expect, it } from 'vitest';
import {
  CARRIERS,
  Delivery,
  HOME_COUNTRY,
  SERVED_COUNTRIES,
  assignDelivery,
  isServedCountry,
  isValidTrackingNumber,
  summarizeDelivery,
  trackingNumberFor,
} from '../../lib/domain/delivery.ts';
import type { DeliveryInput } from '../../lib/domain/messages.ts';
import type { Outcome } from '../../lib/runtime/outcome.ts';
import { BOX_SIZES, type PackingPlan } from '../../lib/domain/packing.ts';
import { deliveryInput, order, type OrderOptions } from './inputs.ts';

const to = (country: string, priority: 'standard' | 'express' = 'standard'): OrderOptions => ({
  shipTo: { country, postalCode: '12345' },
  priority,
});

function input(orderId: string, options: OrderOptions = {}, packing?: PackingPlan): DeliveryInput {
  return deliveryInput(
    order(
      orderId,
      [
        ['SKU-1042', 2],
        ['SKU-7', 1],
      ],
      options,
    ),
    packing,
  );
}

function delivered(outcome: Outcome<Delivery> | undefined): Delivery {
  if (!outcome?.ok) throw new Error(`unexpected failure: ${outcome?.reason}`);
  return Delivery.parse(outcome.value);
}

/** One parcel of `weightGrams` gross. */
function parcelOf(weightGrams: number): PackingPlan {
  return {
    boxes: [{ size: 'XL', count: 1, lines: [{ sku: 'SKU-1042', quantity: 1 }], weightGrams }],
    parcels: 1,
    totalWeightGrams: weightGrams,
  };
}

/** Luhn validation written independently of the implementation. */
function luhnValid(digits: string): boolean {
  let sum = 0;
  [...digits].reverse().forEach((ch, i) => {
    const d = Number(ch) * (i % 2 === 1 ? 2 : 1);
    sum += d > 9 ? d - 9 : d;
  });
  return sum % 10 === 0;
}

describe('assignDelivery', () => {
  it('ships a domestic standard order by the preferred ground carrier', () => {
    const o = input('dom-1');
    const d = delivered(assignDelivery([o])[0]);
    expect(d).toMatchObject({
      carrier: 'paketfix',
      service: 'ground',
      parcels: o.packing.parcels,
      weightGrams: o.packing.totalWeightGrams,
    });
    expect(d.trackingNumber.startsWith('PF')).toBe(true);
  });

  it('gives an order the same tracking number in any batch', () => {
    const alone = delivered(assignDelivery([input('same-1', to('FR', 'express'))])[0]);
    const crowded = assignDelivery([
      input('other-1'),
      input('other-2', to('FR', 'express')),
      input('same-1', to('FR', 'express')),
    ]);
    const again = delivered(crowded[2]);
    expect(again.trackingNumber).toBe(alone.trackingNumber);
    expect(again.manifestId).not.toBe(alone.manifestId); // the manifest is the batch's; the tracking number is not
    expect(delivered(crowded[1]).trackingNumber).not.toBe(alone.trackingNumber);
  });

  it('makes tracking numbers with a valid Luhn check digit that catches a mistyped digit', () => {
    expect(trackingNumberFor('ord-1', 'PF')).toBe('PF2673671334707460');
    for (let n = 0; n < 500; n++) {
      const tn = trackingNumberFor(`order-${n}`, 'BK');
      expect(tn).toMatch(/^BK\d{16}$/);
      expect(luhnValid(tn.slice(2))).toBe(true);
      expect(isValidTrackingNumber(tn)).toBe(true);
      const last = Number(tn.at(-1));
      expect(isValidTrackingNumber(`${tn.slice(0, -1)}${(last + 1) % 10}`)).toBe(false);
      const d = Number(tn[5]);
      expect(isValidTrackingNumber(`${tn.slice(0, 5)}${(d + 1) % 10}${tn.slice(6)}`)).toBe(false);
    }
    expect(isValidTrackingNumber('PF267367133470746')).toBe(false);
  });

  it('gives distinct orders distinct tracking numbers', () => {
    const numbers = new Set(Array.from({ length: 20_000 }, (_, n) => trackingNumberFor(`ord-${n}`, 'PF')));
    expect(numbers.size).toBe(20_000);
  });

  it('routes express orders to express carriers', () => {
    const [de, fr, se, deGround] = assignDelivery([
      input('e-de', to('DE', 'express')),
      input('e-fr', to('FR', 'express')),
      input('e-se', to('SE', 'express')),
      input('g-de', to('DE')),
    ]).map(delivered);
    expect([de!.carrier, de!.service]).toEqual(['blitzkurier', 'express']);
    expect([fr!.carrier, fr!.service]).toEqual(['blitzkurier', 'express']);
    expect([se!.carrier, se!.service]).toEqual(['nordlink', 'express']);
    expect([deGround!.carrier, deGround!.service]).toEqual(['paketfix', 'ground']);
  });

  it('rejects express where no express carrier goes, and parcels too heavy for every carrier offering it', () => {
    const [pl, heavySe, heavySeGround] = assignDelivery([
      input('e-pl', to('PL', 'express')),
      input('e-se-heavy', to('SE', 'express'), parcelOf(25_000)),
      input('g-se-heavy', to('SE'), parcelOf(25_000)),
    ]);
    expect(pl).toMatchObject({ ok: false, permanent: true });
    expect(!pl!.ok && pl!.reason).toMatch(/express.*PL/);
    expect(heavySe).toMatchObject({ ok: false, permanent: true });
    expect(!heavySe!.ok && heavySe!.reason).toContain('25000 g');
    expect(delivered(heavySeGround).carrier).toBe('atlas-freight');
  });

  it('picks a carrier whose weight limit takes the heaviest parcel', () => {
    const light = delivered(assignDelivery([input('dk-light', to('DK'), parcelOf(5_000))])[0]);
    const heavy = delivered(assignDelivery([input('dk-heavy', to('DK'), parcelOf(29_000))])[0]);
    expect(light.carrier).toBe('nordlink');
    expect(heavy.carrier).toBe('atlas-freight');
  });

  it('rejects an order to an unserved country permanently, naming it, and delivers the rest', () => {
    const [br, de] = assignDelivery([input('to-br', to('BR')), input('to-de', to('DE'))]);
    expect(br).toMatchObject({ ok: false, permanent: true });
    expect(!br!.ok && br!.reason).toContain('BR');
    expect(delivered(de).carrier).toBe('paketfix');
  });

  it('puts each carrier of a batch on exactly one manifest, the same whatever the batch order', () => {
    const batch = [
      input('m-1'),
      input('m-2', to('FR', 'express')),
      input('m-3'),
      input('m-4', to('SE')),
      input('m-5', to('IT', 'express')),
      input('m-6', to('BR')),
    ];
    const outcomes = assignDelivery(batch);
    const manifests = new Map<string, Set<string>>();
    for (const outcome of outcomes) {
      if (!outcome.ok) continue;
      const set = manifests.get(outcome.value.carrier) ?? new Set();
      set.add(outcome.value.manifestId);
      manifests.set(outcome.value.carrier, set);
    }
    expect([...manifests.keys()].sort()).toEqual(['blitzkurier', 'nordlink', 'paketfix']);
    for (const ids of manifests.values()) expect(ids.size).toBe(1);
    const all = [...manifests.values()].map((ids) => [...ids][0]!);
    expect(new Set(all).size).toBe(3);
    expect(all.find((id) => id.startsWith('MF-PF-'))).toBeDefined();

    expect(assignDelivery([...batch].reverse()).reverse()).toEqual(outcomes);
    // Another order for paketfix changes its manifest only.
    const more = assignDelivery([...batch, input('m-7')]);
    expect(delivered(more[0]).manifestId).not.toBe(delivered(outcomes[0]).manifestId);
    expect(delivered(more[1]).manifestId).toBe(delivered(outcomes[1]).manifestId);
  });

  it('is deterministic', () => {
    const batch = [input('d-1'), input('d-2', to('NO', 'express')), input('d-3', to('US'))];
    expect(assignDelivery(batch)).toEqual(assignDelivery(batch));
  });
});

describe('carrier table', () => {
  it('serves the home country, sorted, and every served country by ground for any box', () => {
    expect(SERVED_COUNTRIES).toContain(HOME_COUNTRY);
    expect([...SERVED_COUNTRIES]).toEqual([...SERVED_COUNTRIES].sort());
    const heaviestBox = Math.max(...BOX_SIZES.map((b) => b.maxWeightGrams));
    for (const country of SERVED_COUNTRIES) {
      expect(isServedCountry(country)).toBe(true);
      expect(CARRIERS.some((c) => c.countries.includes(country) && c.maxParcelWeightGrams >= heaviestBox)).toBe(true);
    }
    expect(isServedCountry('BR')).toBe(false);
    expect(new Set(CARRIERS.map((c) => c.code)).size).toBe(CARRIERS.length);
  });
});

describe('summarizeDelivery', () => {
  it('keeps the ids, not the weights', () => {
    const d = delivered(assignDelivery([input('sum-1')])[0]);
    expect(summarizeDelivery(d)).toEqual({
      carrier: 'paketfix',
      service: 'ground',
      trackingNumber: d.trackingNumber,
      manifestId: d.manifestId,
      parcels: d.parcels,
      lines: d.lines,
      units: d.units,
    });
  });
});
