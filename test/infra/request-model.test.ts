/**
 * The API Gateway request model of `POST /orders`, read from the synthesized template, validated
 * with a JSON Schema validator (Ajv) as API Gateway validates bodies: it is draft 4, it accepts
 * everything the intake's own schema accepts (the gateway never refuses a valid order), and it
 * refuses the typical malformed bodies before any function runs.
 */
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { BulkOrderShape, MAX_ITEMS_PER_ORDER, MAX_ORDERS_PER_REQUEST, OrderRequest } from '../../lib/domain/order.ts';
import { cleanupAssemblies, referencedId, resourcesOf, synthConveyor } from '../support/cdk-app.ts';

afterAll(cleanupAssemblies);

const { json } = synthConveyor();
const post = resourcesOf(json, 'AWS::ApiGateway::Method').find(([, m]) => m.Properties.HttpMethod === 'POST')![1];
const model = json.Resources[referencedId(post.Properties.RequestModels['application/json'])]!;
const schema = model.Properties.Schema as Record<string, unknown>;

/** Every keyword JSON Schema draft 4 defines (draft-zyp-json-schema-04 and draft-fge-json-schema-validation-00). */
const DRAFT_4_KEYWORDS = new Set([
  '$schema',
  'id',
  '$ref',
  'title',
  'description',
  'default',
  'definitions',
  'multipleOf',
  'maximum',
  'exclusiveMaximum',
  'minimum',
  'exclusiveMinimum',
  'maxLength',
  'minLength',
  'pattern',
  'additionalItems',
  'items',
  'maxItems',
  'minItems',
  'uniqueItems',
  'maxProperties',
  'minProperties',
  'required',
  'additionalProperties',
  'properties',
  'patternProperties',
  'dependencies',
  'enum',
  'type',
  'allOf',
  'anyOf',
  'oneOf',
  'not',
]);

/** Every keyword used anywhere in a schema (property names under `properties` are not keywords). */
function keywordsOf(node: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(node)) node.forEach((n) => keywordsOf(n, found));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      found.add(key);
      if (key === 'properties' || key === 'patternProperties' || key === 'definitions')
        Object.values(value as object).forEach((v) => keywordsOf(v, found));
      else if (key !== 'enum' && key !== 'required' && key !== 'default') keywordsOf(value, found);
    }
  }
  return found;
}

// Ajv speaks draft 7 and later; for the draft-4 keywords checked above (no boolean exclusive bounds) their meaning is the same.
const { $schema: draft, ...body } = schema;
const validate = new Ajv({ strict: true, allErrors: true }).compile(body);
const gatewayAccepts = (value: unknown) => validate(value) === true;
const intakeAccepts = (value: unknown) =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && 'orders' in value
    ? BulkOrderShape.safeParse(value).success
    : OrderRequest.safeParse(value).success;

const item = fc.record({
  sku: fc.stringMatching(/^[A-Z0-9][A-Z0-9-]{0,31}$/),
  quantity: fc.integer({ min: 1, max: 1000 }),
});
const validOrder = fc.record(
  {
    orderId: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/),
    warehouseId: fc.constantFrom('wh-1', 'wh-2'),
    items: fc.uniqueArray(item, { minLength: 1, maxLength: MAX_ITEMS_PER_ORDER, selector: (i) => i.sku }),
    priority: fc.constantFrom('standard', 'express'),
    shipTo: fc.record({ country: fc.constantFrom('DE', 'FR', 'AT'), postalCode: fc.stringMatching(/^[0-9]{5}$/) }),
    customerId: fc.string({ minLength: 1, maxLength: 64 }),
    metadata: fc.dictionary(fc.string({ minLength: 1, maxLength: 64 }), fc.string({ maxLength: 256 }), { maxKeys: 20 }),
  },
  { requiredKeys: ['warehouseId', 'items'] },
);
const base = { orderId: 'o-1', warehouseId: 'wh-1', items: [{ sku: 'SKU-1', quantity: 2 }] };

describe('the POST /orders request model', () => {
  it('is JSON Schema draft 4, using draft-4 keywords only', () => {
    expect(draft).toBe('http://json-schema.org/draft-04/schema#');
    expect([...keywordsOf(schema)].filter((k) => !DRAFT_4_KEYWORDS.has(k))).toEqual([]);
  });

  it('accepts every order and bulk request the intake accepts (the gateway never refuses a valid order)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          validOrder,
          fc.record({
            orders: fc.array(fc.oneof(validOrder, fc.jsonValue({ maxDepth: 2 })), {
              minLength: 1,
              maxLength: MAX_ORDERS_PER_REQUEST,
            }),
          }),
        ),
        (request) => {
          expect(intakeAccepts(request)).toBe(true);
          expect(gatewayAccepts(request), JSON.stringify(request).slice(0, 300)).toBe(true);
        },
      ),
    );
  });

  it('never refuses what the intake would accept, whatever the body', () => {
    const mutated = fc
      .tuple(
        validOrder,
        fc.constantFrom('orderId', 'warehouseId', 'items', 'priority', 'shipTo', 'customerId', 'metadata', 'extra'),
        fc.jsonValue({ maxDepth: 3 }),
      )
      .map(([order, field, value]) => ({ ...order, [field]: value }));
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 3 }), mutated), (request) => {
        if (intakeAccepts(request)) expect(gatewayAccepts(request)).toBe(true);
      }),
    );
  });

  it.each([
    ['no warehouseId', { items: base.items }],
    ['no items', { warehouseId: 'wh-1' }],
    ['empty items', { ...base, items: [] }],
    ['quantity 0', { ...base, items: [{ sku: 'SKU-1', quantity: 0 }] }],
    ['quantity as a string', { ...base, items: [{ sku: 'SKU-1', quantity: '2' }] }],
    ['fractional quantity', { ...base, items: [{ sku: 'SKU-1', quantity: 1.5 }] }],
    ['lowercase SKU', { ...base, items: [{ sku: 'sku-1', quantity: 1 }] }],
    ['an unknown field', { ...base, note: 'leave at the door' }],
    ['an unknown priority', { ...base, priority: 'urgent' }],
    [
      'too many items',
      { ...base, items: Array.from({ length: MAX_ITEMS_PER_ORDER + 1 }, (_, i) => ({ sku: `SKU-${i}`, quantity: 1 })) },
    ],
    ['shipTo without postalCode', { ...base, shipTo: { country: 'DE' } }],
    ['an orderId with a slash', { ...base, orderId: 'a/b' }],
    ['a list instead of an object', [base]],
    ['a bare string', 'order'],
    ['bulk: orders not a list', { orders: base }],
    ['bulk: no orders', { orders: [] }],
    ['bulk: too many orders', { orders: Array.from({ length: MAX_ORDERS_PER_REQUEST + 1 }, () => base) }],
    ['bulk: an unknown field beside orders', { orders: [base], dryRun: true }],
  ])('refuses %s, as the intake does', (_name, request) => {
    expect(intakeAccepts(request)).toBe(false);
    expect(gatewayAccepts(request)).toBe(false);
  });
});
