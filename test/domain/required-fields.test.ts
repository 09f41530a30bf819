/**
 * A field the caller left out is reported as "required" — not as a type error ("must be a
 * number"), which reads as if a wrong value had been sent (issue 12, item 5). The required fields
 * are read from the schemas themselves: whatever is not optional.
 */
import { describe, expect, it } from 'vitest';
import { OrderItem, OrderRequest, OrderShape, ShipTo } from '../../lib/domain/order.ts';

type Shape = Record<string, { _zod: { def: { type: string } } }>;
const requiredKeys = (shape: Shape) => Object.keys(shape).filter((key) => shape[key]!._zod.def.type !== 'optional');

const valid = () => ({
  warehouseId: 'wh-1',
  items: [{ sku: 'SKU-1', quantity: 2 }],
  shipTo: { country: 'DE', postalCode: '10115' },
});

/** Every required field, as a path into `valid()`. */
const paths: string[][] = [
  ...requiredKeys(OrderShape.def.shape as unknown as Shape).map((k) => [k]),
  ...requiredKeys(OrderItem.def.shape as unknown as Shape).map((k) => ['items', '0', k]),
  ...requiredKeys(ShipTo.def.shape as unknown as Shape).map((k) => ['shipTo', k]),
];

describe('a missing required field', () => {
  it('the schemas have required fields at every level', () => {
    expect(paths.map((p) => p.join('.'))).toEqual(
      expect.arrayContaining(['warehouseId', 'items', 'items.0.quantity', 'items.0.sku', 'shipTo.country']),
    );
  });

  it.each(paths.map((p) => [p.join('.'), p]))('%s is reported as required, with what it takes', (field, path) => {
    const order = valid() as Record<string, unknown>;
    let parent: Record<string, unknown> = order;
    for (const key of path.slice(0, -1)) parent = parent[key] as Record<string, unknown>;
    delete parent[path.at(-1) as string];
    const result = OrderRequest.safeParse(order);
    expect(result.success).toBe(false);
    const issue = result.error!.issues.find((i) => i.path.join('.') === field);
    expect(issue?.message, JSON.stringify(result.error!.issues)).toMatch(/^required: \S/);
  });

  it('a value of the wrong type still says what it must be', () => {
    const result = OrderRequest.safeParse({ ...valid(), items: [{ sku: 'SKU-1', quantity: 'two' }] });
    expect(result.error!.issues[0]!.message).not.toMatch(/^required/);
  });
});
