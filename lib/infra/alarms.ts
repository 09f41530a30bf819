/**
 * CloudWatch alarms built from the shared alarm rules (lib/contract/alarm-rules.ts): the rule
 * gives the figure, statistic, threshold and periods; this file only says which resource's metric
 * that is and what the alarm means to an operator. Every alarm compares with "greater than" and
 * treats missing data as healthy: idle queues and functions report nothing.
 */
import { Duration } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { apiAlarmRule, type ApiAlarmKind, type StageAlarmKind, type StageAlarmRule } from '../contract/index.ts';
import type { ApiAlarmSettings, RetentionSettings, Stage } from '../topology/index.ts';
import { formatDuration } from './format.ts';
import { apiServerErrorRatePercent, errorRatePercent, statisticOf } from './metrics.ts';
import { pascalCase } from './outputs.ts';
import type { PipelineStage } from './stage.ts';

const COMMON = {
  comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
  // Idle stages report nothing (SQS stops reporting empty, untouched queues; Lambda reports only
  // invocations): silence means healthy. A queue holding messages always reports.
  treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
} as const;

/** `Conveyor-wh-1-picking-dead-letters`: the stack (prefix), the stage, what is wrong. */
export function stageAlarmName(
  prefix: string,
  stage: Pick<Stage, 'pipelineId' | 'name'>,
  kind: StageAlarmKind,
): string {
  return `${prefix}-${stage.pipelineId}-${stage.name}-${kind}`;
}

/** The metric a stage rule judges, on the stage's own queue, DLQ or function. */
function stageMetricOf(built: PipelineStage, rule: StageAlarmRule): cloudwatch.IMetric {
  const options = { statistic: statisticOf(rule), period: Duration.seconds(rule.periodSeconds) };
  const queue = rule.subject === 'dead-letter-queue' ? built.deadLetterQueue : built.queue;
  switch (rule.figure) {
    case 'visible-messages':
      return queue.metricApproximateNumberOfMessagesVisible(options);
    case 'oldest-message-age':
      return queue.metricApproximateAgeOfOldestMessage(options);
    case 'error-rate-percent':
      return errorRatePercent(built.function, options.period);
    case 'throttles':
      return built.function.metricThrottles(options);
  }
}

/** What the alarm means, for the operator reading the notification or the console. */
function stageAlarmDescription(stage: Stage, rule: StageAlarmRule, retention: RetentionSettings): string {
  const window =
    rule.evaluationPeriods === 1
      ? `for ${formatDuration(rule.periodSeconds)}`
      : `for ${rule.evaluationPeriods} × ${formatDuration(rule.periodSeconds)}`;
  const see = `See README '${rule.runbook}'.`;
  switch (rule.kind) {
    case 'dead-letters':
      return `Dead letters in ${stage.key}: its dead-letter queue holds orders the stage gave up on (poison input, rejected, or failed ${stage.maxReceiveCount} receives). They wait there, unprocessed, until redriven. ${see}`;
    case 'backlog':
      return `Backlog in ${stage.key}: the oldest message in its queue is older than ${formatDuration(rule.threshold)} ${window}. Orders wait: the stage is paused, too slow or too narrow (max concurrency ${stage.maxConcurrency}), or retrying a sick dependency. ${see}`;
    case 'error-rate':
      return `Function errors in ${stage.key}: more than ${rule.threshold} % of its invocations failed as a whole (an exception, a timeout, out of memory) ${window}; their batches return to the queue and head for the DLQ. Records failed one by one do not count here. ${see}`;
    case 'throttles':
      return `Throttles in ${stage.key}: Lambda refused more than ${rule.threshold} of its invocations per ${formatDuration(rule.periodSeconds)} ${window} (account or reserved concurrency exhausted); the stage slows down. ${see}`;
    case 'queue-retention':
      return `Messages near their retention in ${stage.key}: the oldest message in its queue is older than ${formatDuration(rule.threshold)} of its ${retention.queueDays}-day retention; SQS deletes it at the end, order and all. Resume or scale the stage now. ${see}`;
    case 'dead-letter-retention':
      return `Dead letters near their retention in ${stage.key}: the oldest dead letter is older than ${formatDuration(rule.threshold)} of the dead-letter queue's ${retention.deadLetterDays}-day retention; SQS deletes it at the end. Redrive or export the dead letters now. ${see}`;
  }
}

/** One stage alarm. It notifies nobody itself: it feeds its pipeline's composite alarm. */
export function createStageAlarm(
  scope: Construct,
  prefix: string,
  built: PipelineStage,
  rule: StageAlarmRule,
  retention: RetentionSettings,
): cloudwatch.Alarm {
  const { stage } = built;
  return new cloudwatch.Alarm(scope, `${pascalCase(stage.key)}${pascalCase(rule.kind)}Alarm`, {
    ...COMMON,
    alarmName: stageAlarmName(prefix, stage, rule.kind),
    alarmDescription: stageAlarmDescription(stage, rule, retention),
    metric: stageMetricOf(built, rule),
    threshold: rule.threshold,
    evaluationPeriods: rule.evaluationPeriods,
  });
}

/** What the API-level alarms watch. */
export interface ApiFront {
  readonly api: apigateway.RestApi;
  readonly intake: lambda.IFunction;
  readonly statusTable: dynamodb.Table;
  /** The status-table operations the functions perform (their throttles and system errors are watched). */
  readonly tableOperations: dynamodb.Operation[];
}

function apiMetricOf(front: ApiFront, kind: ApiAlarmKind, statistic: string, period: Duration): cloudwatch.IMetric {
  switch (kind) {
    case 'api-5xx-rate':
      return apiServerErrorRatePercent(front.api.deploymentStage, period);
    case 'api-latency-p99':
      return front.api.deploymentStage.metricLatency({ statistic, period });
    case 'intake-error-rate':
      return errorRatePercent(front.intake, period);
    case 'intake-throttles':
      return front.intake.metricThrottles({ statistic, period });
    case 'table-throttles':
      return front.statusTable.metricThrottledRequestsForOperations({
        operations: front.tableOperations,
        statistic,
        period,
      });
    case 'table-system-errors':
      return front.statusTable.metricSystemErrorsForOperations({
        operations: front.tableOperations,
        statistic,
        period,
      });
  }
}

const API_ALARM_MEANING: Record<ApiAlarmKind, (threshold: number) => string> = {
  'api-5xx-rate': (t) =>
    `API errors: more than ${t} % of order API requests answered 5xx. Bad input is a 4xx, so a 5xx is a fault: the intake function failing or throttled, or SQS / DynamoDB unavailable (503). Clients must retry.`,
  'api-latency-p99': (t) =>
    `API latency: the slowest 1 % of order API requests took more than ${t} ms; a dependency is slow or the intake is starved of concurrency.`,
  'intake-error-rate': (t) =>
    `Intake errors: more than ${t} % of the intake function's invocations failed as a whole (crash, timeout, out of memory); clients got 5xx without a Retry-After.`,
  'intake-throttles': (t) =>
    `Intake throttles: Lambda refused more than ${t} intake invocations per period; clients got 5xx (the account's concurrency is used up).`,
  'table-throttles': (t) =>
    `Status table throttles: more than ${t} requests to the order status table were throttled; the intake answers 503 and stages retry.`,
  'table-system-errors': (t) =>
    `Status table errors: DynamoDB answered more than ${t} requests to the order status table with a server error; the intake answers 503 and stages retry.`,
};

/** One API-level alarm: these notify directly, clients being affected now. */
export function createApiAlarm(
  scope: Construct,
  prefix: string,
  kind: ApiAlarmKind,
  settings: ApiAlarmSettings,
  front: ApiFront,
): cloudwatch.Alarm {
  const rule = apiAlarmRule(kind, settings);
  const period = Duration.seconds(rule.periodSeconds);
  // The 5xx alarm keeps the construct id it always had: a new id would replace an alarm of the same name.
  return new cloudwatch.Alarm(scope, kind === 'api-5xx-rate' ? 'ApiServerErrorRateAlarm' : `${pascalCase(kind)}Alarm`, {
    ...COMMON,
    alarmName: `${prefix}-${kind}`,
    alarmDescription: `${API_ALARM_MEANING[kind](rule.threshold)} Judged over ${rule.evaluationPeriods} × ${formatDuration(rule.periodSeconds)}. See README '${rule.runbook}'.`,
    metric: apiMetricOf(front, kind, statisticOf(rule), period),
    threshold: rule.threshold,
    evaluationPeriods: rule.evaluationPeriods,
  });
}
