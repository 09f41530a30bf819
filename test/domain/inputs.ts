/**
 * Builders of stage messages for the domain tests. Every message is parsed with its schema, so a test
 * can only feed the stages what a real queue could carry.
 */
import { DeliveryInput, PackingInput, PickingInput } from '../../lib/domain/messages.ts';
import type { Order, ShipTo } from '../../lib/domain/order.ts';
import type { PackingPlan } from '../../lib/domain/packing.ts';
import { planPacking } from '../../lib/domain/packing.ts';
import { planPickWave } from '../../lib/domain/picking.ts';

const ACCEPTED_AT = '2025-06-01T12:00:00.000Z';

export interface OrderOptions {
  readonly priority?: Order['priority'];
  readonly shipTo?: ShipTo;
  readonly warehouseId?: string;
}

/** An order; `items` as `[sku, quantity]` pairs. */
export function order(
  orderId: string,
  items: readonly (readonly [string, number])[],
  options: OrderOptions = {},
): Order {
  return {
    orderId,
    warehouseId: options.warehouseId ?? 'wh-1',
    items: items.map(([sku, quantity]) => ({ sku, quantity })),
    priority: options.priority ?? 'standard',
    ...(options.shipTo ? { shipTo: options.shipTo } : {}),
  };
}

export function pickingInput(o: Order): PickingInput {
  return PickingInput.parse({ v: 1, order: o, acceptedAt: ACCEPTED_AT });
}

/** The packing message of an order, picked in a wave of its own. */
export function packingInput(o: Order): PackingInput {
  const [picked] = planPickWave([pickingInput(o)]);
  if (!picked?.ok) throw new Error(`picking failed for ${o.orderId}`);
  return PackingInput.parse({ v: 1, order: o, acceptedAt: ACCEPTED_AT, picking: picked.value });
}

/** The delivery message of an order, packed by `planPacking` unless `packing` is given. */
export function deliveryInput(o: Order, packing?: PackingPlan): DeliveryInput {
  const packed = packingInput(o);
  let plan = packing;
  if (!plan) {
    const [outcome] = planPacking([packed]);
    if (!outcome?.ok) throw new Error(`packing failed for ${o.orderId}`);
    plan = outcome.value;
  }
  return DeliveryInput.parse({ ...packed, packing: plan });
}

/** `count` distinct SKUs `prefix-0`, `prefix-1`, … */
export function skus(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
}

/** The first SKU `prefix-<n>` (n = 0, 1, …) that satisfies `accept`; for tests needing a SKU with given facts. */
export function findSku(prefix: string, accept: (sku: string) => boolean, limit = 200_000): string {
  for (let n = 0; n < limit; n++) {
    const sku = `${prefix}-${n}`;
    if (accept(sku)) return sku;
  }
  throw new Error(`no SKU ${prefix}-<n> below ${limit} satisfies the condition`);
}

/** Deterministic pseudo-random integers (mulberry32), for varied but repeatable test data. */
export function randomInts(seed: number): (min: number, max: number) => number {
  let state = seed >>> 0;
  return (min, max) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return min + Math.floor(r * (max - min + 1));
  };
}
