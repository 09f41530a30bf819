/**
 * The order API behind API Gateway (and, locally, behind the local API server): `POST /orders`
 * (one order, or `{"orders": [...]}` for bulk intake), `GET /orders/{orderId}` and
 * `DELETE /orders/{orderId}` (cancel).
 *
 * A request is read (content type, size, JSON), every order validated — a bad request queues and
 * records nothing — and the valid ones admitted (admission.ts): each id is claimed in the ledger
 * with a conditional write before anything is queued, so one id is accepted once, whatever the
 * timing; an identical resubmission answers `duplicate`, other contents under the same id `409`.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { deliveryRestriction, HOME_COUNTRY } from '../domain/delivery.ts';
import {
  BulkOrderShape,
  MAX_ORDERS_PER_REQUEST,
  ORDER_ID_PATTERN,
  ORDER_ID_RULE,
  OrderRequest,
  type Order,
} from '../domain/order.ts';
import type { OrderLedger } from '../ledger/ledger.ts';
import { sqsClient } from '../aws/clients.ts';
import { readIntakeConfig, sdkTimeoutsOf, type IntakeConfig } from '../runtime/environment.ts';
import { SqsQueues, type Queues } from '../runtime/ports.ts';
import { IntakeMetric, LogMessage } from '../contract/index.ts';
import { createLogger, createMetrics, MetricUnit, tracer, type Logger, type Metrics } from '../runtime/telemetry.ts';
import { admit, type Admitted, type Candidate } from './admission.ts';
import { header, json, problem, type ErrorDetail } from './http.ts';

/** Largest body accepted: 100 orders of 100 items fit with room to spare. */
export const MAX_BODY_BYTES = 1_048_576;
const CORRELATION_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/** Time kept back from the function's timeout to answer (and log) after admission: 20 %, at most 1 s. */
const ANSWER_RESERVE_MS = 1_000;
const ANSWER_RESERVE_SHARE = 0.2;
/** Added to a claim's lease for clock differences between functions. */
const LEASE_MARGIN_MS = 2_000;

export { IntakeMetric } from '../contract/index.ts';

export interface OrderApiOptions {
  readonly ledger: OrderLedger;
  readonly config?: IntakeConfig;
  readonly queues?: Queues;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  readonly now?: () => number;
  /** How the intake waits for another request's claim (tests pass a virtual clock's). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Time budget when invoked without a Lambda context (tests). */
  readonly defaultTimeoutMs?: number;
}

export type OrderApiHandler = (event: APIGatewayProxyEvent, context?: Context) => Promise<APIGatewayProxyResult>;

/** One order's fate in a request: admitted (accepted, duplicate, conflict, unavailable) or rejected as invalid. */
type Result = Admitted | { kind: 'rejected'; index: number; orderId?: string; details: ErrorDetail[] };

/** A readable request: its orders (one, or the bulk list) and how their fields are named. */
interface Submission {
  readonly bulk: boolean;
  readonly candidates: readonly unknown[];
  readonly prefix: (index: number) => string;
  readonly traceId: string;
}

/**
 * Builds the intake Lambda handler (API Gateway REST proxy integration).
 *
 * @example
 * // handlers/intake.ts (through lib/orders/intake.ts, which builds the ledger)
 * export const handler = createOrderApi({ ledger });
 */
export function createOrderApi(options: OrderApiOptions): OrderApiHandler {
  const intake = new Intake(options);
  return (event, context) => intake.handle(event, context);
}

/** The intake's routes, over one ledger, its queues and its telemetry. */
class Intake {
  readonly #options: OrderApiOptions;
  readonly #config: IntakeConfig;
  readonly #queues: Queues;
  readonly #ledger: OrderLedger;
  readonly #logger: Logger;
  readonly #metrics: Metrics;
  readonly #now: () => number;
  readonly #warehouses: string[];

  constructor(options: OrderApiOptions) {
    this.#options = options;
    this.#config = options.config ?? readIntakeConfig();
    this.#queues = options.queues ?? new SqsQueues(sqsClient(sdkTimeoutsOf(), tracer()));
    this.#ledger = options.ledger;
    this.#logger = options.logger ?? createLogger({ function: 'intake' });
    this.#metrics = options.metrics ?? createMetrics({});
    this.#now = options.now ?? Date.now;
    this.#warehouses = [...this.#config.entryQueueUrls.keys()];
  }

  async handle(event: APIGatewayProxyEvent, context?: Context): Promise<APIGatewayProxyResult> {
    const requestId = event.requestContext?.requestId ?? context?.awsRequestId ?? randomUUID();
    if (context) this.#logger.addContext(context);
    try {
      switch (`${event.httpMethod} ${event.resource}`) {
        case 'POST /orders':
          return await this.#submit(
            event,
            requestId,
            context?.getRemainingTimeInMillis() ?? this.#options.defaultTimeoutMs ?? 10_000,
          );
        case 'GET /orders/{orderId}':
          return await this.#get(event);
        case 'DELETE /orders/{orderId}':
          return await this.#cancel(event, requestId);
      }
      return notRouted(event);
    } catch (error) {
      // A dependency (SQS, DynamoDB) failed beyond the SDK's retries: nothing partial is reported as accepted.
      this.#logger.error(LogMessage.requestFailed, { error: (error as Error).message, requestId });
      return problem(
        503,
        'service unavailable',
        [{ field: 'request', message: `try again shortly (request ${requestId})` }],
        { 'retry-after': '1' },
      );
    }
  }

  async #submit(event: APIGatewayProxyEvent, requestId: string, remainingMs: number): Promise<APIGatewayProxyResult> {
    const started = this.#now();
    const submission = readSubmission(event, requestId);
    if ('statusCode' in submission) return submission;
    const { valid, rejected } = validate(submission, this.#config, this.#warehouses);
    const admitted = await admit(valid, {
      ledger: this.#ledger,
      queues: this.#queues,
      entryQueueUrls: this.#config.entryQueueUrls,
      entryStages: this.#config.entryStages,
      requestId,
      traceId: submission.traceId,
      acceptedAt: new Date(started).toISOString(),
      leaseUntil: started + remainingMs + LEASE_MARGIN_MS,
      answerBy: started + remainingMs - Math.min(ANSWER_RESERVE_MS, remainingMs * ANSWER_RESERVE_SHARE),
      now: this.#now,
      ...(this.#options.sleep ? { sleep: this.#options.sleep } : {}),
      warn: (message, fields) => this.#logger.warn(message, { ...fields, requestId }),
    });
    const results: Result[] = [...rejected, ...admitted].sort((a, b) => a.index - b.index);
    this.#report(results, submission.traceId);
    return submission.bulk ? bulkResponse(results) : singleResponse(results[0] as Result);
  }

  #report(results: readonly Result[], traceId: string): void {
    const count = (kind: Result['kind']) => results.filter((r) => r.kind === kind).length;
    this.#metrics.addMetric(IntakeMetric.OrdersAccepted, MetricUnit.Count, count('accepted'));
    this.#metrics.addMetric(IntakeMetric.OrdersDuplicate, MetricUnit.Count, count('duplicate'));
    this.#metrics.addMetric(IntakeMetric.OrdersRejected, MetricUnit.Count, count('rejected') + count('conflict'));
    this.#metrics.publishStoredMetrics();
    const unavailable = results.filter((r) => r.kind === 'unavailable');
    if (unavailable.length > 0)
      this.#logger.error(LogMessage.ordersNotQueued, {
        orderIds: unavailable.map((r) => r.order.orderId),
        reason: unavailable[0]?.reason,
        traceId,
      });
    const accepted = results.flatMap((r) => (r.kind === 'accepted' ? [r.order.orderId] : []));
    this.#logger.info(LogMessage.ordersReceived, {
      accepted: accepted.length,
      duplicates: count('duplicate'),
      rejected: count('rejected') + count('conflict'),
      unavailable: unavailable.length,
      orderIds: accepted,
      traceId,
    });
  }

  /** One cancelled order, and whether it leaves the dead-lettered ones (what it was is the ledger's answer). */
  #reportCancelled(previous: string | undefined): void {
    this.#metrics.addMetric(IntakeMetric.OrdersCancelled, MetricUnit.Count, 1);
    this.#metrics.addMetric(
      IntakeMetric.DeadLetteredOrdersCancelled,
      MetricUnit.Count,
      previous === 'dead-lettered' ? 1 : 0,
    );
    this.#metrics.publishStoredMetrics();
  }

  async #get(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    const orderId = orderIdOf(event);
    if (typeof orderId !== 'string') return orderId;
    const record = await this.#ledger.read(orderId);
    if (!record) return notFound(orderId);
    return json(200, record);
  }

  /**
   * Cancels an order that is not final yet: 200 with its record (and again, idempotently, once it is
   * cancelled); 409 once it was delivered (with its delivery) or purged; 404 when there is none.
   * The cancel and the delivery are conditional writes on one item: exactly one of them wins.
   */
  async #cancel(event: APIGatewayProxyEvent, requestId: string): Promise<APIGatewayProxyResult> {
    const orderId = orderIdOf(event);
    if (typeof orderId !== 'string') return orderId;
    const before = await this.#ledger.read(orderId);
    if (!before) return notFound(orderId);
    // Who: the IAM caller API Gateway authenticated (locally there is none: the request id).
    const by = event.requestContext?.identity?.userArn ?? `request ${requestId}`;
    const at = new Date(this.#now()).toISOString();
    const [result] = await this.#ledger.close([
      { id: orderId, state: 'cancelled', stage: before.stage, by: by.slice(0, 256), at },
    ]);
    if (result?.kind === 'error') throw new Error(result.message);
    const after = (await this.#ledger.read(orderId)) ?? before;
    if (result?.kind === 'applied') this.#reportCancelled(result.previous);
    if (after.status === 'cancelled') {
      if (result?.kind === 'applied') this.#logger.info('order cancelled', { orderId, stage: after.stage, by });
      return json(200, after);
    }
    return json(409, {
      error: `order already ${after.status}`,
      details: [{ field: 'orderId', message: `order ${orderId} is ${after.status} and can no longer be cancelled` }],
      order: after,
    });
  }
}

function orderIdOf(event: APIGatewayProxyEvent): string | APIGatewayProxyResult {
  const orderId = event.pathParameters?.orderId ?? '';
  if (ORDER_ID_PATTERN.test(orderId)) return orderId;
  return problem(400, 'invalid order id', [
    {
      field: 'orderId',
      message: `must be ${ORDER_ID_RULE}`,
    },
  ]);
}

function notFound(orderId: string): APIGatewayProxyResult {
  return problem(404, 'order not found', [{ field: 'orderId', message: `no order ${JSON.stringify(orderId)}` }]);
}

function notRouted(event: APIGatewayProxyEvent): APIGatewayProxyResult {
  const allowed: Record<string, string> = { '/orders': 'POST', '/orders/{orderId}': 'GET, DELETE' };
  const allow = allowed[event.resource];
  if (allow)
    return problem(
      405,
      'method not allowed',
      [{ field: 'method', message: `${event.httpMethod} is not allowed on ${event.resource}; use ${allow}` }],
      { allow },
    );
  return problem(404, 'not found', [{ field: 'path', message: `no route for ${event.httpMethod} ${event.path}` }]);
}

/** The request's orders, or the response that refuses the request as a whole. */
function readSubmission(event: APIGatewayProxyEvent, requestId: string): Submission | APIGatewayProxyResult {
  const contentType = header(event.headers, 'content-type');
  if (!contentType || !/^application\/json\s*(;|$)/i.test(contentType)) {
    return problem(415, 'unsupported media type', [
      {
        field: 'content-type',
        message: `must be application/json, got ${contentType ? JSON.stringify(contentType) : 'none'}`,
      },
    ]);
  }
  const correlation = header(event.headers, 'x-correlation-id');
  if (correlation !== undefined && !CORRELATION_ID_PATTERN.test(correlation)) {
    return problem(400, 'invalid header', [
      { field: 'x-correlation-id', message: 'must be 1–128 letters, digits, ".", "_", ":" or "-"' },
    ]);
  }
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_BODY_BYTES) {
    return problem(413, 'request body too large', [
      {
        field: 'body',
        message: `is ${bytes} bytes; at most ${MAX_BODY_BYTES} are accepted — send at most ${MAX_ORDERS_PER_REQUEST} orders per request`,
      },
    ]);
  }
  if (text.trim() === '')
    return problem(400, 'invalid request body', [{ field: 'body', message: 'is empty; send an order as JSON' }]);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    const message = error instanceof SyntaxError ? error.message : 'is nested too deeply';
    return problem(400, 'invalid request body', [{ field: 'body', message: `is not valid JSON: ${message}` }]);
  }
  const traceId = correlation ?? requestId;
  if (!(typeof body === 'object' && body !== null && !Array.isArray(body) && 'orders' in body))
    return { bulk: false, candidates: [body], prefix: () => '', traceId };
  const envelope = BulkOrderShape.safeParse(body);
  if (!envelope.success) return problem(400, 'invalid request body', zodDetails(envelope.error, ''));
  return { bulk: true, candidates: envelope.data.orders, prefix: (i) => `orders.${i}.`, traceId };
}

/** Every order validated on its own: the valid ones (with an id and a fingerprint), and why the others are not. */
function validate(
  submission: Submission,
  config: IntakeConfig,
  warehouses: readonly string[],
): { valid: Candidate[]; rejected: Result[] } {
  const valid: Candidate[] = [];
  const rejected: Result[] = [];
  const idsInRequest = new Map<string, number>();
  submission.candidates.forEach((candidate, index) => {
    const at = submission.prefix(index);
    const reject = (details: ErrorDetail[], orderId?: string) =>
      rejected.push({ kind: 'rejected', index, details, ...(orderId ? { orderId } : {}) });
    const parsed = OrderRequest.safeParse(candidate);
    if (!parsed.success) return reject(zodDetails(parsed.error, at), claimedOrderId(candidate));
    const request = parsed.data;
    const details: ErrorDetail[] = [];
    if (!config.entryQueueUrls.has(request.warehouseId)) {
      details.push({
        field: `${at}warehouseId`,
        message: `unknown warehouse ${JSON.stringify(request.warehouseId)}; warehouses are ${warehouses.join(', ')}`,
      });
    }
    const restriction = deliveryRestriction(request.shipTo?.country ?? HOME_COUNTRY, request.priority ?? 'standard');
    if (restriction)
      details.push({ field: `${at}${request.shipTo ? 'shipTo.country' : 'priority'}`, message: restriction });
    if (request.orderId !== undefined) {
      const first = idsInRequest.get(request.orderId);
      if (first !== undefined)
        details.push({ field: `${at}orderId`, message: `duplicates orders.${first}.orderId in this request` });
      else idsInRequest.set(request.orderId, index);
    }
    if (details.length > 0) return reject(details, request.orderId);
    const order: Order = {
      ...request,
      orderId: request.orderId ?? randomUUID(),
      priority: request.priority ?? 'standard',
    };
    valid.push({ index, order, fingerprint: fingerprint(order) });
  });
  return { valid, rejected };
}

function singleResponse(result: Result): APIGatewayProxyResult {
  switch (result.kind) {
    case 'accepted':
      return json(202, { orderId: result.order.orderId, warehouseId: result.order.warehouseId, status: 'accepted' });
    case 'duplicate':
      return json(202, {
        orderId: result.order.orderId,
        warehouseId: result.order.warehouseId,
        status: result.status,
        duplicate: true,
      });
    case 'rejected':
      return problem(400, 'invalid order', result.details);
    case 'conflict':
      return problem(409, 'order id already used', conflictDetails(result.order.orderId, ''));
    case 'unavailable':
      return problem(
        503,
        'service unavailable',
        [
          {
            field: 'request',
            message: `the order could not be queued (${result.reason}); nothing was recorded — try again`,
          },
        ],
        { 'retry-after': '1' },
      );
  }
}

function conflictDetails(orderId: string, at: string): ErrorDetail[] {
  return [
    {
      field: `${at}orderId`,
      message: `order ${orderId} was submitted before with different contents; use a new orderId`,
    },
  ];
}

function bulkResponse(results: readonly Result[]): APIGatewayProxyResult {
  const entries = results.map((r) => {
    switch (r.kind) {
      case 'accepted':
        return { index: r.index, orderId: r.order.orderId, warehouseId: r.order.warehouseId, status: 'accepted' };
      case 'duplicate':
        return {
          index: r.index,
          orderId: r.order.orderId,
          warehouseId: r.order.warehouseId,
          status: r.status,
          duplicate: true,
        };
      case 'rejected':
        return {
          index: r.index,
          ...(r.orderId ? { orderId: r.orderId } : {}),
          error: 'invalid order',
          details: r.details,
        };
      case 'conflict':
        return {
          index: r.index,
          orderId: r.order.orderId,
          error: 'order id already used',
          details: conflictDetails(r.order.orderId, `orders.${r.index}.`),
        };
      case 'unavailable':
        return {
          index: r.index,
          orderId: r.order.orderId,
          error: 'service unavailable',
          details: [{ field: `orders.${r.index}`, message: 'could not be queued; nothing was recorded — resubmit it' }],
        };
    }
  });
  const tally = {
    accepted: results.filter((r) => r.kind === 'accepted').length,
    duplicates: results.filter((r) => r.kind === 'duplicate').length,
    rejected: results.filter((r) => r.kind === 'rejected' || r.kind === 'conflict').length,
    unavailable: results.filter((r) => r.kind === 'unavailable').length,
  };
  const body = { ...tally, results: entries };
  if (tally.accepted + tally.duplicates > 0) return json(202, body);
  if (tally.unavailable > 0)
    return json(
      503,
      {
        error: 'service unavailable',
        details: [{ field: 'orders', message: 'no order could be queued; try again' }],
        ...body,
      },
      { 'retry-after': '1' },
    );
  const details = results.flatMap((r) =>
    r.kind === 'rejected'
      ? r.details
      : r.kind === 'conflict'
        ? conflictDetails(r.order.orderId, `orders.${r.index}.`)
        : [],
  );
  if (results.every((r) => r.kind === 'conflict'))
    return json(409, { error: 'order id already used', details, ...body });
  return json(400, { error: 'no order accepted', details, ...body });
}

/** Fields paths as users write them: `items.0.quantity`, with the bulk prefix. */
function zodDetails(
  error: { readonly issues: ReadonlyArray<{ readonly path: readonly PropertyKey[]; readonly message: string }> },
  prefix: string,
): ErrorDetail[] {
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

/**
 * Fingerprint of an order's contents, to tell an identical resubmission from a reused id: every
 * field counts; key order and item order do not (the same items in another order are the same order).
 */
export function fingerprint(order: Order): string {
  const items = [...order.items].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
  return createHash('sha256')
    .update(canonicalJson({ ...order, items }))
    .digest('base64url')
    .slice(0, 22);
}

/** JSON with object keys sorted at every level. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
