/**
 * Creates the topology's queues, dead-letter queues and status table on the local emulators,
 * with the same attributes the CDK stack gives them.
 */
import { CreateTableCommand, ResourceInUseException, waitUntilTableExists, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, SetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { allStages, deadLetterQueueSettings, queueSettings, type Stage, type Topology } from '../topology/index.ts';

export interface LocalStageResources {
  readonly stage: Stage;
  readonly queueName: string;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly deadLetterQueueUrl: string;
  readonly deadLetterQueueArn: string;
}

export interface LocalResources {
  readonly tableName: string;
  /** By stage key, e.g. `wh-1/picking`. */
  readonly stages: ReadonlyMap<string, LocalStageResources>;
}

/** Local queue name of a stage, e.g. `conveyor-wh-1-picking` (and `…-dlq`). */
export function localQueueName(prefix: string, stage: Stage, deadLetter = false): string {
  return `${prefix}-${stage.pipelineId}-${stage.name}${deadLetter ? '-dlq' : ''}`;
}

/**
 * Waits until a table is ACTIVE (the SDK's own waiter, polling at local speed): CreateTable answers
 * while the table is still CREATING — dynalite too, even with createTableMs 0, as it flips the
 * status on a timer — and writes to a CREATING table fail with ResourceNotFoundException, as on DynamoDB.
 */
export async function waitForTableActive(dynamodb: DynamoDBClient, tableName: string, timeoutSeconds = 10): Promise<void> {
  await waitUntilTableExists({ client: dynamodb, maxWaitTime: timeoutSeconds, minDelay: 0.01, maxDelay: 0.1 }, { TableName: tableName });
}

/**
 * Creates (or updates, when they exist) every queue and the table. Safe to run on every start.
 *
 * @example
 * const resources = await provision(topology, { sqs, dynamodb });
 * resources.stages.get('wh-1/picking')?.queueUrl;
 */
export async function provision(
  topology: Topology,
  clients: { sqs: SQSClient; dynamodb: DynamoDBClient; sqsEndpoint: string },
  prefix = 'conveyor',
): Promise<LocalResources> {
  const tableName = `${prefix}-orders`;
  try {
    await clients.dynamodb.send(
      new CreateTableCommand({
        TableName: tableName,
        // The ledger's item collections: one per order (lib/ledger/records.ts).
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
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  await waitForTableActive(clients.dynamodb, tableName);

  const dlqSettings = deadLetterQueueSettings(topology);
  const stages = new Map<string, LocalStageResources>();
  for (const stage of allStages(topology)) {
    const dlq = await ensureQueue(clients, localQueueName(prefix, stage, true), { MessageRetentionPeriod: String(dlqSettings.messageRetentionSeconds) });
    const settings = queueSettings(topology, stage);
    const queue = await ensureQueue(clients, localQueueName(prefix, stage), {
      VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
      MessageRetentionPeriod: String(settings.messageRetentionSeconds),
      ReceiveMessageWaitTimeSeconds: String(settings.receiveMessageWaitTimeSeconds),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: settings.maxReceiveCount }),
    });
    stages.set(stage.key, {
      stage,
      queueName: localQueueName(prefix, stage),
      queueUrl: queue.url,
      queueArn: queue.arn,
      deadLetterQueueUrl: dlq.url,
      deadLetterQueueArn: dlq.arn,
    });
  }
  return { tableName, stages };
}

async function ensureQueue(
  { sqs, sqsEndpoint }: { sqs: SQSClient; sqsEndpoint: string },
  name: string,
  attributes: Record<string, string>,
): Promise<{ url: string; arn: string }> {
  let created: string;
  try {
    created = (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl as string;
  } catch (error) {
    // The queue exists with other attributes (the topology changed since): bring it up to date.
    if ((error as Error).name !== 'QueueNameExists' && (error as Error).name !== 'QueueAlreadyExists') throw error;
    created = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl as string;
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: created, Attributes: attributes }));
  }
  // fauxqs names queues http://sqs.<region>.localhost:<port>/…, a host that does not resolve, and
  // the SDK sends requests to a queue URL's host. The same path on the emulator's own address
  // finds the same queue.
  const url = new URL(new URL(created).pathname, sqsEndpoint).toString();
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return { url, arn: Attributes?.QueueArn as string };
}
