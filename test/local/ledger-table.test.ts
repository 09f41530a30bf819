/**
 * The local status table gets the listing index as a deploy would add it (lib/local/ledger-table.ts):
 * a data directory from an earlier version is rebuilt with the index, every item kept and the heads
 * already in a listed state indexed; a start that died mid-rebuild is finished (from a complete
 * staging copy) or started over (from the intact original), never losing an order.
 */
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { ORDER_STATUS_LABELS } from '../../lib/domain/status.ts';
import { DynamoDbTable } from '../../lib/ledger/dynamodb-table.ts';
import { LISTING_INDEX, listOrders } from '../../lib/ledger/listing.ts';
import type { Item } from '../../lib/ledger/table.ts';
import { startDynamoEmulator, startSqsEmulator, type RunningEmulator } from '../../lib/local/emulators.ts';
import { hasListingIndex, stagingTableName, statusTableDefinition } from '../../lib/local/ledger-table.ts';
import { describeReconcile, provision, waitForTableActive } from '../../lib/local/provision.ts';
import { loadTopology } from '../../lib/topology/index.ts';

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const TABLE = 'conveyor-orders';
const running: Array<{ stop(): Promise<void> | void }> = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

async function emulators() {
  const [sqsEmulator, dynamoEmulator]: RunningEmulator[] = await Promise.all([
    startSqsEmulator({ region: 'us-east-1' }),
    startDynamoEmulator(),
  ]);
  const sqs = new SQSClient({ endpoint: sqsEmulator!.endpoint, region: 'us-east-1', credentials });
  const dynamodb = new DynamoDBClient({ endpoint: dynamoEmulator!.endpoint, region: 'us-east-1', credentials });
  running.push(sqsEmulator!, dynamoEmulator!, { stop: () => (sqs.destroy(), dynamodb.destroy()) });
  // A queue exists already: this is not a first start.
  await sqs.send(new CreateQueueCommand({ QueueName: 'conveyor-wh-1-picking-dlq' }));
  return { sqs, dynamodb, sqsEndpoint: sqsEmulator!.endpoint };
}

const tableOf = (dynamodb: DynamoDBClient, name: string) =>
  new DynamoDbTable(DynamoDBDocumentClient.from(dynamodb), name);

/** A table as the previous version made it (the key, no index), holding three orders as it wrote them. */
async function previousVersionTable(dynamodb: DynamoDBClient, name: string): Promise<Item[]> {
  await dynamodb.send(new CreateTableCommand(statusTableDefinition(name, { withIndex: false })));
  await waitForTableActive(dynamodb, name);
  const items: Item[] = [
    {
      orderId: 'dead',
      sk: 'order',
      state: 'dead-lettered',
      warehouseId: 'wh-1',
      deadStage: 'picking',
      deadPosition: 1,
      reason: 'scanner offline',
      createdAt: 't0',
      updatedAt: '2026-12-01T10:00:05.000Z',
    },
    {
      orderId: 'dead',
      sk: 'step#intake',
      stage: 'intake',
      position: 0,
      next: 'picking',
      at: '2026-12-01T10:00:00.000Z',
      warehouseId: 'wh-1',
    },
    {
      orderId: 'gone',
      sk: 'order',
      state: 'cancelled',
      warehouseId: 'wh-2',
      closedAt: '2026-12-01T10:00:07.000Z',
      closedBy: 'alice',
      closedStage: 'packing',
      createdAt: 't0',
      updatedAt: '2026-12-01T10:00:07.000Z',
    },
    {
      orderId: 'gone',
      sk: 'step#intake',
      stage: 'intake',
      position: 0,
      next: 'picking',
      at: '2026-12-01T10:00:00.000Z',
      warehouseId: 'wh-2',
    },
    {
      orderId: 'gone',
      sk: 'step#picking',
      stage: 'picking',
      position: 1,
      next: 'packing',
      at: '2026-12-01T10:00:03.000Z',
      warehouseId: 'wh-2',
    },
    { orderId: 'busy', sk: 'order', state: 'open', warehouseId: 'wh-1', createdAt: 't0', updatedAt: 't0' },
    {
      orderId: 'busy',
      sk: 'step#intake',
      stage: 'intake',
      position: 0,
      next: 'picking',
      at: '2026-12-01T10:00:00.000Z',
      warehouseId: 'wh-1',
    },
  ];
  expect(await tableOf(dynamodb, name).putAll(items)).toEqual([]);
  return items;
}

async function everyItem(dynamodb: DynamoDBClient, name: string): Promise<Item[]> {
  const items: Item[] = [];
  for await (const item of tableOf(dynamodb, name).scan()) items.push(item);
  return items.sort((a, b) => `${a.orderId}/${a.sk}`.localeCompare(`${b.orderId}/${b.sk}`));
}

const withoutListing = (items: readonly Item[]) =>
  items.map((i) =>
    Object.fromEntries(
      Object.entries(i).filter(([k]) => k !== LISTING_INDEX.partitionKey && k !== LISTING_INDEX.sortKey),
    ),
  );
const tables = async (dynamodb: DynamoDBClient) => (await dynamodb.send(new ListTablesCommand({}))).TableNames ?? [];

describe('the local status table and its listing index', () => {
  it('a table without the index is rebuilt with it: every item kept, orders already dead-lettered or cancelled indexed, said once', async () => {
    const clients = await emulators();
    const before = await previousVersionTable(clients.dynamodb, TABLE);
    const { report } = await provision(loadTopology({}), clients);
    expect(report.created).toContain(`${TABLE} index ${LISTING_INDEX.name}`);
    expect(describeReconcile(report).applied).toContain(`created ${TABLE} index ${LISTING_INDEX.name}`);
    const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: TABLE }));
    expect(hasListingIndex(Table)).toBe(true);
    const after = await everyItem(clients.dynamodb, TABLE);
    expect(withoutListing(after)).toEqual(
      withoutListing([...before].sort((a, b) => `${a.orderId}/${a.sk}`.localeCompare(`${b.orderId}/${b.sk}`))),
    );
    const listed = await listOrders(tableOf(clients.dynamodb, TABLE), ORDER_STATUS_LABELS, {
      states: ['dead-lettered', 'cancelled', 'purged'],
      limit: 10,
    });
    expect(listed.orders).toEqual([
      {
        orderId: 'gone',
        warehouseId: 'wh-2',
        status: 'cancelled',
        stage: 'packing',
        since: '2026-12-01T10:00:07.000Z',
        by: 'alice',
      },
      {
        orderId: 'dead',
        warehouseId: 'wh-1',
        status: 'dead-lettered',
        stage: 'picking',
        since: '2026-12-01T10:00:05.000Z',
        reason: 'scanner offline',
      },
    ]);
    expect(await tables(clients.dynamodb)).not.toContain(stagingTableName(TABLE));

    const again = await provision(loadTopology({}), clients);
    expect(again.report.created).toEqual([]);
  });

  it('a start that died after the copy was complete finishes the rebuild from the staging copy', async () => {
    const clients = await emulators();
    // The copy is complete and marked; the original was already dropped when the start died.
    const items = await previousVersionTable(clients.dynamodb, stagingTableName(TABLE));
    await tableOf(clients.dynamodb, stagingTableName(TABLE)).put({ orderId: '#rebuild', sk: 'complete' });
    const { report } = await provision(loadTopology({}), clients);
    expect(report.created).toContain(`${TABLE} index ${LISTING_INDEX.name}`);
    expect(withoutListing(await everyItem(clients.dynamodb, TABLE))).toEqual(
      withoutListing([...items].sort((a, b) => `${a.orderId}/${a.sk}`.localeCompare(`${b.orderId}/${b.sk}`))),
    );
    expect(await tables(clients.dynamodb)).toEqual([TABLE]);
  });

  it('a start that died during the copy drops the partial copy and rebuilds from the intact original', async () => {
    const clients = await emulators();
    const items = await previousVersionTable(clients.dynamodb, TABLE);
    const partial = stagingTableName(TABLE);
    await clients.dynamodb.send(new CreateTableCommand(statusTableDefinition(partial, { withIndex: false })));
    await waitForTableActive(clients.dynamodb, partial);
    await tableOf(clients.dynamodb, partial).putAll(items.slice(0, 2));
    await provision(loadTopology({}), clients);
    expect(withoutListing(await everyItem(clients.dynamodb, TABLE))).toHaveLength(items.length);
    expect(await tables(clients.dynamodb)).toEqual([TABLE]);
  });
});
