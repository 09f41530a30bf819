/**
 * Monitoring: what calls an operator, generated from the topology.
 *
 *   per pipeline × stage   dead letters (DLQ depth > 0)          → README "SOS: dead letters"
 *                          backlog (age of oldest message)        → README "SOS: backlog"
 *                          function error rate (errors / invocations) → README "SOS: function errors"
 *                          throttles                              → README "SOS: throttles"
 *   per pipeline           a composite alarm: any of its stage alarms
 *   the API                5xx rate                               → README "SOS: API errors"
 *
 * Every alarm sends ALARM and OK to one SNS topic, encrypted with its own KMS key (CloudWatch cannot
 * publish to a topic under the AWS-managed `alias/aws/sns` key) and SSL-only; `alarms.email` in the
 * topology subscribes an address (what SNS cannot deliver waits in a dead-letter queue, which has
 * an alarm too). Saved CloudWatch Logs Insights queries read the stage logs.
 * Thresholds, periods and evaluation periods come from each stage's `alarms` settings.
 *
 * The metric builders below are shared with the dashboard (dashboard.ts), so an alarm and the
 * graph an operator opens next to it show the same numbers.
 *
 * @example
 * const monitoring = new Monitoring(stack, 'Monitoring', { topology, stages, orderApi });
 * monitoring.topic.topicArn; // where every alarm notifies
 */
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { IntakeMetric } from '../api/order-api.ts';
import type { METRICS_NAMESPACE as RUNTIME_NAMESPACE, StageMetric } from '../runtime/telemetry.ts';
import { STAGE_ALARM_KINDS, TopologyError, type Stage, type StageAlarmKind, type Topology } from '../topology/index.ts';
import { queueDefaults, serviceNameOf } from './defaults.ts';
import type { OrderApi } from './order-api.ts';
import { pascalCase } from './outputs.ts';
import type { PipelineStage } from './stage.ts';

/** Runbook entries (README headings) each alarm's description points to. */
export const RUNBOOK = {
  deadLetters: 'SOS: dead letters',
  backlog: 'SOS: backlog',
  functionErrors: 'SOS: function errors',
  throttles: 'SOS: throttles',
  apiErrors: 'SOS: API errors',
} as const;



// Checked against the runtime's names at compile time, without loading handler code at synth.
/** The namespace of Conveyor's EMF metrics. */
export const METRICS_NAMESPACE: typeof RUNTIME_NAMESPACE = 'Conveyor';
const ORDERS_ACCEPTED: (typeof IntakeMetric)['OrdersAccepted'] = 'OrdersAccepted';

export { STAGE_ALARM_KINDS, type StageAlarmKind };

/** The API's 5xx alarm: the topology has no API alarm settings, so these are the defaults. */
export interface ApiAlarmSettings {
  /** Alarm when 5xx responses exceed this share of requests. Bad input is a 4xx: any 5xx is a fault. */
  readonly maxServerErrorRatePercent: number;
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
}

export const API_ALARM_DEFAULTS: ApiAlarmSettings = { maxServerErrorRatePercent: 5, periodSeconds: 60, evaluationPeriods: 3 };

export interface MonitoringProps {
  /** Which pipelines and stages exist, with their alarm thresholds (`stage.alarms`) and `alarms.email`. */
  readonly topology: Topology;
  /** The stages to watch, keyed by `stage.key` (ConveyorStack.stages). */
  readonly stages: ReadonlyMap<string, PipelineStage>;
  /** The order API: its 5xx rate alarms, its intake log group joins the "one order's journey" query. */
  readonly orderApi: OrderApi;
  /**
   * Prefix of every alarm and saved query name. Alarm names are unique per account and region, so
   * two deployments need two prefixes.
   * @default the stack name
   */
  readonly namePrefix?: string;
  /**
   * Thresholds of the API's 5xx-rate alarm.
   * @default API_ALARM_DEFAULTS
   */
  readonly apiAlarm?: Partial<ApiAlarmSettings>;
}

/** The four alarms of one stage. */
export interface StageAlarmSet {
  readonly stage: Stage;
  /** The DLQ holds at least one message. */
  readonly deadLetters: cloudwatch.Alarm;
  /** The oldest message in the stage queue is older than `maxAgeOfOldestMessageSeconds`. */
  readonly backlog: cloudwatch.Alarm;
  /** Failed invocations above `maxErrorRatePercent` of invocations. */
  readonly errorRate: cloudwatch.Alarm;
  /** More than `maxThrottles` throttled invocations per period. */
  readonly throttles: cloudwatch.Alarm;
}

export class Monitoring extends Construct {
  /** The one topic every alarm notifies (ALARM and OK). */
  public readonly topic: sns.Topic;
  /** Encrypts the topic; its policy lets CloudWatch alarms of this account use it. */
  public readonly topicKey: kms.Key;
  /** The alarms of every stage, keyed by `stage.key`, in flow order. */
  public readonly stageAlarms: ReadonlyMap<string, StageAlarmSet>;
  /** One composite alarm per pipeline, keyed by pipeline id: ALARM when any of its stage alarms is. */
  public readonly pipelineAlarms: ReadonlyMap<string, cloudwatch.CompositeAlarm>;
  /** The API's 5xx-rate alarm. */
  public readonly apiAlarm: cloudwatch.Alarm;
  /**
   * With `alarms.email`: where SNS puts notifications it could not deliver to the address (after
   * retrying for 6 hours), and the alarm on its depth.
   */
  public readonly notificationDeadLetterQueue?: sqs.Queue;
  public readonly undeliveredNotificationsAlarm?: cloudwatch.Alarm;
  /** Saved Logs Insights queries, keyed by a short name (`failuresByOrder`, `deadLetters`, `slowestBatches`, `orderJourney`). */
  public readonly queries: Readonly<Record<'failuresByOrder' | 'deadLetters' | 'slowestBatches' | 'orderJourney', logs.QueryDefinition>>;
  /** Prefix of every alarm and query name. */
  public readonly namePrefix: string;
  /** The `service` dimension of this deployment's EMF metrics (see `serviceNameOf`). */
  public readonly metricsService: string;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { topology, stages, orderApi } = props;
    const prefix = props.namePrefix ?? Stack.of(this).stackName;
    this.namePrefix = prefix;
    this.metricsService = serviceNameOf(this);

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
      topic.addSubscription(new subscriptions.EmailSubscription(topology.alarms.email, { deadLetterQueue: this.notificationDeadLetterQueue }));
      this.undeliveredNotificationsAlarm = wire(
        new cloudwatch.Alarm(this, 'UndeliveredNotificationsAlarm', {
          alarmName: `${prefix}-alarm-notifications-undelivered`,
          alarmDescription:
            `Alarm notifications could not be emailed to ${topology.alarms.email} (SNS retried for 6 hours): they wait in the ` +
            'notification dead-letter queue. Check the address and that the subscription is confirmed; alarm states are in the console and on the dashboard. ' +
            "See README 'Monitoring (cloud)'.",
          metric: this.notificationDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(5) }),
          threshold: 0,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }

    const stageAlarms = new Map<string, StageAlarmSet>();
    for (const built of stages.values()) {
      stageAlarms.set(built.stage.key, this.createStageAlarms(prefix, built, wire));
    }
    this.stageAlarms = stageAlarms;

    const pipelineAlarms = new Map<string, cloudwatch.CompositeAlarm>();
    for (const pipeline of topology.pipelines) {
      const alarms = pipeline.stages.flatMap((s) => {
        const set = stageAlarms.get(s.key);
        return set ? alarmsOf(set) : [];
      });
      if (alarms.length === 0) continue;
      pipelineAlarms.set(
        pipeline.id,
        wire(
          new cloudwatch.CompositeAlarm(this, `${pascalCase(pipeline.id)}PipelineAlarm`, {
            compositeAlarmName: `${prefix}-${pipeline.id}`,
            alarmDescription:
              `Warehouse ${pipeline.id} needs attention: at least one of its stage alarms ` +
              `(${pipeline.stages.map((s) => s.name).join(', ')}: dead letters, backlog, function errors, throttles) is in ALARM. ` +
              `The stage alarm's own notification names the stage and its README entry ("SOS: …"); the dashboard shows which.`,
            alarmRule: cloudwatch.AlarmRule.anyOf(...alarms),
          }),
        ),
      );
    }
    this.pipelineAlarms = pipelineAlarms;

    this.apiAlarm = wire(this.createApiAlarm(prefix, orderApi.api, { ...API_ALARM_DEFAULTS, ...props.apiAlarm }));
    this.queries = this.createQueries(prefix, [...stages.values()], orderApi);
  }

  /** Every alarm: stage alarms in flow order, the pipelines' composites, the API's, undelivered notifications'. */
  public get alarms(): cloudwatch.AlarmBase[] {
    return [
      ...[...this.stageAlarms.values()].flatMap(alarmsOf),
      ...this.pipelineAlarms.values(),
      this.apiAlarm,
      ...(this.undeliveredNotificationsAlarm ? [this.undeliveredNotificationsAlarm] : []),
    ];
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
            'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: `${prefix}-*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
          },
        },
      }),
    );
    return { key, topic };
  }

  private createStageAlarms(prefix: string, built: PipelineStage, wire: <T extends cloudwatch.AlarmBase>(alarm: T) => T): StageAlarmSet {
    const { stage } = built;
    const limits = stage.alarms;
    assertEvaluationRange(stage);
    const period = Duration.seconds(limits.periodSeconds);
    const window = `${limits.evaluationPeriods} × ${limits.periodSeconds} s`;
    const id = pascalCase(stage.key);
    const common = {
      evaluationPeriods: limits.evaluationPeriods,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      // Idle stages report nothing (SQS stops reporting empty, untouched queues; Lambda reports
      // only invocations): silence means healthy. A queue holding messages always reports.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    };
    const name = (kind: StageAlarmKind) => stageAlarmName(prefix, stage, kind);

    return {
      stage,
      deadLetters: wire(
        new cloudwatch.Alarm(this, `${id}DeadLettersAlarm`, {
          ...common,
          alarmName: name('dead-letters'),
          alarmDescription:
            `Dead letters in ${stage.key}: its dead-letter queue holds orders the stage gave up on ` +
            `(poison input, rejected, or failed ${stage.maxReceiveCount} receives). They wait there, unprocessed, until redriven. ` +
            `See README '${RUNBOOK.deadLetters}'.`,
          metric: built.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period }),
          threshold: 0,
        }),
      ),
      backlog: wire(
        new cloudwatch.Alarm(this, `${id}BacklogAlarm`, {
          ...common,
          alarmName: name('backlog'),
          alarmDescription:
            `Backlog in ${stage.key}: the oldest message in its queue is older than ${limits.maxAgeOfOldestMessageSeconds} s ` +
            `for ${window}. Orders wait: the stage is paused, too slow or too narrow (max concurrency ${stage.maxConcurrency}), or retrying a sick dependency. ` +
            `See README '${RUNBOOK.backlog}'.`,
          metric: built.queue.metricApproximateAgeOfOldestMessage({ statistic: cloudwatch.Stats.MAXIMUM, period }),
          threshold: limits.maxAgeOfOldestMessageSeconds,
        }),
      ),
      errorRate: wire(
        new cloudwatch.Alarm(this, `${id}ErrorRateAlarm`, {
          ...common,
          alarmName: name('error-rate'),
          alarmDescription:
            `Function errors in ${stage.key}: more than ${limits.maxErrorRatePercent} % of its invocations failed as a whole ` +
            `(an exception, a timeout, out of memory) for ${window}; their batches return to the queue and head for the DLQ. ` +
            `Records failed one by one do not count here. See README '${RUNBOOK.functionErrors}'.`,
          metric: errorRatePercent(built.function, period),
          threshold: limits.maxErrorRatePercent,
        }),
      ),
      throttles: wire(
        new cloudwatch.Alarm(this, `${id}ThrottlesAlarm`, {
          ...common,
          alarmName: name('throttles'),
          alarmDescription:
            `Throttles in ${stage.key}: Lambda refused more than ${limits.maxThrottles} of its invocations per ${limits.periodSeconds} s ` +
            `for ${window} (account or reserved concurrency exhausted); the stage slows down. See README '${RUNBOOK.throttles}'.`,
          metric: built.function.metricThrottles({ statistic: cloudwatch.Stats.SUM, period }),
          threshold: limits.maxThrottles,
        }),
      ),
    };
  }

  private createApiAlarm(prefix: string, api: apigateway.RestApi, settings: ApiAlarmSettings): cloudwatch.Alarm {
    return new cloudwatch.Alarm(this, 'ApiServerErrorRateAlarm', {
      alarmName: `${prefix}-api-5xx-rate`,
      alarmDescription:
        `API errors: more than ${settings.maxServerErrorRatePercent} % of order API requests answered 5xx for ` +
        `${settings.evaluationPeriods} × ${settings.periodSeconds} s. Bad input is a 4xx, so a 5xx is a fault: the intake function ` +
        `failing or throttled, or SQS / DynamoDB unavailable (503). Clients must retry. See README '${RUNBOOK.apiErrors}'.`,
      metric: apiServerErrorRatePercent(api.deploymentStage, Duration.seconds(settings.periodSeconds)),
      threshold: settings.maxServerErrorRatePercent,
      evaluationPeriods: settings.evaluationPeriods,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /**
   * Saved queries over the JSON lines the stage runtime logs (Powertools: `level`, `message`,
   * `pipeline`, `stage`, plus each message's fields). They appear under "<prefix>/" in the console.
   */
  private createQueries(prefix: string, stages: PipelineStage[], orderApi: OrderApi): Monitoring['queries'] {
    const stageLogs = stages.map((s) => s.worker.logGroup);
    const query = (id: string, name: string, queryString: logs.QueryString, logGroups: logs.ILogGroup[] = stageLogs) =>
      new logs.QueryDefinition(this, id, { queryDefinitionName: `${prefix}/${name}`, queryString, logGroups });
    return {
      failuresByOrder: query(
        'FailuresByOrderQuery',
        'failures by orderId',
        new logs.QueryString({
          fields: ['@timestamp', 'orderId', 'pipeline', 'stage', 'message', 'reason', 'receiveCount'],
          filterStatements: [`message in ["${LOG_MESSAGES.retry}", "${LOG_MESSAGES.deadLettered}"]`],
          statsStatements: [
            'count(*) as failures, max(receiveCount) as receives, latest(stage) as lastStage, latest(message) as lastOutcome, latest(reason) as lastReason by orderId, pipeline',
          ],
          sort: 'failures desc',
          limit: 1000,
        }),
      ),
      deadLetters: query(
        'DeadLettersQuery',
        'dead letters',
        new logs.QueryString({
          fields: ['@timestamp', 'pipeline', 'stage', 'orderId', 'kind', 'reason', 'receiveCount', 'traceId', 'messageId'],
          filterStatements: [`message = "${LOG_MESSAGES.deadLettered}"`],
          sort: '@timestamp desc',
          limit: 1000,
        }),
      ),
      slowestBatches: query(
        'SlowestBatchesQuery',
        'slowest batches',
        new logs.QueryString({
          fields: ['@timestamp', 'pipeline', 'stage', 'durationMs', 'records', 'succeeded', 'retried', 'deadLettered', 'duplicates', 'function_request_id', 'xray_trace_id'],
          filterStatements: [`message = "${LOG_MESSAGES.batch}"`],
          sort: 'durationMs desc',
          limit: 100,
        }),
      ),
      orderJourney: query(
        'OrderJourneyQuery',
        "one order's journey (replace ORDER-ID)",
        new logs.QueryString({
          fields: ['@timestamp', '@log', 'pipeline', 'stage', 'level', 'message', 'reason', 'receiveCount', 'retryInSeconds', 'traceId'],
          // The intake logs ids in a list ("orderIds"): a substring match finds them as well as "orderId".
          filterStatements: ['@message like "ORDER-ID"'],
          sort: '@timestamp asc',
          limit: 1000,
        }),
        [orderApi.intake.logGroup, ...stageLogs],
      ),
    };
  }
}

/** Messages of the stage runtime's log lines the queries select (lib/runtime/stage-handler.ts). */
export const LOG_MESSAGES = {
  batch: 'batch processed',
  retry: 'record failed; will retry',
  deadLettered: 'record dead-lettered',
} as const;

/** `Conveyor-wh-1-picking-dead-letters`: the stack (prefix), the stage, what is wrong. */
export function stageAlarmName(prefix: string, stage: Pick<Stage, 'pipelineId' | 'name'>, kind: StageAlarmKind): string {
  return `${prefix}-${stage.pipelineId}-${stage.name}-${kind}`;
}

/** The alarms of a stage, in a fixed order. */
export function alarmsOf(set: StageAlarmSet): cloudwatch.Alarm[] {
  return [set.deadLetters, set.backlog, set.errorRate, set.throttles];
}

/**
 * Failed invocations as a percentage of invocations. No invocations is 0 %, not a division by
 * zero; a period with invocations but no Errors datapoint counts as no errors.
 */
export function errorRatePercent(fn: lambda.IFunction, period: Duration): cloudwatch.MathExpression {
  return percentOf(fn.metricErrors({ statistic: cloudwatch.Stats.SUM, period }), fn.metricInvocations({ statistic: cloudwatch.Stats.SUM, period }), 'error rate (%)', period);
}

/** 5xx responses as a percentage of requests of the API stage (dimensions ApiName and Stage); 0 % without requests. */
export function apiServerErrorRatePercent(stage: apigateway.Stage, period: Duration): cloudwatch.MathExpression {
  return percentOf(stage.metricServerError({ statistic: cloudwatch.Stats.SUM, period }), stage.metricCount({ statistic: cloudwatch.Stats.SUM, period }), '5xx rate (%)', period);
}

/** `part` as a percentage of `whole`: 0 when `whole` is 0, and a missing `part` datapoint counts as 0. */
function percentOf(part: cloudwatch.IMetric, whole: cloudwatch.IMetric, label: string, period: Duration): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: 'IF(whole > 0, 100 * FILL(part, 0) / whole, 0)',
    usingMetrics: { part, whole },
    label,
    period,
  });
}

/** One of the EMF metrics a stage emits (namespace Conveyor; dimensions service, pipeline, stage). */
export function stageMetric(
  service: string,
  stage: Pick<Stage, 'pipelineId' | 'name'>,
  metricName: (typeof StageMetric)[keyof typeof StageMetric],
  options: cloudwatch.MetricOptions = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service, pipeline: stage.pipelineId, stage: stage.name },
    ...options,
  });
}

/** Orders the intake accepted (namespace Conveyor; dimension service only). */
export function ordersAcceptedMetric(service: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: ORDERS_ACCEPTED, dimensionsMap: { service }, ...options });
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

