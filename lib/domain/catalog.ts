/**
 * The catalog: where a SKU is stored and how big and heavy one unit is. Conveyor has no product
 * database; the facts are derived from the SKU string by a stable hash, so every stage, test and
 * replay agrees on them without I/O. Also home to the small hashes the stages derive ids from.
 */

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * FNV-1a, 32-bit, over the UTF-16 code units of `text` (for ASCII such as SKUs and order ids:
 * exactly its bytes). Tiny, fast on short keys and fixed by its definition, so catalog facts never
 * shift under stored orders. Not a cryptographic hash.
 *
 * @example
 * ```ts
 * fnv1a32('');  // → 2166136261
 * fnv1a32('a'); // → 3826002220
 * ```
 */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), FNV_PRIME);
  return hash >>> 0;
}

/**
 * A 53-bit string hash (bryc's public-domain cyrb53: two multiplicative lanes and a murmur-style
 * finaliser), returned as a safe integer. Used for ids that must not collide across millions of
 * orders (tracking numbers, waves, manifests), where 32 bits would (birthday bound ≈ 77,000).
 *
 * @example
 * ```ts
 * hash53('ord-1'); // → 4452838255571541
 * ```
 */
export function hash53(text: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * `hash53` as 14 lowercase hex digits: a fixed-width id suffix.
 *
 * @example
 * ```ts
 * hash53Hex('ord-1'); // → '0fd1d532773255'
 * ```
 */
export function hash53Hex(text: string): string {
  return hash53(text).toString(16).padStart(14, '0');
}

// The warehouse grid: aisles A–T, each with 40 bays of 6 levels; a bin is "bay-level", "01-01".."40-06".
export const AISLE_COUNT = 20;
export const BAYS_PER_AISLE = 40;
export const LEVELS_PER_BAY = 6;
/** Bins per aisle (bays × levels). */
export const BINS_PER_AISLE = BAYS_PER_AISLE * LEVELS_PER_BAY;
/** Storage slots in the warehouse; a slot number is `aisleIndex × BINS_PER_AISLE + binIndex`. */
export const SLOT_COUNT = AISLE_COUNT * BINS_PER_AISLE;

// Labels are built once so locating a SKU allocates nothing but its result.
const AISLE_LABELS: readonly string[] = Array.from({ length: AISLE_COUNT }, (_, i) => String.fromCharCode(65 + i));
const BIN_LABELS: readonly string[] = Array.from(
  { length: BINS_PER_AISLE },
  (_, i) => `${pad2(Math.floor(i / LEVELS_PER_BAY) + 1)}-${pad2((i % LEVELS_PER_BAY) + 1)}`,
);

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

export interface Location {
  /** "A".."T". */
  readonly aisle: string;
  /** "bay-level", "01-01".."40-06". */
  readonly bin: string;
}

/**
 * The storage slot of a SKU (0 ≤ slot < SLOT_COUNT): the numeric form of its location, for
 * route planning without parsing labels. Several SKUs may share a slot, as they share a bin.
 *
 * @example
 * ```ts
 * slotOf('SKU-1042'); // → 374
 * ```
 */
export function slotOf(sku: string): number {
  return fnv1a32(sku) % SLOT_COUNT;
}

/**
 * The aisle and bin of a storage slot (see `slotOf`).
 *
 * @example
 * ```ts
 * locationOfSlot(0);    // → { aisle: 'A', bin: '01-01' }
 * locationOfSlot(4799); // → { aisle: 'T', bin: '40-06' }
 * ```
 */
export function locationOfSlot(slot: number): Location {
  return {
    aisle: AISLE_LABELS[Math.floor(slot / BINS_PER_AISLE)] as string,
    bin: BIN_LABELS[slot % BINS_PER_AISLE] as string,
  };
}

/**
 * Where a SKU is stored.
 *
 * @example
 * ```ts
 * locationOf('SKU-1042'); // → { aisle: 'B', bin: '23-03' }
 * ```
 */
export function locationOf(sku: string): Location {
  return locationOfSlot(slotOf(sku));
}

export const MIN_UNIT_VOLUME_CM3 = 50;
export const MAX_UNIT_VOLUME_CM3 = 6_000;
export const MIN_UNIT_WEIGHT_GRAMS = 20;
export const MAX_UNIT_WEIGHT_GRAMS = 4_000;

export interface Unit {
  readonly volumeCm3: number;
  readonly weightGrams: number;
}

/**
 * Volume and weight of one unit of a SKU (integers). Volumes are skewed towards small items, as in
 * a real assortment; weight is volume × a density of 0.10–0.67 g/cm³, clamped to 20–4,000 g.
 *
 * @example
 * ```ts
 * unitOf('SKU-1042'); // → { volumeCm3: 70, weightGrams: 33 }
 * ```
 */
export function unitOf(sku: string): Unit {
  // Remix the hash so size bits are independent of the location bits (the low bits pick the slot).
  let h = fnv1a32(sku);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h = (h ^ (h >>> 16)) >>> 0;
  const size = h >>> 16; // 0..65535
  const density = h & 0xffff; // 0..65535
  // size² skews towards small volumes; the products stay below 2^53, so the integer maths is exact.
  const volumeCm3 =
    MIN_UNIT_VOLUME_CM3 + Math.floor((size * size * (MAX_UNIT_VOLUME_CM3 - MIN_UNIT_VOLUME_CM3)) / (0xffff * 0xffff));
  const densityPerMille = 100 + Math.floor((density * 567) / 0xffff);
  const weightGrams = Math.min(
    MAX_UNIT_WEIGHT_GRAMS,
    Math.max(MIN_UNIT_WEIGHT_GRAMS, Math.round((volumeCm3 * densityPerMille) / 1000)),
  );
  return { volumeCm3, weightGrams };
}
