/**
 * Orders as the API accepts them. One schema validates HTTP bodies and is embedded in every
 * stage message. Written with zod/mini (tree-shakable: ~17 KB in a handler bundle, not ~90 KB).
 */
import * as z from 'zod/mini';

/** Order ids travel in URLs and queue attributes: no slashes, no whitespace, no leading dot. */
export const ORDER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
/** ORDER_ID_PATTERN in words, for every message that refuses an order id. */
export const ORDER_ID_RULE = '1–64 letters, digits, ".", "_", ":" or "-", starting with a letter or digit';
export const SKU_PATTERN = /^[A-Z0-9][A-Z0-9-]{0,31}$/;
export const MAX_ITEMS_PER_ORDER = 100;
export const MAX_QUANTITY_PER_ITEM = 1000;
/** Bulk intake: `{"orders": [...]}` carries at most this many orders. */
export const MAX_ORDERS_PER_REQUEST = 100;

/**
 * The error of a field the caller must send: "required: …" when it is absent (zod would otherwise
 * say what type it expected, "must be a number", which reads as if a value had been given), else `message`.
 */
function required(message: string, expected: string = message.replace(/^must be /, '')) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? `required: ${expected}` : message);
}

export const OrderId = z.string({ error: 'must be a string' }).check(
  z.regex(ORDER_ID_PATTERN, {
    error: `must be ${ORDER_ID_RULE}`,
  }),
);

export const WarehouseId = z
  .string({ error: required('must be a string naming a warehouse, e.g. "wh-1"', 'the warehouse, e.g. "wh-1"') })
  .check(
    z.minLength(1, { error: 'must name a warehouse, e.g. "wh-1"' }),
    z.maxLength(20, { error: 'must be at most 20 characters' }),
  );

export const Sku = z
  .string({ error: required('must be a string', '1–32 uppercase letters, digits or dashes, e.g. "SKU-1042"') })
  .check(z.regex(SKU_PATTERN, { error: 'must be 1–32 uppercase letters, digits or dashes, e.g. "SKU-1042"' }));

export const Quantity = z
  .int({
    error: (iss) =>
      iss.input === undefined
        ? `required: a whole number from 1 to ${MAX_QUANTITY_PER_ITEM}`
        : typeof iss.input === 'number'
          ? 'must be a whole number'
          : 'must be a number',
  })
  .check(
    z.minimum(1, { error: 'must be at least 1' }),
    z.maximum(MAX_QUANTITY_PER_ITEM, { error: `must be at most ${MAX_QUANTITY_PER_ITEM}` }),
  );

export const OrderItem = z.strictObject(
  { sku: Sku, quantity: Quantity },
  { error: unknownKeyOr('must be an object {"sku", "quantity"}') },
);
export type OrderItem = z.infer<typeof OrderItem>;

export const PRIORITIES = ['standard', 'express'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const ShipTo = z.strictObject(
  {
    country: z
      .string({ error: required('must be a string', 'an ISO 3166-1 alpha-2 code, e.g. "DE"') })
      .check(z.regex(/^[A-Z]{2}$/, { error: 'must be an ISO 3166-1 alpha-2 code, e.g. "DE"' })),
    postalCode: z
      .string({ error: required('must be a string', '2–12 letters, digits, spaces or dashes, e.g. "10115"') })
      .check(z.regex(/^[A-Za-z0-9][A-Za-z0-9 -]{1,11}$/, { error: 'must be 2–12 letters, digits, spaces or dashes' })),
  },
  { error: unknownKeyOr('must be an object {"country", "postalCode"}') },
);
export type ShipTo = z.infer<typeof ShipTo>;

const orderShape = {
  orderId: z.optional(OrderId),
  warehouseId: WarehouseId,
  items: z
    .array(OrderItem, { error: required('must be a list of {"sku", "quantity"}') })
    .check(
      z.minLength(1, { error: 'must hold at least one item' }),
      z.maxLength(MAX_ITEMS_PER_ORDER, { error: `must hold at most ${MAX_ITEMS_PER_ORDER} items` }),
    ),
  priority: z.optional(z.enum(PRIORITIES, { error: `must be one of ${PRIORITIES.join(', ')}` })),
  shipTo: z.optional(ShipTo),
  customerId: z.optional(
    z
      .string({ error: 'must be a string' })
      .check(
        z.minLength(1, { error: 'must not be empty' }),
        z.maxLength(64, { error: 'must be at most 64 characters' }),
      ),
  ),
  metadata: z.optional(
    z
      .record(
        z
          .string()
          .check(
            z.minLength(1, { error: 'keys must not be empty' }),
            z.maxLength(64, { error: 'keys must be at most 64 characters' }),
          ),
        z
          .string({ error: 'metadata values must be strings' })
          .check(z.maxLength(256, { error: 'must be at most 256 characters' })),
        {
          // A bad key is reported with its own rule (zod would otherwise give the record's type error).
          error: (iss) => (iss.code === 'invalid_key' ? iss.issues[0]?.message : 'must be an object of string values'),
        },
      )
      .check(z.refine((m) => Object.keys(m).length <= 20, { error: 'must hold at most 20 keys' })),
  ),
};

/** Structural schema of one order (no cross-field rules). */
export const OrderShape = z.strictObject(orderShape, { error: unknownKeyOr('must be a JSON object') });

/** An order as submitted to `POST /orders`. */
export const OrderRequest = OrderShape.check(
  z.superRefine((order, ctx) => {
    const seen = new Map<string, number>();
    order.items.forEach((item, index) => {
      const first = seen.get(item.sku);
      if (first === undefined) seen.set(item.sku, index);
      else
        ctx.addIssue({
          code: 'custom',
          path: ['items', index, 'sku'],
          message: `duplicates items.${first}.sku "${item.sku}"; combine the quantities`,
        });
    });
  }),
);
export type OrderRequest = z.infer<typeof OrderRequest>;

/** `POST /orders` with `{"orders": [...]}`: bulk intake. Each order is validated on its own. */
export const BulkOrderShape = z.strictObject(
  {
    orders: z.array(z.unknown(), { error: 'must be a list of orders' }).check(
      z.minLength(1, { error: 'must hold at least one order' }),
      z.maxLength(MAX_ORDERS_PER_REQUEST, {
        error: `must hold at most ${MAX_ORDERS_PER_REQUEST} orders per request; split it`,
      }),
    ),
  },
  { error: unknownKeyOr('must be a JSON object') },
);

/** An order once accepted: it has an id and a priority. This is what flows between stages. */
export const Order = z.extend(OrderShape, {
  orderId: OrderId,
  priority: z.enum(PRIORITIES, { error: `must be one of ${PRIORITIES.join(', ')}` }),
});
export type Order = z.infer<typeof Order>;

function unknownKeyOr(typeMessage: string) {
  return (iss: { code?: string; keys?: string[] }) =>
    iss.code === 'unrecognized_keys'
      ? `unknown field${(iss.keys?.length ?? 0) > 1 ? 's' : ''} ${(iss.keys ?? []).map((k) => `"${k}"`).join(', ')}; put free-form data under "metadata"`
      : iss.code === 'invalid_type'
        ? typeMessage
        : undefined;
}
