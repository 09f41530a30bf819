/**
 * Provisioning as a deploy (issue 12, item 1), against the emulators in-process: idempotent,
 * attribute changes in place, leftovers reported (pruned only when empty), and a difference that
 * cannot be applied in place refused with the resource, what differs and what to do.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { startDynamoEmulator, startSqsEmulator, type RunningEmulator } from '../../lib/local/emulators.ts';
import { describeReconcile, provision, ProvisionError } from '../../lib/local/provision.ts';
import { loadTopology, queueSettings } from '../../lib/topology/index.ts';

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
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
  return { sqs, dynamodb, sqsEndpoint: sqsEmulator!.endpoint };
}

describe('provision', () => {
  it('creates everything once; a second run with the same topology changes nothing', async () => {
    const clients = await emulators();
    const topology = loadTopology({});
    const first = await provision(topology, clients);
    expect(first.report.fresh).toBe(true);
    expect(first.report.created).toHaveLength(1 + 2 * first.stages.size);
    expect(describeReconcile(first.report)).toEqual({ applied: [], attention: [] });
    const again = await provision(topology, clients);
    expect(again.report).toEqual({ fresh: false, created: [], updated: [], leftover: [] });
    expect([...again.stages.values()].map((s) => s.queueUrl)).toEqual(
      [...first.stages.values()].map((s) => s.queueUrl),
    );
  });

  it('updates what differs in place, keeping the messages, and says what changed', async () => {
    const clients = await emulators();
    const before = await provision(loadTopology({}), clients);
    const picking = before.stages.get('wh-1/picking')!;
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: picking.queueUrl, MessageBody: '{"kept":true}' }));

    const changed = loadTopology({ stages: { picking: { maxReceiveCount: 4, timeoutSeconds: 20 } } });
    const after = await provision(changed, clients);
    const want = queueSettings(changed, changed.pipelines[0]!.stages[0]!);
    const { Attributes = {} } = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: picking.queueUrl, AttributeNames: ['All'] }),
    );
    expect(Number(Attributes.VisibilityTimeout)).toBe(want.visibilityTimeoutSeconds);
    expect(JSON.parse(Attributes.RedrivePolicy!)).toEqual({
      deadLetterTargetArn: picking.deadLetterQueueArn,
      maxReceiveCount: want.maxReceiveCount,
    });
    expect(Number(Attributes.ApproximateNumberOfMessages)).toBe(1);
    // Picking in both warehouses: visibility and redrive policy, nothing else.
    expect(after.report.updated.map((c) => `${c.queue} ${c.attribute}`).sort()).toEqual(
      ['wh-1', 'wh-2']
        .flatMap((w) => [`conveyor-${w}-picking RedrivePolicy`, `conveyor-${w}-picking VisibilityTimeout`])
        .sort(),
    );
    expect(describeReconcile(after.report).applied).toContainEqual(
      expect.stringContaining(
        `VisibilityTimeout ${before.stages.get('wh-1/picking')!.stage.visibilityTimeoutSeconds} → ${want.visibilityTimeoutSeconds}`,
      ),
    );
  });

  it('reports the queues of a stage no longer in the topology; --prune removes only the empty ones', async () => {
    const clients = await emulators();
    const three = await provision(loadTopology({ warehouses: ['wh-1', 'wh-2', 'wh-3'] }), clients);
    await clients.sqs.send(
      new SendMessageCommand({ QueueUrl: three.stages.get('wh-3/packing')!.queueUrl, MessageBody: '{}' }),
    );

    const kept = await provision(loadTopology({}), clients);
    expect(kept.report.leftover).toEqual([
      {
        stage: 'wh-3/delivery',
        queues: ['conveyor-wh-3-delivery', 'conveyor-wh-3-delivery-dlq'],
        messages: 0,
        deadLetters: 0,
        removed: false,
      },
      {
        stage: 'wh-3/packing',
        queues: ['conveyor-wh-3-packing', 'conveyor-wh-3-packing-dlq'],
        messages: 1,
        deadLetters: 0,
        removed: false,
      },
      {
        stage: 'wh-3/picking',
        queues: ['conveyor-wh-3-picking', 'conveyor-wh-3-picking-dlq'],
        messages: 0,
        deadLetters: 0,
        removed: false,
      },
    ]);
    expect(describeReconcile(kept.report).attention).toHaveLength(3);

    const pruned = await provision(loadTopology({}), clients, { prune: true });
    expect(pruned.report.leftover.map((l) => [l.stage, l.removed])).toEqual([
      ['wh-3/delivery', true],
      ['wh-3/packing', false],
      ['wh-3/picking', true],
    ]);
    const { QueueUrls = [] } = await clients.sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'conveyor-wh-3' }));
    expect(QueueUrls.map((u) => u.split('/').pop()).sort()).toEqual([
      'conveyor-wh-3-packing',
      'conveyor-wh-3-packing-dlq',
    ]);
  });

  it('refuses a status table whose key cannot change in place, naming it, the difference and the way out', async () => {
    const clients = await emulators();
    await clients.dynamodb.send(
      new CreateTableCommand({
        TableName: 'conveyor-orders',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const failure = await provision(loadTopology({}), clients).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ProvisionError);
    expect((failure as Error).message).toMatch(
      /conveyor-orders.*id \(HASH\).*orderId \(HASH\).*CONVEYOR_DATA_DIR.*--reset/,
    );
  });

  it('brings a queue made by hand (no redrive policy, other defaults) to the topology', async () => {
    const clients = await emulators();
    await clients.sqs.send(
      new CreateQueueCommand({ QueueName: 'conveyor-wh-1-picking', Attributes: { DelaySeconds: '5' } }),
    );
    const { stages, report } = await provision(loadTopology({}), clients);
    const { Attributes = {} } = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: stages.get('wh-1/picking')!.queueUrl, AttributeNames: ['All'] }),
    );
    expect(Attributes.DelaySeconds).toBe('0');
    expect(JSON.parse(Attributes.RedrivePolicy!).deadLetterTargetArn).toBe(
      stages.get('wh-1/picking')!.deadLetterQueueArn,
    );
    expect(
      report.updated
        .filter((c) => c.queue === 'conveyor-wh-1-picking')
        .map((c) => c.attribute)
        .sort(),
    ).toEqual(['DelaySeconds', 'RedrivePolicy', 'ReceiveMessageWaitTimeSeconds', 'VisibilityTimeout'].sort());
  });
});
