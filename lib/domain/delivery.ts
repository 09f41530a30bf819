/**
 * Delivery: which carrier takes an order, under which tracking number, on which manifest. The carrier
 * depends on the order alone (country, priority, parcel weights) and the tracking number on the order
 * id and carrier alone, so a redelivered order gets the same tracking number in any batch.
 */
import * as z from 'zod/mini';
import type { DeliveryInput } from './messages.ts'; // type only, like the other stages
import { hash53, hash53Hex } from './catalog.ts';
import { reject, succeed, type Outcome } from '../runtime/outcome.ts';
import type { Priority } from './order.ts';

export const SERVICES = ['ground', 'express'] as const;
export type Service = (typeof SERVICES)[number];

/** Where orders without a `shipTo` go: the warehouses' own country. */
export const HOME_COUNTRY = 'DE';

export interface Carrier {
  /** What `Delivery.carrier` says. */
  readonly id: string;
  /** Two letters that start its tracking numbers and manifest ids. */
  readonly code: string;
  /** ISO 3166-1 alpha-2 codes of the countries it delivers to. */
  readonly countries: readonly string[];
  /** Gross weight limit per parcel. */
  readonly maxParcelWeightGrams: number;
  /** Whether it offers express (every carrier offers ground). */
  readonly express: boolean;
}

/**
 * The carriers, in order of preference (cheapest first): an order goes to the first that serves its
 * country, offers its service and takes its heaviest parcel. Every served country has a ground carrier
 * for 30 kg parcels (the XL box limit); express is not available everywhere.
 */
export const CARRIERS: readonly Carrier[] = [
  {
    id: 'paketfix',
    code: 'PF',
    countries: ['DE', 'AT', 'CH', 'NL', 'BE', 'LU'],
    maxParcelWeightGrams: 31_500,
    express: false,
  },
  {
    id: 'blitzkurier',
    code: 'BK',
    countries: ['DE', 'AT', 'CH', 'NL', 'BE', 'LU', 'FR', 'IT', 'ES'],
    maxParcelWeightGrams: 30_000,
    express: true,
  },
  {
    id: 'nordlink',
    code: 'NL',
    countries: ['DE', 'DK', 'SE', 'NO', 'FI'],
    maxParcelWeightGrams: 20_000,
    express: true,
  },
  {
    id: 'atlas-freight',
    code: 'AF',
    countries: ['DE', 'FR', 'IT', 'ES', 'PL', 'CZ', 'DK', 'SE', 'NO', 'FI', 'GB', 'US'],
    maxParcelWeightGrams: 70_000,
    express: false,
  },
];

const CARRIERS_BY_COUNTRY = new Map<string, Carrier[]>();
for (const carrier of CARRIERS)
  for (const country of carrier.countries) {
    const list = CARRIERS_BY_COUNTRY.get(country);
    if (list) list.push(carrier);
    else CARRIERS_BY_COUNTRY.set(country, [carrier]);
  }

/** Countries some carrier delivers to, sorted. Intake can refuse others before any work is done. */
export const SERVED_COUNTRIES: readonly string[] = Object.freeze([...CARRIERS_BY_COUNTRY.keys()].sort());

/**
 * Whether some carrier delivers to `country` (ISO 3166-1 alpha-2).
 *
 * @example
 * ```ts
 * isServedCountry('DE'); // → true
 * isServedCountry('BR'); // → false
 * ```
 */
export function isServedCountry(country: string): boolean {
  return CARRIERS_BY_COUNTRY.has(country);
}

/**
 * Why no carrier could ever take an order to `country` with this priority, or undefined when one
 * can (parcel weights are known only after packing). Intake uses it to refuse such orders upfront.
 *
 * @example
 * ```ts
 * deliveryRestriction('DE', 'express'); // → undefined
 * deliveryRestriction('PL', 'express'); // → 'no carrier offers express to PL; use priority "standard"'
 * deliveryRestriction('BR', 'standard'); // → 'no carrier delivers to BR'
 * ```
 */
export function deliveryRestriction(country: string, priority: Priority): string | undefined {
  const candidates = CARRIERS_BY_COUNTRY.get(country);
  if (!candidates) return `no carrier delivers to ${country}`;
  if (priority === 'express' && !candidates.some((c) => c.express))
    return `no carrier offers express to ${country}; use priority "standard"`;
  return undefined;
}

/** `CC` + 15 digits + a Luhn check digit; see `trackingNumberFor`. */
export const TRACKING_NUMBER_PATTERN = /^[A-Z]{2}\d{16}$/;

export const Delivery = z.strictObject({
  /** Carrier id, e.g. "paketfix". */
  carrier: z.string().check(z.minLength(1), z.maxLength(32)),
  service: z.enum(SERVICES),
  trackingNumber: z
    .string()
    .check(
      z.regex(TRACKING_NUMBER_PATTERN, { error: 'must be a carrier code and 16 digits, e.g. "PF1234567890123452"' }),
    ),
  /** The batch's manifest for this carrier: what the driver signs for. */
  manifestId: z.string().check(z.minLength(1), z.maxLength(64)),
  parcels: z.int().check(z.minimum(1)),
  weightGrams: z.int().check(z.minimum(1)),
  /** What the parcels hold: distinct SKUs and units (from the packing plan, so a lost item shows here). */
  lines: z.int().check(z.minimum(1)),
  units: z.int().check(z.minimum(1)),
});
export type Delivery = z.infer<typeof Delivery>;

/**
 * The tracking number of an order with a carrier: the carrier code, 15 digits from a 53-bit hash of
 * code and order id, and a Luhn (mod-10) check digit over those 15 digits, so typos are caught before
 * a lookup. Depends on nothing else: redelivering an order reproduces its tracking number.
 *
 * @example
 * ```ts
 * trackingNumberFor('ord-1', 'PF'); // → 'PF2673671334707460'
 * ```
 */
export function trackingNumberFor(orderId: string, carrierCode: string): string {
  const digits = String(hash53(`${carrierCode}:${orderId}`) % 1e15).padStart(15, '0');
  return `${carrierCode}${digits}${luhnCheckDigit(digits)}`;
}

/**
 * Whether `trackingNumber` is well formed and its check digit matches.
 *
 * @example
 * ```ts
 * isValidTrackingNumber('PF2673671334707460'); // → true
 * isValidTrackingNumber('PF2673671334707461'); // → false
 * ```
 */
export function isValidTrackingNumber(trackingNumber: string): boolean {
  if (!TRACKING_NUMBER_PATTERN.test(trackingNumber)) return false;
  return luhnCheckDigit(trackingNumber.slice(2, -1)) === trackingNumber.charCodeAt(trackingNumber.length - 1) - 48;
}

/** The Luhn digit that makes `digits` + it pass the mod-10 check. */
function luhnCheckDigit(digits: string): number {
  let sum = 0;
  // From the right, every other digit starting with the last is doubled (the check digit will follow it).
  for (let i = digits.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/** A carrier chosen for an order, or why none can be. */
type Choice = { readonly carrier: Carrier; readonly service: Service } | { readonly reason: string };

/** The first carrier that serves the order's country, offers its service and takes its heaviest parcel. */
function chooseCarrier(input: DeliveryInput): Choice {
  const country = input.order.shipTo?.country ?? HOME_COUNTRY;
  const service: Service = input.order.priority === 'express' ? 'express' : 'ground';
  const candidates = CARRIERS_BY_COUNTRY.get(country);
  if (!candidates)
    return { reason: `no carrier delivers to ${country}; served countries are ${SERVED_COUNTRIES.join(', ')}` };
  let heaviest = 0;
  for (const box of input.packing.boxes) if (box.weightGrams > heaviest) heaviest = box.weightGrams;
  for (const carrier of candidates)
    if ((service === 'ground' || carrier.express) && heaviest <= carrier.maxParcelWeightGrams)
      return { carrier, service };
  const offering = candidates.filter((c) => service === 'ground' || c.express);
  if (offering.length === 0)
    return { reason: `no carrier offers express to ${country}; resubmit the order with priority "standard"` };
  const limit = Math.max(...offering.map((c) => c.maxParcelWeightGrams));
  return {
    reason: `no ${service} carrier to ${country} takes a ${heaviest} g parcel (limit ${limit} g)${service === 'express' ? '; resubmit the order with priority "standard"' : ''}`,
  };
}

/**
 * Assigns a carrier, service and tracking number to each order of a batch, one outcome per input, in
 * input order. Express orders need an express carrier; an order no carrier can take (country, express,
 * parcel weight) is rejected, as retrying cannot change that. The batch is the pickup: each carrier
 * gets one manifest, `MF-<code>-` and a hash of its sorted order ids.
 *
 * @example
 * ```ts
 * const order = { orderId: 'ord-1', warehouseId: 'wh-1', priority: 'standard', items: [{ sku: 'SKU-1042', quantity: 2 }] };
 * const picking = { waveId: 'W-0fd1d532773255', lines: [{ sku: 'SKU-1042', quantity: 2, aisle: 'B', bin: '23-03', sequence: 1 }] };
 * const packing = { boxes: [{ size: 'S', count: 1, lines: [{ sku: 'SKU-1042', quantity: 2 }], weightGrams: 216 }], parcels: 1, totalWeightGrams: 216 };
 * assignDelivery([{ v: 1, order, acceptedAt: '2025-01-01T00:00:00.000Z', picking, packing }]);
 * // → [{ ok: true, value: { carrier: 'paketfix', service: 'ground', trackingNumber: 'PF2673671334707460', manifestId: 'MF-PF-043beb08b70d13', parcels: 1, weightGrams: 216, lines: 1, units: 2 } }]
 * ```
 */
export function assignDelivery(batch: readonly DeliveryInput[]): Outcome<Delivery>[] {
  const choices = batch.map(chooseCarrier);

  // One manifest per carrier: hash of the distinct order ids it takes from this batch.
  const idsByCarrier = new Map<Carrier, string[]>();
  for (let i = 0; i < batch.length; i++) {
    const choice = choices[i] as Choice;
    if (!('carrier' in choice)) continue;
    const orderId = (batch[i] as DeliveryInput).order.orderId;
    const ids = idsByCarrier.get(choice.carrier);
    if (ids) ids.push(orderId);
    else idsByCarrier.set(choice.carrier, [orderId]);
  }
  const manifests = new Map<Carrier, string>();
  for (const [carrier, ids] of idsByCarrier) manifests.set(carrier, manifestIdOf(carrier.code, ids));

  return batch.map(({ order, packing }, i): Outcome<Delivery> => {
    const choice = choices[i] as Choice;
    if (!('carrier' in choice)) return reject(`order ${order.orderId}: ${choice.reason}`);
    const { carrier, service } = choice;
    return succeed({
      carrier: carrier.id,
      service,
      trackingNumber: trackingNumberFor(order.orderId, carrier.code),
      manifestId: manifests.get(carrier) as string,
      parcels: packing.parcels,
      weightGrams: packing.totalWeightGrams,
      ...contentsOf(packing),
    });
  });
}

/** Distinct SKUs and units in a packing plan's boxes (each entry stands for `count` identical boxes). */
function contentsOf(packing: DeliveryInput['packing']): { lines: number; units: number } {
  const skus = new Set<string>();
  let units = 0;
  for (const box of packing.boxes) {
    for (const line of box.lines) {
      skus.add(line.sku);
      units += box.count * line.quantity;
    }
  }
  return { lines: skus.size, units };
}

/** `MF-<carrier code>-<hash of the sorted, distinct order ids>`. Sorts `ids` in place. */
function manifestIdOf(code: string, ids: string[]): string {
  ids.sort();
  let text = '';
  for (let i = 0; i < ids.length; i++) if (i === 0 || ids[i] !== ids[i - 1]) text += `${ids[i]}\n`;
  return `MF-${code}-${hash53Hex(text)}`;
}

/**
 * Short, id-only facts about a delivery for the order's status history.
 *
 * @example
 * ```ts
 * summarizeDelivery({ carrier: 'paketfix', service: 'ground', trackingNumber: 'PF2673671334707460', manifestId: 'MF-PF-00c0ffee000000', parcels: 1, weightGrams: 216, lines: 1, units: 2 });
 * // → { carrier: 'paketfix', service: 'ground', trackingNumber: 'PF2673671334707460', manifestId: 'MF-PF-00c0ffee000000', parcels: 1, lines: 1, units: 2 }
 * ```
 */
export function summarizeDelivery(delivery: Delivery): Record<string, string | number> {
  const { carrier, service, trackingNumber, manifestId, parcels, lines, units } = delivery;
  return { carrier, service, trackingNumber, manifestId, parcels, lines, units };
}
