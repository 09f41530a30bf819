/**
 * Monitoring: what calls an operator, generated from the topology and the shared alarm rules
 * (lib/contract/alarm-rules.ts).
 *
 *   per pipeline × stage   dead letters (DLQ depth > 0, within a minute)  → README "SOS: dead letters"
 *                          backlog (age of the oldest message)            → README "SOS: backlog"
 *                          function error rate (errors / invocations)     → README "SOS: function errors"
 *                          throttles                                      → README "SOS: throttles"
 *                          oldest message / dead letter near retention    → README "SOS: messages near their retention"
 *   per pipeline           a composite alarm: any of its stage alarms     — notifies
 *   the front              API 5xx rate and p99 latency, intake errors and throttles,
 *                          status-table throttles and system errors       — each notifies
 *
 * One incident pages once: stage alarms notify nobody; they feed their pipeline's composite, which
 * notifies (its notification names the stage alarm that triggered it), and show on the dashboard.
 * Notifications (ALARM and OK) go to one SNS topic, encrypted with its own KMS key (CloudWatch
 * cannot publish to a topic under the AWS-managed `alias/aws/sns` key) and SSL-only; `alarms.email`
 * in the topology subscribes an address (what SNS cannot deliver waits in a dead-letter queue,
 * which has an alarm too). Saved Logs Insights queries read the function logs (queries.ts).
 *
 * @example
 * const monitoring = new Monitoring(stack, 'Monitoring', { topology, stages, orderApi, statusTable });
 * monitoring.topic.topicArn; // where the composites and API alarms notify
 */
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  API_ALARM_KINDS,
  stageAlarmRules,
  STAGE_ALARM_KINDS,
  type ApiAlarmKind,
  type StageAlarmKind,
} from '../contract/index.ts';
import { TopologyError, type Pipeline, type Stage, type Topology } from '../topology/index.ts';
import { createApiAlarm, createStageAlarm } from './alarms.ts';
import { queueDefaults, serviceNameOf } from './defaults.ts';
import type { OrderApi } from './order-api.ts';
import { pascalCase } from './outputs.ts';
import { statusTableOperations } from './permissions.ts';
import { createSavedQueries, type SavedQueries } from './queries.ts';
import type { PipelineStage } from './stage.ts';

export {
  RUNBOOK,
  STAGE_ALARM_KINDS,
  type StageAlarmKind,
  API_ALARM_KINDS,
  type ApiAlarmKind,
} from '../contract/index.ts';
export { stageAlarmName } from './alarms.ts';
export { errorRatePercent, apiServerErrorRatePercent, stageMetric, ordersAcceptedMetric } from './metrics.ts';

export interface MonitoringProps {
  /** Which pipelines and stages exist, with their alarm thresholds (`stage.alarms`, `api.alarms`), retention and `alarms.email`. */
  readonly topology: Topology;
  /** The stages to watch, keyed by `stage.key` (ConveyorStack.stages). */
  readonly stages: ReadonlyMap<string, PipelineStage>;
  /** The order API: its API stage and intake function are watched; its log group joins "one order's journey". */
  readonly orderApi: OrderApi;
  /** The status table: its throttles and system errors are watched. */
  readonly statusTable: dynamodb.Table;
  /**
   * Prefix of every alarm and saved query name, and the service name the functions' metrics carry.
   * Alarm names are unique per account and region, so two deployments need two prefixes.
   * @default the stack name
   */
  readonly namePrefix?: string;
}

/** The alarms of one stage, by kind. */
export interface StageAlarmSet {
  readonly stage: Stage;
  readonly alarms: Readonly<Record<StageAlarmKind, cloudwatch.Alarm>>;
}

export class Monitoring extends Construct {
  /** The one topic the composites and API-level alarms notify (ALARM and OK). */
  public readonly topic: sns.Topic;
  /** Encrypts the topic; its policy lets CloudWatch alarms of this account use it. */
  public readonly topicKey: kms.Key;
  /** The alarms of every stage, keyed by `stage.key`, in flow order. They notify nobody: they feed the composites. */
  public readonly stageAlarms: ReadonlyMap<string, StageAlarmSet>;
  /** One composite alarm per pipeline, keyed by pipeline id: ALARM when any of its stage alarms is. */
  public readonly pipelineAlarms: ReadonlyMap<string, cloudwatch.CompositeAlarm>;
  /** The API-level alarms, by kind: they notify directly. */
  public readonly apiAlarms: Readonly<Record<ApiAlarmKind, cloudwatch.Alarm>>;
  /**
   * With `alarms.email`: where SNS puts notifications it could not deliver to the address (after
   * retrying for 6 hours), and the alarm on its depth.
   */
  public readonly notificationDeadLetterQueue?: sqs.Queue;
  public readonly undeliveredNotificationsAlarm?: cloudwatch.Alarm;
  /** Saved Logs Insights queries, keyed by a short name. */
  public readonly queries: SavedQueries;
  /** Prefix of every alarm and query name. */
  public readonly namePrefix: string;
  /** The `service` dimension of this deployment's EMF metrics (see `serviceNameOf`). */
  public readonly metricsService: string;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { topology, stages, orderApi } = props;
    const prefix = props.namePrefix ?? Stack.of(this).stackName;
    this.namePrefix = prefix;
    this.metricsService = serviceNameOf(this, props.namePrefix);

    const { key, topic } = this.createTopic(prefix);
    this.topicKey = key;
    this.topic = topic;
    const notify = new cloudwatchActions.SnsAction(topic);
    const wire = <T extends cloudwatch.AlarmBase>(alarm: T): T => {
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
      return alarm;
    };

    if (topology.alarms.email !== undefined) {
      this.notificationDeadLetterQueue = new sqs.Queue(this, 'NotificationDeadLetterQueue', {
        ...queueDefaults(),
        retentionPeriod: Duration.days(14),
      });
      topic.addSubscription(
        new subscriptions.EmailSubscription(topology.alarms.email, {
          deadLetterQueue: this.notificationDeadLetterQueue,
        }),
      );
      this.undeliveredNotificationsAlarm = wire(
        this.createUndeliveredNotificationsAlarm(prefix, topology.alarms.email, this.notificationDeadLetterQueue),
      );
    }

    const stageAlarms = new Map<string, StageAlarmSet>();
    for (const built of stages.values()) {
      assertEvaluationRange(built.stage);
      const rules = stageAlarmRules(built.stage, topology.retention);
      const alarms = Object.fromEntries(
        rules.map((rule) => [rule.kind, createStageAlarm(this, prefix, built, rule, topology.retention)]),
      ) as Record<StageAlarmKind, cloudwatch.Alarm>;
      stageAlarms.set(built.stage.key, { stage: built.stage, alarms });
    }
    this.stageAlarms = stageAlarms;

    const pipelineAlarms = new Map<string, cloudwatch.CompositeAlarm>();
    for (const pipeline of topology.pipelines) {
      const alarms = pipeline.stages.flatMap((s) => (stageAlarms.has(s.key) ? alarmsOf(stageAlarms.get(s.key)!) : []));
      if (alarms.length > 0) pipelineAlarms.set(pipeline.id, wire(this.createPipelineAlarm(prefix, pipeline, alarms)));
    }
    this.pipelineAlarms = pipelineAlarms;

    const front = {
      api: orderApi.api,
      intake: orderApi.function,
      statusTable: props.statusTable,
      tableOperations: statusTableOperations(),
    };
    this.apiAlarms = Object.fromEntries(
      API_ALARM_KINDS.map((kind) => [kind, wire(createApiAlarm(this, prefix, kind, topology.api.alarms, front))]),
    ) as Record<ApiAlarmKind, cloudwatch.Alarm>;
    this.queries = createSavedQueries(
      this,
      prefix,
      [...stages.values()].map((s) => s.worker.logGroup),
      orderApi.intake.logGroup,
    );
  }

  /** The alarms that notify: the pipelines' composites, the API-level alarms, undelivered notifications'. */
  public get notifyingAlarms(): cloudwatch.AlarmBase[] {
    return [
      ...this.pipelineAlarms.values(),
      ...Object.values(this.apiAlarms),
      ...(this.undeliveredNotificationsAlarm ? [this.undeliveredNotificationsAlarm] : []),
    ];
  }

  /** Every alarm: stage alarms in flow order, then the notifying ones. */
  public get alarms(): cloudwatch.AlarmBase[] {
    return [...[...this.stageAlarms.values()].flatMap(alarmsOf), ...this.notifyingAlarms];
  }

  private createPipelineAlarm(
    prefix: string,
    pipeline: Pipeline,
    alarms: cloudwatch.Alarm[],
  ): cloudwatch.CompositeAlarm {
    return new cloudwatch.CompositeAlarm(this, `${pascalCase(pipeline.id)}PipelineAlarm`, {
      compositeAlarmName: `${prefix}-${pipeline.id}`,
      alarmDescription:
        `Warehouse ${pipeline.id} needs attention: at least one of its stage alarms ` +
        `(${pipeline.stages.map((s) => s.name).join(', ')}: ${STAGE_ALARM_KINDS.join(', ')}) is in ALARM. ` +
        'This notification names the stage alarm that triggered it; its description says what it means and which README entry ("SOS: …") to follow. The dashboard shows every alarm.',
      alarmRule: cloudwatch.AlarmRule.anyOf(...alarms),
    });
  }

  private createUndeliveredNotificationsAlarm(prefix: string, email: string, queue: sqs.Queue): cloudwatch.Alarm {
    return new cloudwatch.Alarm(this, 'UndeliveredNotificationsAlarm', {
      alarmName: `${prefix}-alarm-notifications-undelivered`,
      alarmDescription:
        `Alarm notifications could not be emailed to ${email} (SNS retried for 6 hours): they wait in the ` +
        'notification dead-letter queue. Check the address and that the subscription is confirmed; alarm states are in the console and on the dashboard. ' +
        "See README 'Monitoring (cloud)'.",
      metric: queue.metricApproximateNumberOfMessagesVisible({
        statistic: cloudwatch.Stats.MAXIMUM,
        period: Duration.minutes(5),
      }),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /**
   * A customer-managed key and an SSL-only topic. CloudWatch publishes as the service principal
   * `cloudwatch.amazonaws.com`: the key policy and the topic policy both let it, for this
   * account's alarms only (confused-deputy conditions). The AWS-managed SNS key cannot be used:
   * its policy does not allow CloudWatch, and no one can change it.
   */
  private createTopic(prefix: string): { key: kms.Key; topic: sns.Topic } {
    const stack = Stack.of(this);
    const cloudwatchService = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: `${prefix}: encrypts Conveyor alarm notifications on their SNS topic`,
      enableKeyRotation: true,
      // It protects notifications in flight only; nothing stays encrypted under it after the stack.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublishEncrypted',
        principals: [cloudwatchService],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );

    const topic = new sns.Topic(this, 'AlarmTopic', {
      // The sender name of notification emails (SNS allows 100 characters).
      displayName: `${prefix} alarms`.slice(0, 100),
      masterKey: key,
      enforceSSL: true,
      // SHA256 signatures on notifications.
      signatureVersion: '2',
    });
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [cloudwatchService],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: `${prefix}-*`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    return { key, topic };
  }
}

/** The alarms of a stage, in STAGE_ALARM_KINDS order. */
export function alarmsOf(set: StageAlarmSet): cloudwatch.Alarm[] {
  return STAGE_ALARM_KINDS.map((kind) => set.alarms[kind]);
}

/**
 * CloudWatch limits how far back an alarm looks: period × evaluation periods at most one day for
 * periods under an hour, seven days otherwise. Caught at synth, not at deploy.
 */
function assertEvaluationRange(stage: Stage): void {
  const { periodSeconds, evaluationPeriods } = stage.alarms;
  const limit = periodSeconds < 3_600 ? 86_400 : 604_800;
  if (periodSeconds * evaluationPeriods > limit) {
    throw new TopologyError('cdk.json context "conveyor"', [
      `alarms of stage ${stage.key}: periodSeconds ${periodSeconds} × evaluationPeriods ${evaluationPeriods} = ` +
        `${periodSeconds * evaluationPeriods} s, but CloudWatch alarms look back at most ${limit} s with that period; ` +
        'lower evaluationPeriods or periodSeconds',
    ]);
  }
}
