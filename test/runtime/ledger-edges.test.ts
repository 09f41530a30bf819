/**
 * The stage runtime at the ledger's edges, against the emulators (issue 10, items 3 and 4): a stale
 * duplicate of an earlier stage never revives a dead order, and a write that was sent before the
 * deadline is awaited and counted — never turned into a spurious dead letter.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { ORDER_STATUS_LABELS } from '../../lib/domain/status.ts';
import { DynamoDbTable } from '../../lib/ledger/dynamodb-table.ts';
import { OrderLedger } from '../../lib/ledger/ledger.ts';
import { deliveryStage, pickingStage } from '../../lib/orders/stages.ts';
import { reject } from '../../lib/runtime/outcome.ts';
import { SqsQueues } from '../../lib/runtime/ports.ts';
import { createStageHandler, type StageDefinition } from '../../lib/runtime/stage-handler.ts';
import type { StageName } from '../../lib/topology/model.ts';
import { startLocalAws, type LocalAws } from '../support/local-aws.ts';
import {
  context,
  deliveryMessage as deliveryMessageOf,
  enqueue,
  order,
  pickingMessage,
  receive,
} from '../support/orders.ts';
import { startSlowProxy, type SlowProxy } from '../support/slow-proxy.ts';

let aws: LocalAws;
let proxy: SlowProxy;
beforeAll(async () => {
  aws = await startLocalAws({ stages: { delivery: { maxReceiveCount: 1 } } });
  proxy = await startSlowProxy(aws.awsEnvironment.AWS_ENDPOINT_URL_DYNAMODB as string);
});
beforeEach(() => aws.purgeAll());
afterAll(async () => {
  await proxy?.close();
  await aws?.stop();
});

const deliveryMessage = (n: number) => deliveryMessageOf(order(n));

async function run<In, Out>(
  stage: StageName,
  definition: StageDefinition<In, Out>,
  ledger = aws.ledger,
  timeoutSeconds = 30,
) {
  const handler = createStageHandler(definition, {
    config: aws.stageConfig('wh-1', stage),
    queues: new SqsQueues(aws.sqs),
    ledger,
  });
  return handler({ Records: await receive(aws.sqs, aws.stage('wh-1', stage)) }, context(timeoutSeconds));
}

it('keeps an order dead-lettered at delivery when a late duplicate of its picking message is processed', async () => {
  await enqueue(aws.sqs, aws.stage('wh-1', 'delivery').queueUrl, [deliveryMessage(902)]);
  await run('delivery', {
    ...deliveryStage,
    process: (batch) => batch.map(() => reject('carrier refuses the parcel')),
  });
  expect(await aws.ledger.read('order-902')).toMatchObject({
    status: 'dead-lettered',
    reason: 'carrier refuses the parcel',
  });

  await enqueue(aws.sqs, aws.stage('wh-1', 'picking').queueUrl, [pickingMessage(order(902))]);
  await run('picking', pickingStage);

  expect(await aws.ledger.read('order-902')).toMatchObject({
    status: 'dead-lettered',
    stage: 'delivery',
    reason: 'carrier refuses the parcel',
  });
});

it('awaits a delivery record that was sent before the deadline, instead of dead-lettering a delivered order', async () => {
  await enqueue(aws.sqs, aws.stage('wh-1', 'delivery').queueUrl, [deliveryMessage(901)]);
  const client = new DynamoDBClient({
    endpoint: proxy.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 't', secretAccessKey: 't' },
  });
  const slowLedger = new OrderLedger(
    new DynamoDbTable(DynamoDBDocumentClient.from(client), aws.resources.tableName),
    ORDER_STATUS_LABELS,
  );
  // The write applies at once; its answer comes after the work deadline (3 s × 80 %).
  proxy.slow('UpdateItem', 3000);

  const response = await run('delivery', deliveryStage, slowLedger, 3);

  const dead = await aws.drain(aws.stage('wh-1', 'delivery').deadLetterQueueUrl);
  expect(dead.map((m) => m.MessageAttributes?.['conveyor.reason']?.StringValue)).toEqual([]);
  expect(response.batchItemFailures).toEqual([]);
  expect((await aws.ledger.read('order-901'))?.status).toBe('delivered');
  client.destroy();
});
