/**
 * One contract, two tables: the in-memory table the unit and model-based tests use must behave as
 * the DynamoDB table does (here on dynalite) for every operation and condition the ledger relies on.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynamoEmulator, type RunningEmulator } from '../../lib/local/emulators.ts';
import { DynamoDbTable } from '../../lib/ledger/dynamodb-table.ts';
import { absent, allOf, anyOf, atMost, equals, isOneOf, lacks, type Table } from '../../lib/ledger/table.ts';
import { waitForTableActive } from '../../lib/local/provision.ts';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { MemoryTable } from '../support/memory-table.ts';

let dynamo: RunningEmulator;
let client: DynamoDBClient;
beforeAll(async () => {
  dynamo = await startDynamoEmulator();
  client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 't', secretAccessKey: 't' } });
});
afterAll(async () => {
  client?.destroy();
  await dynamo?.stop();
});

let tables = 0;
async function dynamoTable(): Promise<Table> {
  const name = `contract-${tables++}`;
  await client.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [
        { AttributeName: 'orderId', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'orderId', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await waitForTableActive(client, name);
  return new DynamoDbTable(DynamoDBDocumentClient.from(client), name);
}

describe.each([
  ['in memory', async (): Promise<Table> => new MemoryTable()],
  ['on DynamoDB (dynalite)', dynamoTable],
])('the ledger table %s', (_name, makeTable) => {
  const key = { orderId: 'o-1', sk: 'order' };

  it('puts an item only where none exists, when asked, and returns what it replaced', async () => {
    const table = await makeTable();
    expect(await table.put({ ...key, state: 'open' }, absent())).toEqual({ applied: true });
    expect(await table.put({ ...key, state: 'other' }, absent())).toEqual({ applied: false });
    expect(await table.put({ ...key, state: 'next' })).toEqual({ applied: true, old: { ...key, state: 'open' } });
  });

  it('updates with set, set-if-missing, append and remove, creating the item when absent', async () => {
    const table = await makeTable();
    expect(await table.update(key, { set: { a: 1 }, setIfMissing: { created: 'x' }, append: { list: [{ n: 1 }] } })).toEqual({ applied: true });
    const second = await table.update(key, { set: { a: 2 }, setIfMissing: { created: 'y' }, append: { list: [{ n: 2 }] }, remove: ['gone'] });
    expect(second).toEqual({ applied: true, old: { ...key, a: 1, created: 'x', list: [{ n: 1 }] } });
    await table.update(key, { remove: ['a'] });
    expect(await table.getAll([key], { consistent: true })).toEqual([{ ...key, created: 'x', list: [{ n: 1 }, { n: 2 }] }]);
  });

  it('evaluates equals, in, at-most, and, or — and absent items fail every attribute condition', async () => {
    const table = await makeTable();
    const other = { orderId: 'o-2', sk: 'order' };
    expect((await table.update(other, { set: { x: 1 } }, equals('state', 'open'))).applied).toBe(false);
    expect((await table.update(other, { set: { x: 1 } }, isOneOf('state', ['open']))).applied).toBe(false);
    expect((await table.update(other, { set: { x: 1 } }, atMost('position', 5))).applied).toBe(false);
    await table.put({ ...key, state: 'dead', position: 2 });
    expect((await table.update(key, { set: { x: 1 } }, equals('state', 'open'))).applied).toBe(false);
    expect((await table.update(key, { set: { x: 1 } }, isOneOf('state', ['open', 'dead']))).applied).toBe(true);
    expect((await table.update(key, { set: { x: 2 } }, atMost('position', 1))).applied).toBe(false);
    expect((await table.update(key, { set: { x: 3 } }, atMost('position', 2))).applied).toBe(true);
    expect((await table.update(key, { set: { x: 4 } }, allOf(equals('state', 'dead'), atMost('position', 1)))).applied).toBe(false);
    expect((await table.update(key, { set: { x: 5 } }, anyOf(absent(), allOf(equals('state', 'dead'), atMost('position', 3))))).applied).toBe(true);
    expect((await table.update(other, { set: { x: 6 } }, anyOf(absent(), equals('state', 'open')))).applied).toBe(true);
    expect((await table.getAll([key], { consistent: true }))[0]?.x).toBe(5);
  });

  it('adds to string sets, and tests that a set lacks a value (true for a missing set or item)', async () => {
    const table = await makeTable();
    expect((await table.update(key, { addToSet: { ids: ['m-1'] } }, lacks('ids', 'm-1'))).applied).toBe(true);
    expect((await table.update(key, { addToSet: { ids: ['m-1'] } }, lacks('ids', 'm-1'))).applied).toBe(false);
    expect((await table.update(key, { addToSet: { ids: ['m-2'] } }, lacks('ids', 'm-2'))).applied).toBe(true);
    const [item] = await table.getAll([key], { consistent: true });
    expect([...(item?.ids as Set<string>)].sort()).toEqual(['m-1', 'm-2']);
  });

  it('deletes conditionally', async () => {
    const table = await makeTable();
    await table.put({ ...key, owner: 'a' });
    expect((await table.delete(key, equals('owner', 'b'))).applied).toBe(false);
    expect(await table.delete(key, equals('owner', 'a'))).toEqual({ applied: true, old: { ...key, owner: 'a' } });
    expect(await table.getAll([key], { consistent: true })).toEqual([]);
  });

  it('writes and reads in batches beyond one request, and lists a collection and the table', async () => {
    const table = await makeTable();
    const items = Array.from({ length: 60 }, (_, i) => ({ orderId: `b-${i % 7}`, sk: `step#${i}`, i }));
    expect(await table.putAll(items)).toEqual([]);
    const keys = items.map(({ orderId, sk }) => ({ orderId, sk }));
    const found = await table.getAll([...keys, ...keys.map((k) => ({ ...k, orderId: `${k.orderId}-missing` }))], { consistent: true });
    expect(found.map((f) => f.i).sort((a, b) => (a as number) - (b as number))).toEqual(items.map((i) => i.i));
    const collection = await table.collection('b-3', { consistent: true });
    expect(collection.map((c) => c.i).sort((a, b) => (a as number) - (b as number))).toEqual(items.filter((i) => i.orderId === 'b-3').map((i) => i.i));
    const all: unknown[] = [];
    for await (const item of table.scan()) all.push(item);
    expect(all).toHaveLength(60);
  });
});
