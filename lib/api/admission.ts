/**
 * Admission: how the intake turns valid orders into accepted ones without ever accepting one id
 * twice. Correctness rests on conditional writes, never on a read:
 *
 *   1. claim    each order id with a conditional put (it wins only if the id is new);
 *   2. resolve  a lost claim with a consistent read: other contents → 409; the same contents and
 *               already queued → a duplicate (202, nothing queued); still being queued by another
 *               request → wait for it (bounded), or take the claim over once its lease has run out;
 *   3. queue    the claimed orders to their warehouse's first stage (SendMessageBatch);
 *   4. confirm  what was queued (one batch write), and release the claims of what could not be.
 *
 * A claim's lease lasts as long as its request can still send: after it, the claim is only taken
 * over (not duplicated) by a retry of a request that died between claiming and confirming.
 */
import { MESSAGE_VERSION, type PickingInput } from '../domain/messages.ts';
import type { Order } from '../domain/order.ts';
import type { ClaimView, OrderLedger } from '../ledger/ledger.ts';
import { tracingAttributes } from '../runtime/attributes.ts';
import { mapConcurrent, sleep } from '../aws/concurrency.ts';
import { currentTraceHeader } from '../runtime/telemetry.ts';
import type { Queues } from '../runtime/ports.ts';

/** Claims in flight at once. */
const CLAIM_CONCURRENCY = 16;
/** How often a request waiting for another one's claim looks again. */
const WAIT_STEP_MS = 25;

/** A valid order of the request, at its index, with the fingerprint of its contents. */
export interface Candidate {
  readonly index: number;
  readonly order: Order;
  readonly fingerprint: string;
}

/** One order's fate. */
export type Admitted =
  | { readonly kind: 'accepted'; readonly index: number; readonly order: Order }
  | { readonly kind: 'duplicate'; readonly index: number; readonly order: Order; readonly status: string }
  | { readonly kind: 'conflict'; readonly index: number; readonly order: Order }
  | { readonly kind: 'unavailable'; readonly index: number; readonly order: Order; readonly reason: string };

export interface AdmissionContext {
  readonly ledger: OrderLedger;
  readonly queues: Queues;
  /** First-stage queue URL and stage name per warehouse. */
  readonly entryQueueUrls: ReadonlyMap<string, string>;
  readonly entryStages: ReadonlyMap<string, string>;
  readonly requestId: string;
  readonly traceId: string;
  readonly acceptedAt: string;
  /** When this request can no longer send (epoch ms): its claims' lease. */
  readonly leaseUntil: number;
  /** When this request must answer (epoch ms): waiting for another request's claim stops there. */
  readonly answerBy: number;
  readonly now: () => number;
  /** Waits between looks at another request's claim. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Logs what went wrong without changing an answer. */
  readonly warn: (message: string, fields: Record<string, unknown>) => void;
}

/**
 * Admits valid orders: one result per candidate, in any order.
 *
 * @example
 * const results = await admit(candidates, { ledger, queues, entryQueueUrls, entryStages, requestId, traceId, acceptedAt, leaseUntil, answerBy, now });
 */
export async function admit(candidates: readonly Candidate[], ctx: AdmissionContext): Promise<Admitted[]> {
  const results: Admitted[] = [];
  const claimed: Candidate[] = [];
  await mapConcurrent(candidates, CLAIM_CONCURRENCY, async (c) => {
    const fate = (await ctx.ledger.claim(claimOf(c, ctx))) ? 'claimed' : await resolveTaken(c, ctx);
    if (fate === 'claimed') claimed.push(c);
    else results.push(fate);
  });
  for (const warehouseId of new Set(claimed.map((c) => c.order.warehouseId))) {
    results.push(
      ...(await queue(
        claimed.filter((c) => c.order.warehouseId === warehouseId),
        warehouseId,
        ctx,
      )),
    );
  }
  return results;
}

function claimOf(c: Candidate, ctx: AdmissionContext) {
  return {
    orderId: c.order.orderId,
    warehouseId: c.order.warehouseId,
    fingerprint: c.fingerprint,
    traceId: ctx.traceId,
    requestId: ctx.requestId,
    at: ctx.acceptedAt,
    leaseUntil: ctx.leaseUntil,
    entryStage: ctx.entryStages.get(c.order.warehouseId) as string,
  };
}

/** The id was claimed already: decide from a consistent read, waiting while another request queues it. */
async function resolveTaken(c: Candidate, ctx: AdmissionContext): Promise<Admitted | 'claimed'> {
  const { index, order } = c;
  for (;;) {
    if (ctx.now() + WAIT_STEP_MS >= ctx.answerBy) {
      return {
        kind: 'unavailable',
        index,
        order,
        reason: 'another request is accepting this order right now; try again shortly',
      };
    }
    const view = await ctx.ledger.inspect(order.orderId);
    if (!view) {
      // Released by a request that could not queue it: the id is free again.
      if (await ctx.ledger.claim(claimOf(c, ctx))) return 'claimed';
      continue;
    }
    // Orders put straight on a queue (no claim) have no fingerprint: they count as the same.
    if (view.fingerprint !== undefined && view.fingerprint !== c.fingerprint) return { kind: 'conflict', index, order };
    if (view.record) return { kind: 'duplicate', index, order, status: view.record.status };
    if (await leaseExpired(view, c, ctx)) return 'claimed';
    await (ctx.sleep ?? sleep)(WAIT_STEP_MS);
  }
}

/** Takes over a claim whose request died before confirming it; true when it is now ours. */
async function leaseExpired(view: ClaimView, c: Candidate, ctx: AdmissionContext): Promise<boolean> {
  if (view.requestId === undefined || view.leaseUntil === undefined || ctx.now() < view.leaseUntil) return false;
  return ctx.ledger.takeOver(
    c.order.orderId,
    { requestId: view.requestId, leaseUntil: view.leaseUntil },
    { requestId: ctx.requestId, leaseUntil: ctx.leaseUntil },
  );
}

/** Queues claimed orders of one warehouse; confirms what was sent, releases the claims of the rest. */
async function queue(orders: readonly Candidate[], warehouseId: string, ctx: AdmissionContext): Promise<Admitted[]> {
  // The order's trace starts here: every stage's invocation that handles it is linked to this request's trace.
  const traceHeader = currentTraceHeader();
  const { unsent } = await ctx.queues.send(
    ctx.entryQueueUrls.get(warehouseId) as string,
    orders.map(({ order }) => {
      const message: PickingInput = { v: MESSAGE_VERSION, order, acceptedAt: ctx.acceptedAt };
      return {
        key: order.orderId,
        body: JSON.stringify(message),
        attributes: tracingAttributes(order.orderId, ctx.traceId),
        traceHeader,
      };
    }),
  );
  const sent = orders.filter((c) => !unsent.has(c.order.orderId));
  const failed = orders.filter((c) => unsent.has(c.order.orderId));
  // Both only speed others up: a queued order whose claim is not confirmed is taken over (and queued
  // again, harmlessly) after its lease; an unqueued one whose claim is not released, likewise.
  const entryStage = ctx.entryStages.get(warehouseId) as string;
  const unconfirmed = await ctx.ledger
    .confirmQueued(sent.map((c) => ({ id: c.order.orderId, partition: warehouseId, entryStage, at: ctx.acceptedAt })))
    .catch((error: Error) => (ctx.warn('could not confirm queued orders', { error: error.message }), []));
  if (unconfirmed.length > 0) ctx.warn('could not confirm some queued orders', { orders: unconfirmed.length });
  await Promise.all(
    failed.map((c) =>
      ctx.ledger
        .release(c.order.orderId, ctx.requestId)
        .catch((error: Error) =>
          ctx.warn('could not release a claim', { orderId: c.order.orderId, error: error.message }),
        ),
    ),
  );
  return [
    ...sent.map((c): Admitted => ({ kind: 'accepted', index: c.index, order: c.order })),
    ...failed.map(
      (c): Admitted => ({
        kind: 'unavailable',
        index: c.index,
        order: c.order,
        reason: unsent.get(c.order.orderId) as string,
      }),
    ),
  ];
}
