/**
 * PipelineStage: one stage of one pipeline (e.g. `wh-1/picking`) — a dead-letter queue, the work
 * queue that redrives into it, the stage's function, and the SQS event source that feeds the queue
 * to the function in batches with per-record failure reporting.
 *
 * Named PipelineStage rather than Stage: `Stage` is already the topology's type and a CDK class.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { stageEnvironment } from '../runtime/environment.ts';
import { deadLetterQueueSettings, queueSettings, type Stage, type Topology } from '../topology/index.ts';
import { ConveyorFunction } from './conveyor-function.ts';
import { queueDefaults, serviceNameOf } from './defaults.ts';
import { STATUS_TABLE_ACTIONS } from './permissions.ts';

export interface PipelineStageProps {
  /** The whole topology: retention and tracking settings come from it. */
  readonly topology: Topology;
  /** The stage to build, as `loadTopology` resolved it (its visibility timeout is already ≥ 6 × timeout + window). */
  readonly stage: Stage;
  /** Where the stage records order status. */
  readonly statusTable: dynamodb.ITable;
  /**
   * The next stage's queue: the function may send to it and gets its URL.
   * @default - none: this is the last stage of its pipeline
   */
  readonly nextQueue?: sqs.IQueue;
  /**
   * Directory holding the handler modules.
   * @default the project's `handlers/`
   */
  readonly handlersDir?: string;
  /**
   * The deployment's name: its functions' service name (log `service` key, metrics `service` dimension).
   * @default the stack name
   */
  readonly namePrefix?: string;
}

export class PipelineStage extends Construct {
  /** The topology's stage this construct implements. */
  public readonly stage: Stage;
  /** Where records land after `maxReceiveCount` failed receives (and where poison input is sent at once). */
  public readonly deadLetterQueue: sqs.Queue;
  /** The stage's work queue. */
  public readonly queue: sqs.Queue;
  /** The stage's function with its role and log group. */
  public readonly worker: ConveyorFunction;
  public readonly function: lambda.IFunction;
  public readonly eventSource: SqsEventSource;
  /** The event source mapping (pause/resume and `scale` act on it). */
  public readonly eventSourceMapping: lambda.EventSourceMapping;

  constructor(scope: Construct, id: string, props: PipelineStageProps) {
    super(scope, id);
    const { topology, stage, statusTable, nextQueue } = props;
    const settings = queueSettings(topology, stage);
    this.stage = stage;

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      ...queueDefaults(),
      retentionPeriod: Duration.seconds(deadLetterQueueSettings(topology).messageRetentionSeconds),
      // Dead letters are orders nobody has looked at yet: `cdk destroy` keeps them, like the status table
      // (and keeps the queue's SSL-only policy with it). README "Deploy to AWS" says how to clean up.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    (this.deadLetterQueue.node.tryFindChild('Policy') as sqs.QueuePolicy | undefined)?.applyRemovalPolicy(
      RemovalPolicy.RETAIN,
    );

    this.queue = new sqs.Queue(this, 'Queue', {
      ...queueDefaults(),
      // A batch may run 6 × its timeout (Lambda retries) plus the batching window before the record
      // becomes visible again; shorter, and a slow batch is delivered twice.
      visibilityTimeout: Duration.seconds(settings.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(settings.messageRetentionSeconds),
      receiveMessageWaitTime: Duration.seconds(settings.receiveMessageWaitTimeSeconds),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: settings.maxReceiveCount },
    });

    this.worker = new ConveyorFunction(this, 'Worker', {
      handler: stage.handler,
      description: `Conveyor ${stage.key} stage`,
      memoryMb: stage.memoryMb,
      timeoutSeconds: stage.timeoutSeconds,
      logRetentionDays: topology.retention.logDays,
      handlersDir: props.handlersDir,
      environment: stageEnvironment(topology, stage, {
        queueUrl: this.queue.queueUrl,
        deadLetterQueueUrl: this.deadLetterQueue.queueUrl,
        ...(nextQueue ? { nextQueueUrl: nextQueue.queueUrl } : {}),
        tableName: statusTable.tableName,
        serviceName: serviceNameOf(this, props.namePrefix),
      }),
      statements: this.permissions(statusTable, nextQueue),
    });
    this.function = this.worker.function;

    this.eventSource = new SqsEventSource(this.queue, {
      batchSize: stage.batchSize,
      // Explicit even when 0, so the template says what the topology says.
      maxBatchingWindow: Duration.seconds(stage.maxBatchingWindowSeconds),
      maxConcurrency: stage.maxConcurrency,
      // Failed records are retried alone (with backoff); the rest of the batch is acknowledged.
      reportBatchItemFailures: true,
    });
    this.function.addEventSource(this.eventSource);
    this.eventSourceMapping = this.function.node.children.find(
      (child): child is lambda.EventSourceMapping => child instanceof lambda.EventSourceMapping,
    )!;
  }

  /** Exactly what the stage runtime calls, on exactly its own resources. */
  private permissions(statusTable: dynamodb.ITable, nextQueue: sqs.IQueue | undefined): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({
        sid: 'ConsumeOwnQueue',
        actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'],
        resources: [this.queue.queueArn],
      }),
      new iam.PolicyStatement({
        sid: 'SendToNextStageAndDeadLetters',
        // SendMessageBatch is authorized by sqs:SendMessage. Poison input goes straight to the DLQ.
        actions: ['sqs:SendMessage'],
        resources: [...(nextQueue ? [nextQueue.queueArn] : []), this.deadLetterQueue.queueArn],
      }),
      new iam.PolicyStatement({
        sid: 'TrackOrderStatus',
        actions: [...STATUS_TABLE_ACTIONS.stage],
        resources: [statusTable.tableArn],
      }),
    ];
  }
}
