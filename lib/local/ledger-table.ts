/**
 * The ledger's table on the local DynamoDB emulator, declared as the stack declares it (its key, and
 * the listing index of lib/ledger/listing.ts) — and brought to that declaration when a data
 * directory from an earlier version lacks the index.
 *
 * DynamoDB adds a global secondary index to an existing table in place (CloudFormation does it on
 * deploy, and DynamoDB backfills it); dynalite cannot (its UpdateTable creates no index). So the
 * local table is rebuilt: its items are copied to a staging table, the table is created again with
 * the index, and the items copied back. The staging table holds a completion marker once it has
 * every item; a start that finds a marked staging table (the previous start died mid-way) finishes
 * the rebuild from it, one that finds an unmarked one drops it and starts over from the original —
 * so a `kill -9` at any point loses no order.
 */
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  ResourceNotFoundException,
  waitUntilTableExists,
  waitUntilTableNotExists,
  type CreateTableCommandInput,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbTable } from '../ledger/dynamodb-table.ts';
import { LISTED_STATES, LISTING_INDEX, listingAttributes, type ListedState } from '../ledger/listing.ts';
import { HEAD } from '../ledger/records.ts';
import type { Item } from '../ledger/table.ts';

/** The marker item of a complete staging copy (its key is no order id: ids start with a letter or digit). */
const COPY_COMPLETE = { orderId: '#rebuild', sk: 'complete' } as const;
/** Items written per batch while copying. */
const COPY_BATCH = 500;

const TABLE_KEY = [
  { AttributeName: 'orderId', KeyType: 'HASH' },
  { AttributeName: 'sk', KeyType: 'RANGE' },
] as const;

/**
 * The status table as the local runtime creates it (`withIndex: false`: its key alone, for a staging copy).
 * @example
 * await dynamodb.send(new CreateTableCommand(statusTableDefinition('conveyor-orders')));
 */
export function statusTableDefinition(tableName: string, { withIndex = true } = {}): CreateTableCommandInput {
  const keyOnly: CreateTableCommandInput = {
    TableName: tableName,
    AttributeDefinitions: TABLE_KEY.map(({ AttributeName }) => ({ AttributeName, AttributeType: 'S' })),
    KeySchema: [...TABLE_KEY],
    BillingMode: 'PAY_PER_REQUEST',
  };
  if (!withIndex) return keyOnly;
  return {
    ...keyOnly,
    AttributeDefinitions: [
      ...(keyOnly.AttributeDefinitions ?? []),
      ...[LISTING_INDEX.partitionKey, LISTING_INDEX.sortKey].map((AttributeName) => ({
        AttributeName,
        AttributeType: 'S' as const,
      })),
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: LISTING_INDEX.name,
        KeySchema: [
          { AttributeName: LISTING_INDEX.partitionKey, KeyType: 'HASH' },
          { AttributeName: LISTING_INDEX.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...LISTING_INDEX.projected] },
      },
    ],
  };
}

/** Whether an existing table has the listing index. */
export function hasListingIndex(table: TableDescription | undefined): boolean {
  return (table?.GlobalSecondaryIndexes ?? []).some((index) => index.IndexName === LISTING_INDEX.name);
}

/** The staging table of a rebuild of `tableName`. */
export function stagingTableName(tableName: string): string {
  return `${tableName}-rebuild`;
}

/**
 * Finishes a rebuild a previous start left half-done: from a complete staging copy, or by dropping
 * an incomplete one (the original is intact then). Call before anything else touches the table.
 * @returns true when it finished a rebuild.
 */
export async function resumeRebuild(dynamodb: DynamoDBClient, tableName: string): Promise<boolean> {
  const staging = stagingTableName(tableName);
  if (!(await describe(dynamodb, staging))) return false;
  const [marker] = await tableOf(dynamodb, staging).getAll([COPY_COMPLETE], { consistent: true });
  if (!marker) {
    await drop(dynamodb, staging);
    return false;
  }
  await restoreFromStaging(dynamodb, tableName);
  return true;
}

/**
 * Rebuilds an existing table without the listing index into one with it, keeping every item; heads
 * already in a listed state get their index attributes (what an earlier version did not write).
 */
export async function rebuildWithListingIndex(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  const staging = stagingTableName(tableName);
  await create(dynamodb, statusTableDefinition(staging, { withIndex: false }));
  await copy(dynamodb, tableName, staging, withListing);
  await tableOf(dynamodb, staging).put(COPY_COMPLETE);
  await restoreFromStaging(dynamodb, tableName);
}

/** The table created afresh with the index, the staging copy's items in it, the staging table gone. */
async function restoreFromStaging(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  const staging = stagingTableName(tableName);
  await drop(dynamodb, tableName);
  await create(dynamodb, statusTableDefinition(tableName));
  await copy(dynamodb, staging, tableName, (item) => (item.orderId === COPY_COMPLETE.orderId ? undefined : item));
  await drop(dynamodb, staging);
}

/** A head in a listed state with the index attributes it would have had, written by this version. */
function withListing(item: Item): Item {
  const state = item.state as ListedState;
  if (item.sk !== HEAD || !LISTED_STATES.includes(state) || item[LISTING_INDEX.partitionKey] !== undefined) return item;
  const at = String((state === 'dead-lettered' ? item.updatedAt : (item.closedAt ?? item.updatedAt)) ?? '');
  return at === '' ? item : { ...item, ...listingAttributes(String(item.orderId), state, at) };
}

async function copy(
  dynamodb: DynamoDBClient,
  from: string,
  to: string,
  map: (item: Item) => Item | undefined,
): Promise<void> {
  const target = tableOf(dynamodb, to);
  let batch: Item[] = [];
  const flush = async () => {
    const failed = await target.putAll(batch);
    if (failed.length > 0) throw new Error(`could not copy ${failed.length} items into ${to}`);
    batch = [];
  };
  for await (const item of tableOf(dynamodb, from).scan()) {
    const mapped = map(item);
    if (mapped) batch.push(mapped);
    if (batch.length >= COPY_BATCH) await flush();
  }
  await flush();
}

function tableOf(dynamodb: DynamoDBClient, tableName: string): DynamoDbTable {
  return new DynamoDbTable(DynamoDBDocumentClient.from(dynamodb), tableName);
}

async function describe(dynamodb: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  try {
    return (await dynamodb.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

async function create(dynamodb: DynamoDBClient, definition: CreateTableCommandInput): Promise<void> {
  await dynamodb.send(new CreateTableCommand(definition));
  await waitUntilTableExists(
    { client: dynamodb, maxWaitTime: 10, minDelay: 0.01, maxDelay: 0.1 },
    { TableName: definition.TableName },
  );
}

async function drop(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  if (!(await describe(dynamodb, tableName))) return;
  await dynamodb.send(new DeleteTableCommand({ TableName: tableName }));
  await waitUntilTableNotExists(
    { client: dynamodb, maxWaitTime: 30, minDelay: 0.01, maxDelay: 0.1 },
    { TableName: tableName },
  );
}
