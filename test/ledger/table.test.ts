/** The table contract (table-contract.ts) on DynamoDB, as dynalite serves it. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe } from 'vitest';
import { startDynamoEmulator, type RunningEmulator } from '../../lib/local/emulators.ts';
import { DynamoDbTable } from '../../lib/ledger/dynamodb-table.ts';
import type { Table } from '../../lib/ledger/table.ts';
import { statusTableDefinition } from '../../lib/local/ledger-table.ts';
import { waitForTableActive } from '../../lib/local/provision.ts';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { tableContract } from './table-contract.ts';

let dynamo: RunningEmulator;
let client: DynamoDBClient;
beforeAll(async () => {
  dynamo = await startDynamoEmulator();
  client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 't', secretAccessKey: 't' },
  });
});
afterAll(async () => {
  client?.destroy();
  await dynamo?.stop();
});

let tables = 0;
async function dynamoTable(): Promise<Table> {
  const name = `contract-${tables++}`;
  // The table exactly as the local runtime creates it: the ledger's key and its indexes.
  await client.send(new CreateTableCommand(statusTableDefinition(name)));
  await waitForTableActive(client, name);
  return new DynamoDbTable(DynamoDBDocumentClient.from(client), name);
}

describe('the ledger table on DynamoDB (dynalite)', () => tableContract(dynamoTable));
