/**
 * The intake's order schemas, field by field: what each accepts up to its limit, what it refuses
 * past it, and that every refusal names the field and states the rule (the API returns these
 * messages to the caller as they are, one `{field, message}` per issue).
 */
import { describe, expect, it } from 'vitest';
import {
  BulkOrderShape,
  MAX_ITEMS_PER_ORDER,
  MAX_ORDERS_PER_REQUEST,
  MAX_QUANTITY_PER_ITEM,
  Order,
  OrderRequest,
  PRIORITIES,
} from '../../lib/domain/order.ts';

type Schema = { safeParse(input: unknown): { success: boolean; error?: { issues: readonly Issue[] } } };
type Issue = { readonly path: readonly PropertyKey[]; readonly message: string };

/** The issues of an input, as the API reports them: `field` (dotted path) and `message`. */
function issuesOf(schema: Schema, input: unknown): { field: string; message: string }[] {
  const result = schema.safeParse(input);
  return (result.error?.issues ?? []).map((i) => ({ field: i.path.map(String).join('.'), message: i.message }));
}

const valid = () => ({ warehouseId: 'wh-1', items: [{ sku: 'SKU-1', quantity: 2 }] });
const withItem = (item: unknown) => ({ ...valid(), items: [item] });
const withShipTo = (shipTo: unknown) => ({ ...valid(), shipTo });
const skus = (count: number) => Array.from({ length: count }, (_, i) => ({ sku: `SKU-${i}`, quantity: 1 }));
const keys = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, 'v']));

describe('an order within every limit', () => {
  it.each([
    ['the smallest order', valid()],
    ['an order id of 64 characters', { ...valid(), orderId: `a${'.'.repeat(63)}` }],
    ['an order id with dots, colons, underscores and dashes', { ...valid(), orderId: 'A1.b_c:d-e' }],
    ['a warehouse id of 20 characters', { ...valid(), warehouseId: 'w'.repeat(20) }],
    ['a SKU of 32 characters', withItem({ sku: `S${'-'.repeat(31)}`, quantity: 1 })],
    ['the largest quantity', withItem({ sku: 'SKU-1', quantity: MAX_QUANTITY_PER_ITEM })],
    ['the most items', { ...valid(), items: skus(MAX_ITEMS_PER_ORDER) }],
    ['each priority', { ...valid(), priority: PRIORITIES.at(-1) }],
    ['a postal code of 2 characters', withShipTo({ country: 'DE', postalCode: '1A' })],
    [
      'a postal code of 12 characters with spaces and dashes',
      withShipTo({ country: 'GB', postalCode: 'SW1A 1AA-123' }),
    ],
    ['a customer id of 64 characters', { ...valid(), customerId: 'c'.repeat(64) }],
    ['20 metadata keys', { ...valid(), metadata: keys(20) }],
    [
      'a metadata key of 64 and a value of 256 characters',
      { ...valid(), metadata: { ['k'.repeat(64)]: 'v'.repeat(256) } },
    ],
  ])('accepts %s', (_what, order) => {
    expect(issuesOf(OrderRequest, order)).toEqual([]);
  });
});

describe('an order past a limit or of the wrong shape is refused, naming the field and the rule', () => {
  const ORDER_ID_RULE = 'must be 1–64 letters, digits, ".", "_", ":" or "-", starting with a letter or digit';
  const SKU_RULE = 'must be 1–32 uppercase letters, digits or dashes, e.g. "SKU-1042"';
  const COUNTRY_RULE = 'an ISO 3166-1 alpha-2 code, e.g. "DE"';
  const POSTAL_RULE = '2–12 letters, digits, spaces or dashes';
  const PRIORITY_RULE = 'must be one of standard, express';
  const ITEM_TYPE = 'must be an object {"sku", "quantity"}';
  const SHIP_TO_TYPE = 'must be an object {"country", "postalCode"}';

  it.each([
    // order id
    ['an order id that is not a string', { ...valid(), orderId: 42 }, 'orderId', 'must be a string'],
    ['an order id of 65 characters', { ...valid(), orderId: 'a'.repeat(65) }, 'orderId', ORDER_ID_RULE],
    ['an order id starting with a dot', { ...valid(), orderId: '.a' }, 'orderId', ORDER_ID_RULE],
    ['an order id with a slash', { ...valid(), orderId: 'a/b' }, 'orderId', ORDER_ID_RULE],
    // warehouse
    ['a missing warehouse', { items: valid().items }, 'warehouseId', 'required: the warehouse, e.g. "wh-1"'],
    [
      'a warehouse that is not a string',
      { ...valid(), warehouseId: 1 },
      'warehouseId',
      'must be a string naming a warehouse, e.g. "wh-1"',
    ],
    ['an empty warehouse', { ...valid(), warehouseId: '' }, 'warehouseId', 'must name a warehouse, e.g. "wh-1"'],
    [
      'a warehouse of 21 characters',
      { ...valid(), warehouseId: 'w'.repeat(21) },
      'warehouseId',
      'must be at most 20 characters',
    ],
    // items
    ['missing items', { warehouseId: 'wh-1' }, 'items', 'required: a list of {"sku", "quantity"}'],
    ['items that are not a list', { ...valid(), items: 'SKU-1' }, 'items', 'must be a list of {"sku", "quantity"}'],
    ['no items', { ...valid(), items: [] }, 'items', 'must hold at least one item'],
    [
      'one item more than allowed',
      { ...valid(), items: skus(MAX_ITEMS_PER_ORDER + 1) },
      'items',
      `must hold at most ${MAX_ITEMS_PER_ORDER} items`,
    ],
    ['an item that is not an object', withItem('SKU-1'), 'items.0', ITEM_TYPE],
    ['an item with a null in its place', withItem(null), 'items.0', ITEM_TYPE],
    // SKU
    ['a missing SKU', withItem({ quantity: 1 }), 'items.0.sku', `required: ${SKU_RULE.replace('must be ', '')}`],
    ['a SKU that is not a string', withItem({ sku: 1042, quantity: 1 }), 'items.0.sku', 'must be a string'],
    ['a SKU of 33 characters', withItem({ sku: `S${'-'.repeat(32)}`, quantity: 1 }), 'items.0.sku', SKU_RULE],
    ['a SKU starting with a dash', withItem({ sku: '-SKU-1', quantity: 1 }), 'items.0.sku', SKU_RULE],
    ['a SKU with a trailing space', withItem({ sku: 'SKU-1 ', quantity: 1 }), 'items.0.sku', SKU_RULE],
    ['a lowercase SKU', withItem({ sku: 'sku-1', quantity: 1 }), 'items.0.sku', SKU_RULE],
    // quantity
    [
      'a missing quantity',
      withItem({ sku: 'SKU-1' }),
      'items.0.quantity',
      `required: a whole number from 1 to ${MAX_QUANTITY_PER_ITEM}`,
    ],
    ['a quantity that is a string', withItem({ sku: 'SKU-1', quantity: '2' }), 'items.0.quantity', 'must be a number'],
    ['a fractional quantity', withItem({ sku: 'SKU-1', quantity: 1.5 }), 'items.0.quantity', 'must be a whole number'],
    ['a quantity of 0', withItem({ sku: 'SKU-1', quantity: 0 }), 'items.0.quantity', 'must be at least 1'],
    [
      'a quantity past the largest',
      withItem({ sku: 'SKU-1', quantity: MAX_QUANTITY_PER_ITEM + 1 }),
      'items.0.quantity',
      `must be at most ${MAX_QUANTITY_PER_ITEM}`,
    ],
    // priority
    ['an unknown priority', { ...valid(), priority: 'overnight' }, 'priority', PRIORITY_RULE],
    // ship-to
    ['a ship-to that is not an object', withShipTo('Berlin'), 'shipTo', SHIP_TO_TYPE],
    ['a ship-to without a country', withShipTo({ postalCode: '10115' }), 'shipTo.country', `required: ${COUNTRY_RULE}`],
    [
      'a country that is not a string',
      withShipTo({ country: 49, postalCode: '10115' }),
      'shipTo.country',
      'must be a string',
    ],
    [
      'a three-letter country',
      withShipTo({ country: 'DEU', postalCode: '10115' }),
      'shipTo.country',
      `must be ${COUNTRY_RULE}`,
    ],
    [
      'a lowercase country',
      withShipTo({ country: 'de', postalCode: '10115' }),
      'shipTo.country',
      `must be ${COUNTRY_RULE}`,
    ],
    [
      'a ship-to without a postal code',
      withShipTo({ country: 'DE' }),
      'shipTo.postalCode',
      `required: ${POSTAL_RULE}, e.g. "10115"`,
    ],
    [
      'a postal code that is not a string',
      withShipTo({ country: 'DE', postalCode: 10115 }),
      'shipTo.postalCode',
      'must be a string',
    ],
    [
      'a postal code of 1 character',
      withShipTo({ country: 'DE', postalCode: '1' }),
      'shipTo.postalCode',
      `must be ${POSTAL_RULE}`,
    ],
    [
      'a postal code of 13 characters',
      withShipTo({ country: 'DE', postalCode: '1234567890123' }),
      'shipTo.postalCode',
      `must be ${POSTAL_RULE}`,
    ],
    [
      'a postal code starting with a dash',
      withShipTo({ country: 'DE', postalCode: '-10115' }),
      'shipTo.postalCode',
      `must be ${POSTAL_RULE}`,
    ],
    // customer
    ['a customer id that is not a string', { ...valid(), customerId: 7 }, 'customerId', 'must be a string'],
    ['an empty customer id', { ...valid(), customerId: '' }, 'customerId', 'must not be empty'],
    [
      'a customer id of 65 characters',
      { ...valid(), customerId: 'c'.repeat(65) },
      'customerId',
      'must be at most 64 characters',
    ],
    // metadata
    [
      'metadata that is not an object',
      { ...valid(), metadata: 'gift' },
      'metadata',
      'must be an object of string values',
    ],
    ['21 metadata keys', { ...valid(), metadata: keys(21) }, 'metadata', 'must hold at most 20 keys'],
    ['an empty metadata key', { ...valid(), metadata: { '': 'v' } }, 'metadata.', 'keys must not be empty'],
    [
      'a metadata key of 65 characters',
      { ...valid(), metadata: { ['k'.repeat(65)]: 'v' } },
      `metadata.${'k'.repeat(65)}`,
      'keys must be at most 64 characters',
    ],
    [
      'a metadata value that is a number',
      { ...valid(), metadata: { gift: 1 } },
      'metadata.gift',
      'metadata values must be strings',
    ],
    [
      'a metadata value of 257 characters',
      { ...valid(), metadata: { note: 'v'.repeat(257) } },
      'metadata.note',
      'must be at most 256 characters',
    ],
    // the order itself
    ['a body that is not an object', 'order', '', 'must be a JSON object'],
    ['a null body', null, '', 'must be a JSON object'],
  ])('refuses %s', (_what, order, field, message) => {
    expect(issuesOf(OrderRequest, order)).toContainEqual({ field, message });
  });

  it('names an unknown field and says where free-form data goes', () => {
    expect(issuesOf(OrderRequest, { ...valid(), giftWrap: true })).toEqual([
      { field: '', message: 'unknown field "giftWrap"; put free-form data under "metadata"' },
    ]);
  });

  it('names every unknown field of an item, in the plural', () => {
    expect(issuesOf(OrderRequest, withItem({ sku: 'SKU-1', quantity: 1, price: 3, currency: 'EUR' }))).toEqual([
      { field: 'items.0', message: 'unknown fields "price", "currency"; put free-form data under "metadata"' },
    ]);
  });

  it('names an unknown field of the ship-to address', () => {
    expect(issuesOf(OrderRequest, withShipTo({ country: 'DE', postalCode: '10115', city: 'Berlin' }))).toEqual([
      { field: 'shipTo', message: 'unknown field "city"; put free-form data under "metadata"' },
    ]);
  });

  it('refuses a SKU listed twice, pointing at the repeat and the first one', () => {
    const items = [
      { sku: 'SKU-1', quantity: 1 },
      { sku: 'SKU-2', quantity: 1 },
      { sku: 'SKU-1', quantity: 3 },
    ];
    expect(issuesOf(OrderRequest, { ...valid(), items })).toEqual([
      { field: 'items.2.sku', message: 'duplicates items.0.sku "SKU-1"; combine the quantities' },
    ]);
  });
});

describe('an accepted order (what flows between stages)', () => {
  const accepted = { ...valid(), orderId: 'o-1', priority: 'standard' };

  it('is valid with an id and a priority', () => {
    expect(issuesOf(Order, accepted)).toEqual([]);
  });

  it('must have an order id and a priority', () => {
    const { orderId: _id, priority: _priority, ...bare } = accepted;
    expect(issuesOf(Order, bare)).toEqual([
      { field: 'orderId', message: 'must be a string' },
      { field: 'priority', message: `must be one of ${PRIORITIES.join(', ')}` },
    ]);
  });
});

describe('bulk intake', () => {
  const orders = (count: number) => Array.from({ length: count }, () => valid());

  it(`accepts up to ${MAX_ORDERS_PER_REQUEST} orders, without validating them yet`, () => {
    expect(issuesOf(BulkOrderShape, { orders: orders(MAX_ORDERS_PER_REQUEST) })).toEqual([]);
    expect(issuesOf(BulkOrderShape, { orders: [{ nonsense: true }] })).toEqual([]);
  });

  it.each([
    [
      'one order more than allowed',
      { orders: orders(MAX_ORDERS_PER_REQUEST + 1) },
      'orders',
      `must hold at most ${MAX_ORDERS_PER_REQUEST} orders per request; split it`,
    ],
    ['no orders', { orders: [] }, 'orders', 'must hold at least one order'],
    ['orders that are not a list', { orders: valid() }, 'orders', 'must be a list of orders'],
    ['a body that is not an object', [valid()], '', 'must be a JSON object'],
    [
      'a field besides the orders',
      { orders: orders(1), dryRun: true },
      '',
      'unknown field "dryRun"; put free-form data under "metadata"',
    ],
  ])('refuses %s', (_what, body, field, message) => {
    expect(issuesOf(BulkOrderShape, body)).toContainEqual({ field, message });
  });
});
