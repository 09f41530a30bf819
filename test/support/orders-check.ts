/** Checks orders from outside, through the API: delivered, exactly once, with a full history. */
import { expect } from 'vitest';
import { mapConcurrent } from '../../lib/aws/concurrency.ts';
import { getJson } from './runtime-process.ts';

/** One line of figures for the record (docs/RELIABILITY.md quotes them). */
export function reportRun(
  name: string,
  stats: {
    totals: Record<string, number>;
    pipelines: Record<
      string,
      Record<string, { retried: number; duplicates: number; failedBatches: number; deadLettered: number }>
    >;
  },
  seconds: number,
): void {
  const views = Object.values(stats.pipelines).flatMap((p) => Object.values(p));
  const sum = (k: 'retried' | 'duplicates' | 'failedBatches' | 'deadLettered') => views.reduce((a, v) => a + v[k], 0);
  console.info(
    `[reliability] ${name}: ${JSON.stringify(stats.totals)} in ${seconds.toFixed(1)} s; retried ${sum('retried')}, duplicates skipped ${sum('duplicates')}, failed batches ${sum('failedBatches')}, dead-lettered ${sum('deadLettered')}`,
  );
}

/** What a test sent: an order's id and items. */
export interface SentOrder {
  readonly orderId: string;
  readonly items: readonly { readonly sku: string; readonly quantity: number }[];
}

/**
 * Every order is `delivered`, with exactly one delivered entry, and its parcels hold exactly the
 * items it was sent with (distinct SKUs and units) — and, unless `fullHistory` is false, an entry
 * from every stage. (Under deadline pressure an intermediate stage may skip its progress entry: the
 * order moves on and the final status stays exact.)
 */
export async function expectDeliveredOnce(
  url: string,
  orders: readonly SentOrder[],
  { fullHistory = true } = {},
): Promise<void> {
  const problems: string[] = [];
  await mapConcurrent(orders, 16, async ({ orderId, items }) => {
    const { status, body } = await getJson(`${url}/orders/${encodeURIComponent(orderId)}`);
    if (status !== 200) return void problems.push(`${orderId}: HTTP ${status}`);
    const deliveries = body.history.filter((h: { status: string }) => h.status === 'delivered').length;
    const stages = new Set(body.history.map((h: { by: string }) => h.by));
    if (body.status !== 'delivered') problems.push(`${orderId}: ${body.status}`);
    else if (deliveries !== 1) problems.push(`${orderId}: delivered ${deliveries} times`);
    else if (
      body.delivery?.lines !== items.length ||
      body.delivery?.units !== items.reduce((n, i) => n + i.quantity, 0)
    ) {
      problems.push(
        `${orderId}: delivered ${body.delivery?.lines} lines / ${body.delivery?.units} units of ${items.length} / ${items.reduce((n, i) => n + i.quantity, 0)} sent`,
      );
    } else if (fullHistory && !['picking', 'packing', 'delivery'].every((s) => stages.has(s)))
      problems.push(`${orderId}: history lacks a stage (${[...stages].join(', ')})`);
  });
  expect(
    problems.slice(0, 10),
    `${problems.length} of ${orders.length} orders not delivered exactly once with their contents`,
  ).toEqual([]);
}
