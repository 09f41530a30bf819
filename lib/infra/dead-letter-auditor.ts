/**
 * DeadLetterAuditor: the function that makes every road to a DLQ end in `dead-lettered` — SQS's
 * redrive policy moves messages (a function that timed out, crashed or was throttled on a message's
 * last receive) without telling anyone. Every minute (EventBridge's finest rate, so a move is
 * recorded within two), it reads each stage's DLQ without consuming it and records in the ledger
 * the dead letters not noted yet (lib/operations/dead-letter-audit.ts). Locally the runtime invokes
 * the same handler on a schedule of its own.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { auditorEnvironment } from '../runtime/environment.ts';
import type { Topology } from '../topology/index.ts';
import { ConveyorFunction } from './conveyor-function.ts';
import { serviceNameOf } from './defaults.ts';
import { STATUS_TABLE_ACTIONS } from './permissions.ts';
import type { PipelineStage } from './stage.ts';

/** The auditor's handler module (handlers/dead-letter-auditor.ts). */
export const DEAD_LETTER_AUDITOR_HANDLER = 'dead-letter-auditor';

export interface DeadLetterAuditorProps {
  readonly topology: Topology;
  /** The stages whose DLQs it audits, keyed by `stage.key`. */
  readonly stages: ReadonlyMap<string, PipelineStage>;
  readonly statusTable: dynamodb.ITable;
  /**
   * How often it runs.
   * @default one minute
   */
  readonly every?: Duration;
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

export class DeadLetterAuditor extends Construct {
  public readonly worker: ConveyorFunction;
  public readonly function: lambda.IFunction;
  /** The EventBridge rule that runs it. */
  public readonly schedule: events.Rule;

  constructor(scope: Construct, id: string, props: DeadLetterAuditorProps) {
    super(scope, id);
    const { topology, stages, statusTable } = props;
    const deadLetterQueues = [...stages.values()].map((s) => s.deadLetterQueue);
    this.worker = new ConveyorFunction(this, 'Worker', {
      handler: DEAD_LETTER_AUDITOR_HANDLER,
      description: 'Conveyor dead-letter auditor: records dead letters the ledger has not noted (redrive-policy moves)',
      memoryMb: 256,
      timeoutSeconds: 60,
      logRetentionDays: topology.retention.logDays,
      handlersDir: props.handlersDir,
      environment: auditorEnvironment(
        topology,
        {
          tableName: statusTable.tableName,
          serviceName: serviceNameOf(this, props.namePrefix),
          deadLetterQueueUrls: Object.fromEntries([...stages].map(([key, s]) => [key, s.deadLetterQueue.queueUrl])),
        },
        (value) => Stack.of(this).toJsonString(value),
      ),
      statements: [
        new iam.PolicyStatement({
          sid: 'PeekDeadLetters',
          // Reading without consuming: receive with a short visibility, then make visible again.
          actions: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility'],
          resources: deadLetterQueues.map((q) => q.queueArn),
        }),
        new iam.PolicyStatement({
          sid: 'RecordDeadLetters',
          actions: [...STATUS_TABLE_ACTIONS.auditor],
          resources: [statusTable.tableArn],
        }),
      ],
    });
    this.function = this.worker.function;
    this.schedule = new events.Rule(this, 'Schedule', {
      description: 'Runs the Conveyor dead-letter auditor',
      schedule: events.Schedule.rate(props.every ?? Duration.minutes(1)),
      // The next run retries what this one missed: no retries, no event archive.
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0 })],
    });
  }
}
