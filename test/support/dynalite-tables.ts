/**
 * Ledger tables on dynalite for integration tests: one emulator per test file (started before its
 * tests, stopped after), and a fresh table per call, created exactly as the local runtime creates the
 * status table (its key and indexes), read and written through the document client as the handlers do.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { DynamoDbTable } from '../../lib/ledger/dynamodb-table.ts';
import type { Table } from '../../lib/ledger/table.ts';
import { startDynamoEmulator, type RunningEmulator } from '../../lib/local/emulators.ts';
import { statusTableDefinition } from '../../lib/local/ledger-table.ts';
import { waitForTableActive } from '../../lib/local/provision.ts';

/** Registers the emulator's start and stop with the calling file; returns a maker of fresh tables named `<prefix>-<n>`. */
export function dynaliteTables(prefix: string): () => Promise<Table> {
  let dynamo: RunningEmulator;
  let client: DynamoDBClient;
  let tables = 0;
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
  return async () => {
    const name = `${prefix}-${tables++}`;
    await client.send(new CreateTableCommand(statusTableDefinition(name)));
    await waitForTableActive(client, name);
    return new DynamoDbTable(
      DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
      name,
    );
  };
}
