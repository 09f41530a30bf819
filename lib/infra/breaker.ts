/**
 * CircuitBreakers: every stage's circuit breaker on AWS, from the topology's `breaker` settings.
 *
 *   per stage     failure-rate alarm: 100 × Failed / Records over `windowSeconds`, when Records ≥
 *                 `minimumRecords`; ALARM at ≥ `failureRatePercent` (lib/contract/breaker.ts's rule)
 *   one rule      EventBridge: any breaker alarm → ALARM  ──▶  breaker λ  (opens the breaker now)
 *   one schedule  EventBridge: every minute               ──▶  breaker λ  (half-opens after `openSeconds`,
 *                 judges probes, opens what an alarm event missed, finishes interrupted changes)
 *   breaker λ     the shared rules (lib/operations/circuit-breakers.ts): disables / re-enables the stage's
 *                 event source mapping, keeps the state in the status table (conditional writes), and
 *                 publishes every change to the alarm topic
 *
 * Why a schedule every minute rather than a one-shot EventBridge Scheduler timer per opening: the
 * probe must be judged when its records show up in CloudWatch — something has to look again anyway
 * — and a minute's round keeps no timers to create, delete or lose: a failed round is made good by
 * the next, and it needs no scheduler role nor iam:PassRole. It costs ~43,200 short invocations and
 * DescribeAlarms calls a month (cents); `openSeconds` is honoured to within that minute.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { BREAKER_METRICS, RUNBOOK } from '../contract/index.ts';
import { BREAKER_PARTITION } from '../operations/breaker-store.ts';
import {
  BREAKERS_VARIABLE_BUDGET_BYTES,
  breakerAlarmName,
  breakerAlarmPrefix,
  breakerEnvironment,
  breakersVariableBytes,
} from '../runtime/breaker-environment.ts';
import { allStages, TopologyError, type Stage, type Topology } from '../topology/index.ts';
import { ConveyorFunction } from './conveyor-function.ts';
import { serviceNameOf } from './defaults.ts';
import { formatDuration } from './format.ts';
import { stageMetric } from './metrics.ts';
import { pascalCase } from './outputs.ts';
import { STATUS_TABLE_ACTIONS } from './permissions.ts';
import type { PipelineStage } from './stage.ts';

/** The breaker function's handler module (handlers/breaker.ts). */
export const BREAKER_HANDLER = 'breaker';

export interface CircuitBreakersProps {
  /** The stages and their `breaker` settings. */
  readonly topology: Topology;
  /** The built stages, keyed by `stage.key`: their mappings are what the breakers switch. */
  readonly stages: ReadonlyMap<string, PipelineStage>;
  /** Where the breakers' state is kept (a partition of its own). */
  readonly statusTable: dynamodb.ITable;
  /** Where state changes are published, and the key it is encrypted with. */
  readonly topic: sns.ITopic;
  readonly topicKey: kms.IKey;
  /**
   * Prefix of the alarm names (unique per account and region).
   * @default the stack name
   */
  readonly namePrefix?: string;
  /**
   * How often the breakers are looked after.
   * @default one minute (EventBridge's finest rate)
   */
  readonly every?: Duration;
  /**
   * Directory holding the handler modules.
   * @default the project's `handlers/`
   */
  readonly handlersDir?: string;
}

export class CircuitBreakers extends Construct {
  /** The failure-rate alarm of every stage whose breaker is enabled, keyed by `stage.key`. */
  public readonly alarms: ReadonlyMap<string, cloudwatch.Alarm>;
  public readonly worker: ConveyorFunction;
  public readonly function: lambda.IFunction;
  /** Runs the function when a breaker alarm goes to ALARM. */
  public readonly alarmRule: events.Rule;
  /** Runs the function every minute. */
  public readonly schedule: events.Rule;

  constructor(scope: Construct, id: string, props: CircuitBreakersProps) {
    super(scope, id);
    const { topology, stages } = props;
    const prefix = props.namePrefix ?? Stack.of(this).stackName;
    const service = serviceNameOf(this, props.namePrefix);
    const built = [...stages.values()];
    assertBreakersFit(topology);

    this.alarms = new Map(
      built
        .filter((s) => s.stage.breaker.enabled)
        .map((s) => [s.stage.key, this.createAlarm(prefix, service, s.stage)]),
    );

    this.worker = new ConveyorFunction(this, 'Worker', {
      handler: BREAKER_HANDLER,
      description: "Conveyor circuit breakers: stop a failing stage's consumption, probe it, resume it",
      memoryMb: 256,
      timeoutSeconds: 60,
      logRetentionDays: topology.retention.logDays,
      handlersDir: props.handlersDir,
      environment: breakerEnvironment(
        topology,
        {
          tableName: props.statusTable.tableName,
          topicArn: props.topic.topicArn,
          stackName: Stack.of(this).stackName,
          namePrefix: prefix,
          serviceName: service,
          mappingUuids: Object.fromEntries(built.map((s) => [s.stage.key, s.eventSourceMapping.eventSourceMappingId])),
        },
        (value) => Stack.of(this).toJsonString(value),
      ),
      statements: this.permissions(built, props),
    });
    this.function = this.worker.function;

    // Retries: a round that fails is made good by the next minute's, and an alarm event missed by it.
    const target = new targets.LambdaFunction(this.function, { retryAttempts: 2, maxEventAge: Duration.minutes(5) });
    this.alarmRule = new events.Rule(this, 'AlarmRule', {
      description: 'A Conveyor circuit breaker alarm went to ALARM: the breaker function opens that breaker',
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        detail: { alarmName: events.Match.prefix(breakerAlarmPrefix(prefix)), state: { value: ['ALARM'] } },
      },
      targets: [target],
    });
    this.schedule = new events.Rule(this, 'Schedule', {
      description: 'Looks after the Conveyor circuit breakers (half-open, probes, missed alarms)',
      schedule: events.Schedule.rate(props.every ?? Duration.minutes(1)),
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0 })],
    });
  }

  /** The stage's record failure rate, judged by the topology's breaker settings. */
  private createAlarm(prefix: string, service: string, stage: Stage): cloudwatch.Alarm {
    const { breaker } = stage;
    const period = Duration.seconds(breaker.windowSeconds);
    const sum = (name: typeof BREAKER_METRICS.records | typeof BREAKER_METRICS.failed) =>
      stageMetric(service, stage, name, { statistic: cloudwatch.Stats.SUM, period });
    return new cloudwatch.Alarm(this, `${pascalCase(stage.key)}BreakerAlarm`, {
      alarmName: breakerAlarmName(prefix, stage),
      alarmDescription:
        `Circuit breaker of ${stage.key}: at least ${breaker.failureRatePercent} % of its records failed over ${formatDuration(breaker.windowSeconds)} ` +
        `(with at least ${breaker.minimumRecords} records). The breaker function stops the stage consuming its queue; its notifications on the alarm topic say what happens next. ` +
        `See README '${RUNBOOK.circuitBreaker}'.`,
      // Records below the minimum judge nothing: 0 %. A window without a Failed datapoint had no failures.
      metric: new cloudwatch.MathExpression({
        expression: `IF(records >= ${breaker.minimumRecords}, 100 * FILL(failed, 0) / records, 0)`,
        usingMetrics: { records: sum(BREAKER_METRICS.records), failed: sum(BREAKER_METRICS.failed) },
        label: 'record failure rate (%)',
        period,
      }),
      threshold: breaker.failureRatePercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      // An idle stage — or one whose breaker is open — reports nothing: that is not a failure.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /** Exactly what the breaker function calls, on exactly the stages' resources. */
  private permissions(built: readonly PipelineStage[], props: CircuitBreakersProps): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({
        sid: 'SwitchStageMappings',
        actions: ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping'],
        resources: built.map((s) => s.eventSourceMapping.eventSourceMappingArn),
      }),
      // With every breaker disabled there is no alarm to find (the function then never asks).
      ...(this.alarms.size > 0
        ? [
            new iam.PolicyStatement({
              sid: 'FindAlarmedBreakers',
              actions: ['cloudwatch:DescribeAlarms'],
              resources: [...this.alarms.values()].map((a) => a.alarmArn),
            }),
          ]
        : []),
      new iam.PolicyStatement({
        sid: 'ReadStageCounts',
        // GetMetricData supports no resource-level permissions: '*' is the only valid resource.
        actions: ['cloudwatch:GetMetricData'],
        resources: ['*'],
      }),
      new iam.PolicyStatement({
        sid: 'KeepBreakerState',
        actions: [...STATUS_TABLE_ACTIONS.breaker],
        resources: [props.statusTable.tableArn],
        // The breaker partition only: this function can read or write no order.
        conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [BREAKER_PARTITION] } },
      }),
      new iam.PolicyStatement({ sid: 'NotifyOperators', actions: ['sns:Publish'], resources: [props.topic.topicArn] }),
      new iam.PolicyStatement({
        sid: 'EncryptNotifications',
        // What SNS asks of a publisher to a topic encrypted with a customer-managed key.
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [props.topicKey.keyArn],
      }),
    ];
  }
}

/**
 * The breaker function is configured through its environment, which Lambda caps at 4 KB: a topology
 * with so many different `breaker` settings that they would not fit is refused at synth, not at deploy.
 */
function assertBreakersFit(topology: Topology): void {
  const bytes = breakersVariableBytes(topology);
  if (bytes <= BREAKERS_VARIABLE_BUDGET_BYTES) return;
  const stages = allStages(topology);
  const distinct = new Set(stages.map((s) => JSON.stringify(s.breaker))).size;
  throw new TopologyError('cdk.json context "conveyor"', [
    `breaker: ${stages.length} stages with ${distinct} different breaker settings need ${bytes} bytes of the breaker function's environment, but ${BREAKERS_VARIABLE_BUDGET_BYTES} fit in Lambda's 4 KB; ` +
      'give more stages the same breaker settings (set them under "stages" rather than per warehouse), or deploy fewer warehouses per stack',
  ]);
}
