/**
 * `conveyor orders list` and `conveyor trace` with `--target aws`, against mocked AWS APIs
 * (aws-sdk-client-mock): the listing index queried shard by shard on the table the stack's outputs
 * name, each order found read consistently; the trace's Logs Insights query over the log groups the
 * manifest names, polled until Complete (with a spinner on a terminal), its rows checked against the
 * order id and merged with the order's history — and a query that fails or runs too long reported in
 * one line (and stopped).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CloudWatchLogsClient,
  GetQueryResultsCommand,
  StartQueryCommand,
  StopQueryCommand,
  type ResultField,
} from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LogField, LogMessage, StackOutput } from '../../lib/contract/index.ts';
import { orderQueryString } from '../../lib/cli/log-insights.ts';
import { LISTING_INDEX, LISTING_SHARDS, listingAttributes } from '../../lib/ledger/listing.ts';
import type { OrderTrace } from '../../lib/operations/order-trace.ts';
import { FUNCTION_LOG_GROUPS, lines, runInProcess, stackOutputs, stageResources, topologyManifest } from './support.ts';

const cfn = mockClient(CloudFormationClient);
const ddb = mockClient(DynamoDBDocumentClient);
const logs = mockClient(CloudWatchLogsClient);
const AWS = ['--target', 'aws', '--region', 'us-east-1'];
const NOW = Date.parse('2026-12-01T12:00:00.000Z');
const iso = (offsetSeconds: number) => new Date(NOW + offsetSeconds * 1000).toISOString();

let server: Server;
let apiUrl: string;
let order: unknown;
beforeAll(async () => {
  server = createServer((request, response) => {
    const found = order !== undefined && request.url?.endsWith('/orders/o-1');
    response
      .writeHead(found ? 200 : 404, { 'content-type': 'application/json' })
      .end(JSON.stringify(found ? order : { error: 'not found' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod/`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  for (const mock of [cfn, ddb, logs]) mock.restore();
});
beforeEach(() => {
  for (const mock of [cfn, ddb, logs]) mock.reset();
  order = undefined;
  cfn.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'Conveyor',
        StackStatus: 'UPDATE_COMPLETE',
        CreationTime: new Date(),
        Outputs: stackOutputs(apiUrl),
      },
    ],
  });
});

const tableName = () => stackOutputs(apiUrl).find((o) => o.OutputKey === StackOutput.statusTable)!.OutputValue!;
/** The run's clock: `sleep` moves it, so waits cost no time. */
function clock() {
  let now = NOW;
  return { now: () => now, sleep: async (ms: number) => void (now += ms) };
}

describe('conveyor orders list --target aws', () => {
  it('queries every shard of each state on the listing index (newest first, since, warehouse), then reads each order found consistently', async () => {
    const heads = {
      'd-1': {
        orderId: 'd-1',
        sk: 'order',
        state: 'dead-lettered',
        warehouseId: 'wh-1',
        deadStage: 'picking',
        deadPosition: 1,
        reason: 'scanner offline',
        createdAt: iso(-600),
        updatedAt: iso(-60),
      },
      'c-1': {
        orderId: 'c-1',
        sk: 'order',
        state: 'cancelled',
        warehouseId: 'wh-1',
        closedAt: iso(-30),
        closedBy: 'alice',
        closedStage: 'packing',
        createdAt: iso(-900),
        updatedAt: iso(-30),
      },
    };
    const steps = Object.keys(heads).map((id) => ({
      orderId: id,
      sk: 'step#intake',
      stage: 'intake',
      position: 0,
      next: 'picking',
      at: iso(-900),
      warehouseId: 'wh-1',
    }));
    const index = new Map<string, Record<string, unknown>[]>();
    for (const [id, state, at] of [
      ['d-1', 'dead-lettered', iso(-60)],
      ['c-1', 'cancelled', iso(-30)],
    ] as const) {
      const attributes = listingAttributes(id, state, at);
      index.set(attributes[LISTING_INDEX.partitionKey]!, [
        { orderId: id, sk: 'order', warehouseId: 'wh-1', ...attributes },
      ]);
    }
    ddb.on(QueryCommand).callsFake((input: QueryCommandInput) => {
      const values = input.ExpressionAttributeValues ?? {};
      if (input.IndexName) {
        const name = Object.entries(input.ExpressionAttributeNames ?? {}).find(
          ([, attribute]) => attribute === LISTING_INDEX.partitionKey,
        )![0];
        const placeholder = new RegExp(`${name} = (:v\\d+)`).exec(input.KeyConditionExpression ?? '')![1]!;
        return { Items: index.get(values[placeholder] as string) ?? [] };
      }
      const id = values[':pk'] as keyof typeof heads;
      return { Items: [heads[id], ...steps.filter((s) => s.orderId === id)] };
    });

    const run = await runInProcess(
      [
        ...AWS,
        'orders',
        'list',
        '--status',
        'dead-lettered,cancelled',
        '--warehouse',
        'wh-1',
        '--since',
        '1h',
        '--limit',
        '5',
        '--json',
      ],
      clock(),
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);

    const queries = ddb.commandCalls(QueryCommand).map((c) => c.args[0].input as QueryCommandInput);
    const onIndex = queries.filter((q) => q.IndexName !== undefined);
    expect(onIndex).toHaveLength(2 * LISTING_SHARDS);
    const since = new Date(NOW - 3_600_000).toISOString(); // --since 1h
    const partitions: unknown[] = [];
    for (const q of onIndex) {
      expect(q).toMatchObject({
        TableName: tableName(),
        IndexName: LISTING_INDEX.name,
        ScanIndexForward: false,
        Limit: 5,
      });
      const names = q.ExpressionAttributeNames ?? {};
      const values = q.ExpressionAttributeValues ?? {};
      const [, partitionKey, partition, sortKey, from] =
        /^(#\w+) = (:\w+) AND (#\w+) >= (:\w+)$/.exec(q.KeyConditionExpression ?? '') ?? [];
      expect([names[partitionKey!], names[sortKey!], values[from!]]).toEqual([
        LISTING_INDEX.partitionKey,
        LISTING_INDEX.sortKey,
        since,
      ]);
      const [, warehouseName, warehouse] = /^(#\w+) = (:\w+)$/.exec(q.FilterExpression ?? '') ?? [];
      expect([names[warehouseName!], values[warehouse!]]).toEqual(['warehouseId', 'wh-1']);
      partitions.push(values[partition!]);
    }
    expect(partitions.sort()).toEqual(
      ['cancelled', 'dead-lettered']
        .flatMap((s) => Array.from({ length: LISTING_SHARDS }, (_, i) => `${s}#${i}`))
        .sort(),
    );
    const reads = queries.filter((q) => q.IndexName === undefined);
    expect(
      reads.map((q) => ({
        table: q.TableName,
        id: q.ExpressionAttributeValues?.[':pk'],
        consistent: q.ConsistentRead,
      })),
    ).toEqual([
      { table: tableName(), id: 'c-1', consistent: true },
      { table: tableName(), id: 'd-1', consistent: true },
    ]);
    expect(JSON.parse(run.stdout)).toEqual({
      orders: [
        { orderId: 'c-1', warehouseId: 'wh-1', status: 'cancelled', stage: 'packing', since: iso(-30), by: 'alice' },
        {
          orderId: 'd-1',
          warehouseId: 'wh-1',
          status: 'dead-lettered',
          stage: 'picking',
          since: iso(-60),
          reason: 'scanner offline',
        },
      ],
      truncated: false,
      skipped: 0,
    });
  });

  it('refuses a state the index does not hold, and an unknown warehouse, in one line each', async () => {
    const delivered = await runInProcess([...AWS, 'orders', 'list', '--status', 'delivered']);
    expect(delivered.code).toBe(2);
    expect(lines(delivered.stderr)).toEqual([
      expect.stringMatching(
        /--status must be dead-lettered, cancelled, purged .*got "delivered".*conveyor orders get ID/,
      ),
    ]);
    const warehouse = await runInProcess([...AWS, 'orders', 'list', '--status', 'purged', '--warehouse', 'wh-9']);
    expect(warehouse.code).toBe(2);
    expect(lines(warehouse.stderr)).toEqual([expect.stringContaining('unknown warehouse "wh-9"')]);
    expect(ddb.calls()).toHaveLength(0);
  });
});

describe('conveyor trace --target aws', () => {
  const history = [
    { at: iso(-100), status: 'accepted', by: 'intake' },
    { at: iso(-98), status: 'packing', by: 'picking', detail: { wave: 'w-1' } },
    { at: iso(-90), status: 'delivering', by: 'packing', detail: { boxes: 1 } },
    { at: iso(-89), status: 'delivered', by: 'delivery', detail: { carrier: 'paketfix' } },
  ];
  const delivered = {
    orderId: 'o-1',
    warehouseId: 'wh-1',
    status: 'delivered',
    stage: 'delivery',
    createdAt: iso(-100),
    updatedAt: iso(-89),
    history,
    delivery: { carrier: 'paketfix' },
  };
  /** A Logs Insights result row of a JSON line in a log group. */
  const row = (group: string, fields: Record<string, unknown> | string): ResultField[] => [
    { field: '@timestamp', value: '2026-12-01 11:58:21.000' },
    { field: '@log', value: `123456789012:${group}` },
    { field: '@message', value: typeof fields === 'string' ? fields : JSON.stringify(fields) },
  ];
  const packingLogs = stageResources('wh-1', 'packing').LogGroup;
  const rows = [
    row(FUNCTION_LOG_GROUPS.intake, {
      level: 'INFO',
      message: LogMessage.ordersReceived,
      timestamp: iso(-100),
      function: 'intake',
      [LogField.orderIds]: ['o-1', 'o-2'],
    }),
    row(packingLogs, {
      level: 'WARN',
      message: LogMessage.recordRetried,
      timestamp: iso(-95),
      pipeline: 'wh-1',
      stage: 'packing',
      [LogField.orderId]: 'o-1',
      receiveCount: 1,
      retryInSeconds: 2,
      reason: 'carton machine jammed',
    }),
    // What the filter also lets through, and the CLI must not show: another order, and a line that is not JSON.
    row(packingLogs, {
      level: 'WARN',
      message: LogMessage.recordRetried,
      timestamp: iso(-94),
      pipeline: 'wh-1',
      stage: 'packing',
      [LogField.orderId]: 'o-10',
      receiveCount: 1,
    }),
    row(packingLogs, 'REPORT RequestId: 1 Duration: 3 ms o-1'),
  ];

  it('StartQuery over the warehouse’s stages, the intake and the auditor within the order’s life; polls until Complete; merges the lines with the history', async () => {
    order = delivered;
    logs.on(StartQueryCommand).resolves({ queryId: 'q-1' });
    logs
      .on(GetQueryResultsCommand)
      .resolvesOnce({ status: 'Scheduled' })
      .resolvesOnce({ status: 'Running', statistics: { recordsScanned: 1204, recordsMatched: 2, bytesScanned: 9000 } })
      .resolves({
        status: 'Complete',
        results: rows,
        statistics: { recordsScanned: 2400, recordsMatched: 4, bytesScanned: 18000 },
      });
    let stderr = '';
    const run = await runInProcess([...AWS, 'trace', 'o-1'], {
      ...clock(),
      stderr: { write: (text: string) => (stderr += text), isTTY: true, columns: 120 },
    });
    expect(run.code).toBe(0);

    const [start] = logs.commandCalls(StartQueryCommand).map((c) => c.args[0].input);
    const manifest = topologyManifest();
    const wh1 = manifest.pipelines.find((p) => p.id === 'wh-1')!.stages.map((s) => s.logGroup);
    expect(start?.logGroupNames).toEqual([...wh1, manifest.logGroups!.intake, manifest.logGroups!.deadLetterAuditor]);
    expect(start?.queryString).toBe(orderQueryString('o-1'));
    expect(start?.startTime).toBeLessThanOrEqual(Date.parse(delivered.createdAt) / 1000);
    expect(start?.endTime).toBeGreaterThanOrEqual(Date.parse(delivered.updatedAt) / 1000);
    expect(start?.endTime).toBeLessThanOrEqual(NOW / 1000);
    expect(logs.commandCalls(GetQueryResultsCommand).map((c) => c.args[0].input)).toEqual([
      { queryId: 'q-1' },
      { queryId: 'q-1' },
      { queryId: 'q-1' },
    ]);
    expect(logs.commandCalls(StopQueryCommand)).toHaveLength(0);
    expect(stderr).toContain('querying CloudWatch Logs Insights (Running) — 1,204 records scanned, 2 matched');

    const out = run.stdout;
    expect(out).toContain('order o-1 · wh-1 · delivered · stage delivery');
    expect(out).toMatch(/intake\s+orders received\s+2 orders in the request/);
    expect(out).toMatch(
      /packing\s+record failed; will retry\s+receive 1 · retry in 2 s · reason: carton machine jammed/,
    );
    expect(out).not.toContain('REPORT');
  });

  it('--json: the trace, entries oldest first, only the lines that name the order', async () => {
    order = delivered;
    logs.on(StartQueryCommand).resolves({ queryId: 'q-2' });
    logs.on(GetQueryResultsCommand).resolves({ status: 'Complete', results: rows });
    const run = await runInProcess([...AWS, 'trace', 'o-1', '--json'], clock());
    expect(run.stderr).toBe('');
    const trace = JSON.parse(run.stdout) as OrderTrace;
    expect(
      trace.entries.map(
        (e) => `${e.type}:${e.type === 'history' ? `${e.by}:${e.status}` : `${e.source}:${e.message}`}`,
      ),
    ).toEqual([
      'history:intake:accepted',
      `log:intake:${LogMessage.ordersReceived}`,
      'history:picking:packing',
      `log:packing:${LogMessage.recordRetried}`,
      'history:packing:delivering',
      'history:delivery:delivered',
    ]);
    expect(trace.entries.find((e) => e.type === 'log' && e.source === 'packing')).toMatchObject({
      receiveCount: 1,
      reason: 'carton machine jammed',
      pipeline: 'wh-1',
    });
    expect(trace.record).toMatchObject({ orderId: 'o-1', status: 'delivered' });
    expect(trace.logs.incomplete).toBeUndefined();
  });

  it('a query that does not finish in time is stopped and reported in one line', async () => {
    order = delivered;
    logs.on(StartQueryCommand).resolves({ queryId: 'q-3' });
    logs.on(GetQueryResultsCommand).resolves({ status: 'Running', statistics: { recordsScanned: 5e6 } });
    logs.on(StopQueryCommand).resolves({ success: true });
    const run = await runInProcess([...AWS, 'trace', 'o-1'], clock());
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([
      expect.stringMatching(
        /^conveyor: the Logs Insights query did not finish within \d+ s \(Running, 5,000,000 records scanned; stopped\) — try a shorter time range with --since$/,
      ),
    ]);
    expect(logs.commandCalls(StopQueryCommand).map((c) => c.args[0].input)).toEqual([{ queryId: 'q-3' }]);
  });

  it('a failed query, an order nobody knows, and a stack deployed before its manifest named log groups: one line each', async () => {
    order = delivered;
    logs.on(StartQueryCommand).resolves({ queryId: 'q-4' });
    logs.on(GetQueryResultsCommand).resolves({ status: 'Failed' });
    const failed = await runInProcess([...AWS, 'trace', 'o-1'], clock());
    expect(failed.code).toBe(1);
    expect(lines(failed.stderr)).toEqual([expect.stringContaining('the Logs Insights query q-4 ended Failed')]);

    order = undefined;
    logs.on(GetQueryResultsCommand).resolves({ status: 'Complete', results: [] });
    const unknown = await runInProcess([...AWS, 'trace', 'o-1'], clock());
    expect(unknown.code).toBe(1);
    expect(lines(unknown.stderr)).toEqual([expect.stringContaining('no order "o-1"')]);

    const { logGroups: _groups, ...older } = topologyManifest();
    const oldManifest = {
      ...older,
      pipelines: older.pipelines.map((p) => ({ ...p, stages: p.stages.map(({ logGroup: _l, ...s }) => s) })),
    };
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'Conveyor',
          StackStatus: 'UPDATE_COMPLETE',
          CreationTime: new Date(),
          Outputs: stackOutputs(apiUrl).map((o) =>
            o.OutputKey === StackOutput.topology ? { ...o, OutputValue: JSON.stringify(oldManifest) } : o,
          ),
        },
      ],
    });
    const old = await runInProcess([...AWS, 'trace', 'o-1'], clock());
    expect(old.code).toBe(1);
    expect(lines(old.stderr)).toEqual([expect.stringMatching(/does not publish its log groups .* redeploy it/)]);
  });
});
