/**
 * The order API behind API Gateway (and, locally, behind the local API server): `POST /orders`
 * (one order, or `{"orders": [...]}` for bulk intake) and `GET /orders/{orderId}`.
 *
 * Intake order of operations, chosen so that nothing accepted is ever lost:
 *  1. validate everything first — a bad request enqueues nothing and writes nothing;
 *  2. look up the ids (full tracking): a resubmission with the same payload is answered with the
 *     order's current status and not processed again; the same id with another payload is a 409;
 *  3. send to the warehouse's first stage; only then
 *  4. record `accepted`. A crash between 3 and 4 leaves a queued order whose status the first
 *     stage creates — never a recorded order that is not queued.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { deliveryRestriction, HOME_COUNTRY } from '../domain/delivery.ts';
import { MESSAGE_VERSION, type PickingInput } from '../domain/messages.ts';
import { BulkOrderShape, MAX_ORDERS_PER_REQUEST, ORDER_ID_PATTERN, OrderRequest, type Order } from '../domain/order.ts';
import { OrderStatusStore } from '../status/order-status-store.ts';
import { tracingAttributes } from '../runtime/attributes.ts';
import { documentClient, sqsClient } from '../runtime/clients.ts';
import { readIntakeConfig, type IntakeConfig } from '../runtime/environment.ts';
import { sendMessages } from '../runtime/sqs.ts';
import { IntakeMetric, LogMessage } from '../contract/index.ts';
import { createLogger, createMetrics, MetricUnit, type Logger, type Metrics } from '../runtime/telemetry.ts';
import { header, json, problem, type ErrorDetail } from './http.ts';

/** Largest body accepted: 100 orders of 100 items fit with room to spare. */
export const MAX_BODY_BYTES = 1_048_576;
const CORRELATION_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export { IntakeMetric } from '../contract/index.ts';

export interface OrderApiOptions {
  readonly config?: IntakeConfig;
  readonly sqs?: SQSClient;
  readonly store?: OrderStatusStore;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  readonly now?: () => number;
}

export type OrderApiHandler = (event: APIGatewayProxyEvent, context?: Context) => Promise<APIGatewayProxyResult>;

/** One order's fate in a request. */
type Result =
  | { kind: 'accepted'; index: number; order: Order }
  | { kind: 'duplicate'; index: number; order: Order; status: string }
  | { kind: 'rejected'; index: number; status: 400 | 409; orderId?: string; error: string; details: ErrorDetail[] }
  | { kind: 'unavailable'; index: number; order: Order; reason: string };

/**
 * Builds the intake Lambda handler (API Gateway REST proxy integration).
 *
 * @example
 * // handlers/intake.ts
 * export const handler = createOrderApi();
 */
export function createOrderApi(options: OrderApiOptions = {}): OrderApiHandler {
  const config = options.config ?? readIntakeConfig();
  const sqs = options.sqs ?? sqsClient();
  const store = options.store ?? new OrderStatusStore(documentClient(), config.tableName);
  const logger = options.logger ?? createLogger({ function: 'intake' });
  const metrics = options.metrics ?? createMetrics({});
  const now = options.now ?? Date.now;
  const warehouses = [...config.entryQueueUrls.keys()];

  async function submit(event: APIGatewayProxyEvent, requestId: string): Promise<APIGatewayProxyResult> {
    const contentType = header(event.headers, 'content-type');
    if (!contentType || !/^application\/json\s*(;|$)/i.test(contentType)) {
      return problem(415, 'unsupported media type', [{ field: 'content-type', message: `must be application/json, got ${contentType ? JSON.stringify(contentType) : 'none'}` }]);
    }
    const correlation = header(event.headers, 'x-correlation-id');
    if (correlation !== undefined && !CORRELATION_ID_PATTERN.test(correlation)) {
      return problem(400, 'invalid header', [{ field: 'x-correlation-id', message: 'must be 1–128 letters, digits, ".", "_", ":" or "-"' }]);
    }
    const raw = event.body ?? '';
    const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > MAX_BODY_BYTES) {
      return problem(413, 'request body too large', [{ field: 'body', message: `is ${bytes} bytes; at most ${MAX_BODY_BYTES} are accepted — send at most ${MAX_ORDERS_PER_REQUEST} orders per request` }]);
    }
    if (text.trim() === '') return problem(400, 'invalid request body', [{ field: 'body', message: 'is empty; send an order as JSON' }]);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      const message = error instanceof SyntaxError ? error.message : 'is nested too deeply';
      return problem(400, 'invalid request body', [{ field: 'body', message: `is not valid JSON: ${message}` }]);
    }

    const bulk = typeof body === 'object' && body !== null && !Array.isArray(body) && 'orders' in body;
    let candidates: unknown[];
    let prefix: (index: number) => string;
    if (bulk) {
      const envelope = BulkOrderShape.safeParse(body);
      if (!envelope.success) return problem(400, 'invalid request body', zodDetails(envelope.error, ''));
      candidates = envelope.data.orders;
      prefix = (i) => `orders.${i}.`;
    } else {
      candidates = [body];
      prefix = () => '';
    }

    const traceId = correlation ?? requestId;
    const acceptedAt = new Date(now()).toISOString();
    const results: Result[] = [];
    const valid: { index: number; order: Order }[] = [];
    const idsInRequest = new Map<string, number>();
    candidates.forEach((candidate, index) => {
      const rejection = (details: ErrorDetail[], orderId?: string): Result => ({ kind: 'rejected', index, status: 400, error: 'invalid order', details, ...(orderId ? { orderId } : {}) });
      const parsed = OrderRequest.safeParse(candidate);
      if (!parsed.success) return void results.push(rejection(zodDetails(parsed.error, prefix(index)), claimedOrderId(candidate)));
      const request = parsed.data;
      const details: ErrorDetail[] = [];
      if (!config.entryQueueUrls.has(request.warehouseId)) {
        details.push({ field: `${prefix(index)}warehouseId`, message: `unknown warehouse ${JSON.stringify(request.warehouseId)}; warehouses are ${warehouses.join(', ')}` });
      }
      const restriction = deliveryRestriction(request.shipTo?.country ?? HOME_COUNTRY, request.priority ?? 'standard');
      if (restriction) details.push({ field: `${prefix(index)}${request.shipTo ? 'shipTo.country' : 'priority'}`, message: restriction });
      if (request.orderId !== undefined) {
        const first = idsInRequest.get(request.orderId);
        if (first !== undefined) details.push({ field: `${prefix(index)}orderId`, message: `duplicates orders.${first}.orderId in this request` });
        else idsInRequest.set(request.orderId, index);
      }
      if (details.length > 0) return void results.push(rejection(details, request.orderId));
      valid.push({ index, order: { ...request, orderId: request.orderId ?? randomUUID(), priority: request.priority ?? 'standard' } });
    });

    // Resubmissions: same id and payload → answer with the current status; other payload → 409.
    let fresh = valid;
    if (config.tracking === 'full' && valid.some((v) => idsInRequest.has(v.order.orderId))) {
      const known = await store.summaries(valid.filter((v) => idsInRequest.has(v.order.orderId)).map((v) => v.order.orderId));
      fresh = valid.filter(({ index, order }) => {
        const existing = known.get(order.orderId);
        if (!existing) return true;
        if (existing.payloadHash !== undefined && existing.payloadHash !== fingerprint(order)) {
          results.push({
            kind: 'rejected',
            index,
            status: 409,
            orderId: order.orderId,
            error: 'order id already used',
            details: [{ field: `${prefix(index)}orderId`, message: `order ${order.orderId} was submitted before with different contents; use a new orderId` }],
          });
        } else {
          results.push({ kind: 'duplicate', index, order, status: existing.status });
        }
        return false;
      });
    }

    // Queue, per warehouse, in batches; then record what was queued.
    const queued: Order[] = [];
    for (const warehouseId of new Set(fresh.map((f) => f.order.warehouseId))) {
      const orders = fresh.filter((f) => f.order.warehouseId === warehouseId);
      const unsent = await sendMessages(
        sqs,
        config.entryQueueUrls.get(warehouseId) as string,
        orders.map(({ order }) => {
          const message: PickingInput = { v: MESSAGE_VERSION, order, acceptedAt };
          return { key: order.orderId, body: JSON.stringify(message), attributes: tracingAttributes(order.orderId, traceId) };
        }),
      );
      for (const { index, order } of orders) {
        const reason = unsent.get(order.orderId);
        if (reason === undefined) {
          results.push({ kind: 'accepted', index, order });
          queued.push(order);
        } else {
          results.push({ kind: 'unavailable', index, order, reason });
        }
      }
    }
    if (config.tracking === 'full' && queued.length > 0) {
      await Promise.all(
        queued.map(async (order) => {
          try {
            await store.accept({ orderId: order.orderId, warehouseId: order.warehouseId, payloadHash: fingerprint(order), traceId, at: acceptedAt });
          } catch (error) {
            // The order is queued, which is what matters; its first stage creates the status record.
            logger.warn(LogMessage.orderNotRecorded, { orderId: order.orderId, error: (error as Error).message });
          }
        }),
      );
    }

    results.sort((a, b) => a.index - b.index);
    const count = (kind: Result['kind']) => results.filter((r) => r.kind === kind).length;
    metrics.addMetric(IntakeMetric.OrdersAccepted, MetricUnit.Count, count('accepted'));
    metrics.addMetric(IntakeMetric.OrdersDuplicate, MetricUnit.Count, count('duplicate'));
    metrics.addMetric(IntakeMetric.OrdersRejected, MetricUnit.Count, count('rejected'));
    metrics.publishStoredMetrics();
    const unavailable = results.filter((r) => r.kind === 'unavailable');
    if (unavailable.length > 0) logger.error(LogMessage.ordersNotQueued, { orderIds: unavailable.map((r) => r.order.orderId), reason: unavailable[0]?.reason, traceId });
    logger.info(LogMessage.ordersReceived, { accepted: count('accepted'), duplicates: count('duplicate'), rejected: count('rejected'), unavailable: unavailable.length, orderIds: queued.map((o) => o.orderId), traceId });

    return bulk ? bulkResponse(results) : singleResponse(results[0] as Result);
  }

  async function get(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const orderId = event.pathParameters?.orderId ?? '';
    if (!ORDER_ID_PATTERN.test(orderId)) {
      return problem(400, 'invalid order id', [{ field: 'orderId', message: 'must be 1–64 letters, digits, ".", "_", ":" or "-", starting with a letter or digit' }]);
    }
    const record = await store.get(orderId);
    if (!record) {
      const hint = config.tracking === 'terminal' ? ' (tracking is "terminal": orders appear once delivered or dead-lettered)' : '';
      return problem(404, 'order not found', [{ field: 'orderId', message: `no order ${JSON.stringify(orderId)}${hint}` }]);
    }
    return json(200, record);
  }

  return async function handler(event: APIGatewayProxyEvent, context?: Context): Promise<APIGatewayProxyResult> {
    const requestId = event.requestContext?.requestId ?? context?.awsRequestId ?? randomUUID();
    if (context) logger.addContext(context);
    try {
      const route = `${event.httpMethod} ${event.resource}`;
      switch (route) {
        case 'POST /orders':
          return await submit(event, requestId);
        case 'GET /orders/{orderId}':
          return await get(event);
      }
      if (event.resource === '/orders') return problem(405, 'method not allowed', [{ field: 'method', message: `${event.httpMethod} is not allowed on /orders; use POST` }], { allow: 'POST' });
      if (event.resource === '/orders/{orderId}') return problem(405, 'method not allowed', [{ field: 'method', message: `${event.httpMethod} is not allowed on /orders/{orderId}; use GET` }], { allow: 'GET' });
      return problem(404, 'not found', [{ field: 'path', message: `no route for ${event.httpMethod} ${event.path}` }]);
    } catch (error) {
      // A dependency (SQS, DynamoDB) failed beyond the SDK's retries: nothing partial is reported as accepted.
      logger.error(LogMessage.requestFailed, { error: (error as Error).message, requestId });
      return problem(503, 'service unavailable', [{ field: 'request', message: `try again shortly (request ${requestId})` }], { 'retry-after': '1' });
    }
  };
}

function singleResponse(result: Result): APIGatewayProxyResult {
  switch (result.kind) {
    case 'accepted':
      return json(202, { orderId: result.order.orderId, warehouseId: result.order.warehouseId, status: 'accepted' });
    case 'duplicate':
      return json(202, { orderId: result.order.orderId, warehouseId: result.order.warehouseId, status: result.status, duplicate: true });
    case 'rejected':
      return problem(result.status, result.error, result.details);
    case 'unavailable':
      return problem(503, 'service unavailable', [{ field: 'request', message: 'the order could not be queued; nothing was recorded — try again' }], { 'retry-after': '1' });
  }
}

function bulkResponse(results: readonly Result[]): APIGatewayProxyResult {
  const entries = results.map((r) => {
    switch (r.kind) {
      case 'accepted':
        return { index: r.index, orderId: r.order.orderId, warehouseId: r.order.warehouseId, status: 'accepted' };
      case 'duplicate':
        return { index: r.index, orderId: r.order.orderId, warehouseId: r.order.warehouseId, status: r.status, duplicate: true };
      case 'rejected':
        return { index: r.index, ...(r.orderId ? { orderId: r.orderId } : {}), error: r.error, details: r.details };
      case 'unavailable':
        return { index: r.index, orderId: r.order.orderId, error: 'service unavailable', details: [{ field: `orders.${r.index}`, message: 'could not be queued; nothing was recorded — resubmit it' }] };
    }
  });
  const tally = {
    accepted: results.filter((r) => r.kind === 'accepted').length,
    duplicates: results.filter((r) => r.kind === 'duplicate').length,
    rejected: results.filter((r) => r.kind === 'rejected').length,
    unavailable: results.filter((r) => r.kind === 'unavailable').length,
  };
  const body = { ...tally, results: entries };
  if (tally.accepted + tally.duplicates > 0) return json(202, body);
  if (tally.unavailable > 0) return json(503, { error: 'service unavailable', details: [{ field: 'orders', message: 'no order could be queued; try again' }], ...body }, { 'retry-after': '1' });
  return json(400, { error: 'no order accepted', details: results.flatMap((r) => (r.kind === 'rejected' ? r.details : [])), ...body });
}

/** Fields paths as users write them: `items.0.quantity`, with the bulk prefix. */
function zodDetails(error: { readonly issues: ReadonlyArray<{ readonly path: readonly PropertyKey[]; readonly message: string }> }, prefix: string): ErrorDetail[] {
  return error.issues.slice(0, 20).map((issue) => {
    const path = issue.path.map(String).join('.');
    return { field: `${prefix}${path}`.replace(/\.$/, '') || 'body', message: issue.message };
  });
}

/** The order id a rejected order claims, when it is a valid id: lets a bulk caller match results. */
function claimedOrderId(candidate: unknown): string | undefined {
  const id = (candidate as { orderId?: unknown } | null)?.orderId;
  return typeof id === 'string' && ORDER_ID_PATTERN.test(id) ? id : undefined;
}

/** Fingerprint of an order's contents, to tell an identical resubmission from a reused id. */
function fingerprint(order: Order): string {
  return createHash('sha256').update(JSON.stringify(order)).digest('base64url').slice(0, 22);
}
