/**
 * Test harness: embedded SQS and DynamoDB emulators with the topology's queues and table, and
 * handler configurations built through the same environment contract the deployers use.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PurgeQueueCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { startDynamoEmulator, startSqsEmulator } from '../../lib/local/emulators.ts';
import { provision, type LocalResources, type LocalStageResources } from '../../lib/local/provision.ts';
import {
  intakeEnvironment,
  readIntakeConfig,
  readStageConfig,
  stageEnvironment,
  type IntakeConfig,
  type StageConfig,
} from '../../lib/runtime/environment.ts';
import { ORDER_STATUS_LABELS } from '../../lib/domain/status.ts';
import { DynamoDbTable } from '../../lib/ledger/dynamodb-table.ts';
import { OrderLedger } from '../../lib/ledger/ledger.ts';
import {
  findStage,
  firstStage,
  loadTopology,
  nextStageOf,
  type StageName,
  type Topology,
} from '../../lib/topology/index.ts';

export const REGION = 'us-east-1';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

export interface LocalAws {
  readonly topology: Topology;
  readonly resources: LocalResources;
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  /** The order ledger on the emulated table. */
  readonly ledger: OrderLedger;
  readonly table: DynamoDbTable;
  /** Environment variables a handler process needs to reach the emulators (endpoints, region, credentials). */
  readonly awsEnvironment: Record<string, string>;
  stage(pipelineId: string, stage: StageName): LocalStageResources;
  /** The environment the deployer gives a stage function. */
  stageEnvironment(pipelineId: string, stage: StageName): Record<string, string>;
  stageConfig(pipelineId: string, stage: StageName): StageConfig;
  intakeEnvironment(): Record<string, string>;
  intakeConfig(): IntakeConfig;
  /** Receives (and leaves in flight) up to `max` messages of a queue, with all attributes. */
  drain(queueUrl: string, max?: number): Promise<Message[]>;
  /** Visible + in-flight + delayed messages of a queue. */
  depth(queueUrl: string): Promise<number>;
  purgeAll(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts emulators and provisions the topology built from `overrides`. */
export async function startLocalAws(overrides: unknown = {}): Promise<LocalAws> {
  const topology = loadTopology(overrides, 'test overrides');
  const [sqsEmulator, dynamoEmulator] = await Promise.all([
    startSqsEmulator({ region: REGION }),
    startDynamoEmulator(),
  ]);
  const sqs = new SQSClient({ endpoint: sqsEmulator.endpoint, region: REGION, credentials });
  const dynamodb = new DynamoDBClient({ endpoint: dynamoEmulator.endpoint, region: REGION, credentials });
  const resources = await provision(topology, { sqs, dynamodb, sqsEndpoint: sqsEmulator.endpoint });
  const table = new DynamoDbTable(
    DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
    resources.tableName,
  );
  const ledger = new OrderLedger(table, ORDER_STATUS_LABELS);

  const stage = (pipelineId: string, name: StageName): LocalStageResources => {
    const found = resources.stages.get(`${pipelineId}/${name}`);
    if (!found) throw new Error(`no stage ${pipelineId}/${name}`);
    return found;
  };
  const stageEnv = (pipelineId: string, name: StageName): Record<string, string> => {
    const s = findStage(topology, pipelineId, name);
    if (!s) throw new Error(`no stage ${pipelineId}/${name}`);
    const next = nextStageOf(topology, s);
    return stageEnvironment(topology, s, {
      queueUrl: stage(pipelineId, name).queueUrl,
      deadLetterQueueUrl: stage(pipelineId, name).deadLetterQueueUrl,
      ...(next ? { nextQueueUrl: stage(pipelineId, next.name).queueUrl } : {}),
      tableName: resources.tableName,
    });
  };
  const intakeEnv = (): Record<string, string> =>
    intakeEnvironment(topology, {
      tableName: resources.tableName,
      entryQueueUrls: Object.fromEntries(
        topology.pipelines.map((p) => [p.id, stage(p.id, firstStage(p).name).queueUrl]),
      ),
    });

  return {
    topology,
    resources,
    sqs,
    dynamodb,
    ledger,
    table,
    awsEnvironment: {
      AWS_ENDPOINT_URL_SQS: sqsEmulator.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamoEmulator.endpoint,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    stage,
    stageEnvironment: stageEnv,
    stageConfig: (pipelineId, name) => readStageConfig(name, stageEnv(pipelineId, name)),
    intakeEnvironment: intakeEnv,
    intakeConfig: () => readIntakeConfig(intakeEnv()),
    async drain(queueUrl, max = 100) {
      const messages: Message[] = [];
      for (;;) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
            MessageAttributeNames: ['All'],
            MessageSystemAttributeNames: ['All'],
          }),
        );
        messages.push(...Messages);
        if (Messages.length === 0 || messages.length >= max) return messages;
      }
    },
    async depth(queueUrl) {
      // Exact and non-destructive, from the emulator itself: SQS's approximate counters (and
      // fauxqs's, which refresh only on receive) cannot tell "drained".
      const name = new URL(queueUrl).pathname.split('/').at(-1) as string;
      const response = await fetch(`${sqsEmulator.endpoint}/_fauxqs/queues/${name}`);
      if (!response.ok) throw new Error(`no queue ${name}`);
      const { messages } = (await response.json()) as {
        messages: { ready: unknown[]; delayed: unknown[]; inflight: unknown[] };
      };
      return messages.ready.length + messages.delayed.length + messages.inflight.length;
    },
    async purgeAll() {
      await Promise.all(
        [...resources.stages.values()]
          .flatMap((s) => [s.queueUrl, s.deadLetterQueueUrl])
          .map((url) => sqs.send(new PurgeQueueCommand({ QueueUrl: url }))),
      );
    },
    async stop() {
      sqs.destroy();
      dynamodb.destroy();
      await Promise.all([sqsEmulator.stop(), dynamoEmulator.stop()]);
    },
  };
}
