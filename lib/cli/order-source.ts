/**
 * Orders for `conveyor send`: generated (a load generator), or read from a JSON Lines file — one
 * order per line, or the lines `conveyor dlq export` writes (`{"order", "deadLetter"}`), each
 * validated with the API's own schema before anything is sent, bad lines reported with their line
 * number and field.
 */
import { readFileSync } from 'node:fs';
import { OrderRequest } from '../domain/order.ts';
import { asExportedLine } from '../operations/dead-letter-export.ts';
import { UsageError } from './errors.ts';

/** Orders by position, so a million generated ones never sit in memory at once. */
export interface OrderSource {
  readonly total: number;
  at(index: number): Record<string, unknown>;
  /** Where the orders go, for the summary, e.g. `wh-1, wh-2`. */
  readonly warehouses: readonly string[];
  /** How to find them again: e.g. `load-m3x1-0 … load-m3x1-999`. */
  readonly idRange?: string;
}

/**
 * `count` valid orders with ids `<prefix>-0 …`, round-robin over `warehouses`, each with one or two
 * of a small set of SKUs (every one packable and deliverable).
 *
 * @example
 * const source = generatedOrders(10, ['wh-1'], 'load-m3x1');
 * source.at(0); // { orderId: 'load-m3x1-0', warehouseId: 'wh-1', items: [ … ] }
 */
export function generatedOrders(count: number, warehouses: readonly string[], prefix: string): OrderSource {
  return {
    total: count,
    warehouses,
    idRange: count === 1 ? `${prefix}-0` : `${prefix}-0 … ${prefix}-${count - 1}`,
    at: (i) => ({
      orderId: `${prefix}-${i}`,
      warehouseId: warehouses[i % warehouses.length] as string,
      items: [
        { sku: `SKU-${i % 23}`, quantity: 1 + (i % 4) },
        ...(i % 3 === 0 ? [] : [{ sku: `SKU-B${i % 7}`, quantity: 1 }]),
      ],
    }),
  };
}

/** A prefix for generated order ids, unique per run: `load-<base36 time><random>`. */
export function runPrefix(now: number): string {
  return `load-${now.toString(36)}${Math.floor(Math.random() * 36 ** 3)
    .toString(36)
    .padStart(3, '0')}`;
}

export interface BadLine {
  readonly line: number;
  readonly message: string;
}

export interface FileOrders {
  readonly source: OrderSource;
  readonly bad: readonly BadLine[];
}

/**
 * Reads one order per line (blank lines and lines starting with `#` are skipped): a plain order, or
 * an exported dead letter `{"order": {…}, "deadLetter": {…}}` whose `order` is sent. A line without
 * `warehouseId` gets `warehouse`, or the warehouses in turn. Each is checked with the API's schema
 * and against the known warehouses; a problem names the field (`order.items.0.sku` in an export).
 *
 * @example
 * const { source, bad } = readOrderFile('orders.jsonl', { known: ['wh-1', 'wh-2'] });
 * bad[0]; // { line: 3, message: 'items.0.quantity: must be at least 1' }
 */
export function readOrderFile(
  path: string,
  options: { readonly known: readonly string[]; readonly warehouse?: string },
): FileOrders {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      `cannot read --file ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message} — pass a JSON Lines file, one order per line`,
    );
  }
  const orders: Record<string, unknown>[] = [];
  const bad: BadLine[] = [];
  let spread = 0;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (error) {
      return void bad.push({ line, message: `not valid JSON (${(error as Error).message})` });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return void bad.push({ line, message: 'must be a JSON object (one order per line)' });
    const exported = asExportedLine(value);
    // In an exported dead letter the order is under "order": errors name that path.
    const prefix = exported ? 'order.' : '';
    if (exported && (typeof exported.order !== 'object' || exported.order === null || Array.isArray(exported.order))) {
      const why =
        exported.order === null
          ? 'this dead letter held no readable order (see deadLetter.body); write the order here by hand, or drop the line'
          : 'must be a JSON object (the order to send)';
      return void bad.push({ line, message: `order: ${why}` });
    }
    const order = { ...((exported ? exported.order : value) as Record<string, unknown>) };
    if (order.warehouseId === undefined)
      order.warehouseId = options.warehouse ?? options.known[spread++ % options.known.length];
    const parsed = OrderRequest.safeParse(order);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = `${prefix}${issue?.path.map(String).join('.') ?? ''}`.replace(/\.$/, '') || 'order';
      return void bad.push({
        line,
        message: `${field}: ${issue?.message ?? 'invalid'}${parsed.error.issues.length > 1 ? ` (and ${parsed.error.issues.length - 1} more)` : ''}`,
      });
    }
    if (!options.known.includes(parsed.data.warehouseId)) {
      return void bad.push({
        line,
        message: `${prefix}warehouseId: unknown warehouse "${parsed.data.warehouseId}"; warehouses are ${options.known.join(', ')}`,
      });
    }
    orders.push(order);
  });
  const warehouses = [...new Set(orders.map((o) => o.warehouseId as string))];
  return { source: { total: orders.length, warehouses, at: (i) => orders[i] as Record<string, unknown> }, bad };
}
