/**
 * The local runtime's endpoints about orders, what `conveyor orders list` and `conveyor trace` call
 * (and the dashboard can):
 *
 *   GET /api/orders?status=…             orders by state, through the ledger's listing index — the
 *                                        same table and code `--target aws` uses against DynamoDB
 *   GET /api/orders/{orderId}/trace      the order's history and every kept log line about it, in
 *                                        time order (lib/operations/order-trace.ts)
 *
 * Local clients only (the admin API's guard): they show reasons and log lines.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ORDER_STATUS_LABELS } from '../domain/status.ts';
import { ORDER_ID_PATTERN, ORDER_ID_RULE } from '../domain/order.ts';
import { DynamoDbTable } from '../ledger/dynamodb-table.ts';
import { OrderLedger } from '../ledger/ledger.ts';
import { LISTED_STATES, listOrders, MAX_LISTED, type ListedState, type ListQuery } from '../ledger/listing.ts';
import { buildTrace } from '../operations/order-trace.ts';
import type { Topology } from '../topology/index.ts';
import { guard } from './admin-guard.ts';
import type { ApiRequest, ApiResponse, Route } from './api-server.ts';
import type { OrderLog } from './order-log.ts';

export interface OrderRoutesTarget {
  readonly topology: Topology;
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
  /** The functions' kept order lines. */
  readonly log: OrderLog;
  /** Whether the log is kept in a data directory (and so survives a restart). */
  readonly durable: boolean;
}

/** Orders listed when `limit` is not given. */
const DEFAULT_LIMIT = 100;

/**
 * @example
 * routes.push(...orderRoutes({ topology, dynamodb, tableName: resources.tableName }));
 */
export function orderRoutes(target: OrderRoutesTarget): Route[] {
  const table = new DynamoDbTable(DynamoDBDocumentClient.from(target.dynamodb), target.tableName);
  const ledger = new OrderLedger(table, ORDER_STATUS_LABELS);
  return [
    {
      method: 'GET',
      path: '/api/orders',
      handle: async (request) => {
        const refused = guard(request);
        if (refused) return refused;
        const query = listQueryOf(request, target.topology);
        if ('status' in query) return query;
        return { status: 200, body: await listOrders(table, ORDER_STATUS_LABELS, query) };
      },
    },
    {
      method: 'GET',
      path: '/api/orders/{orderId}/trace',
      handle: async (request) => {
        const refused = guard(request);
        if (refused) return refused;
        const { orderId } = request.params as { orderId: string };
        if (!ORDER_ID_PATTERN.test(orderId))
          return {
            status: 400,
            body: {
              error: 'invalid order id',
              details: [
                {
                  field: 'orderId',
                  message: `must be ${ORDER_ID_RULE}`,
                },
              ],
            },
          };
        const [record, lines] = [await ledger.read(orderId), target.log.linesOf(orderId)];
        if (!record && lines.length === 0)
          return {
            status: 404,
            body: {
              error: 'not found',
              details: [{ field: 'orderId', message: `no order "${orderId}" in the ledger or the log` }],
            },
          };
        const since = target.log.completeSince;
        return {
          status: 200,
          body: buildTrace(orderId, record, lines, {
            source: `the local runtime's log of order lines (${target.durable ? 'kept in the data directory across restarts' : 'in memory, since the runtime started'})`,
            ...(since
              ? {
                  incomplete: `lines written before ${since} may be missing: the oldest were dropped to keep the log within its memory budget`,
                }
              : {}),
          }),
        };
      },
    },
  ];
}

/**
 * The list query in `?status=dead-lettered,cancelled&warehouse=wh-1&since=2026-12-01T09:00:00Z&limit=50`,
 * or a 400 naming the parameter that is wrong.
 */
export function listQueryOf(request: ApiRequest, topology: Topology): ListQuery | ApiResponse {
  const statusText = request.query.get('status') ?? '';
  const states = statusText
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = states.find((s) => !(LISTED_STATES as readonly string[]).includes(s));
  if (states.length === 0 || unknown !== undefined) {
    return problem(
      'status',
      `must be one or more of ${LISTED_STATES.join(', ')} (comma-separated)${unknown !== undefined ? `, got "${unknown}"` : ''} — in-flight and delivered orders are not listed; look one up with GET /orders/{orderId}`,
    );
  }
  const warehouse = request.query.get('warehouse') ?? undefined;
  if (warehouse !== undefined && !topology.pipelines.some((p) => p.id === warehouse)) {
    return problem(
      'warehouse',
      `no warehouse "${warehouse}"; warehouses are ${topology.pipelines.map((p) => p.id).join(', ')}`,
    );
  }
  const since = request.query.get('since') ?? undefined;
  if (since !== undefined && !(/^\d{4}-\d{2}-\d{2}T/.test(since) && Number.isFinite(Date.parse(since)))) {
    return problem('since', `must be an ISO time such as 2026-12-01T09:00:00.000Z, got "${since}"`);
  }
  const limitText = request.query.get('limit') ?? String(DEFAULT_LIMIT);
  const limit = Number(limitText);
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > MAX_LISTED)
    return problem('limit', `must be a whole number from 1 to ${MAX_LISTED}, got "${limitText}"`);
  return {
    states: [...new Set(states)] as ListedState[],
    limit,
    ...(warehouse !== undefined ? { warehouseId: warehouse } : {}),
    ...(since !== undefined ? { since: new Date(since).toISOString() } : {}),
  };
}

function problem(field: string, message: string): ApiResponse {
  return { status: 400, body: { error: 'invalid query', details: [{ field, message }] } };
}
