/**
 * The breaker function's ports on AWS: the event source mapping (Lambda), the counts and the alarms
 * (CloudWatch), the notification (SNS) — each one call or a few, nothing decided here.
 */
import {
  type CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import {
  GetEventSourceMappingCommand,
  type LambdaClient,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { BREAKER_METRICS, breakerChangeMessage } from '../contract/breaker.ts';
import { RUNBOOK } from '../contract/alarm-rules.ts';
import { MAX_CONCURRENCY_RANGE } from '../contract/limits.ts';
import { stageMetricDimensions } from '../contract/metrics.ts';
import type {
  AlarmsPort,
  BreakerNotice,
  BreakerStage,
  CountsPort,
  MappingPort,
  NotifierPort,
} from '../operations/circuit-breakers.ts';

/** SNS refuses longer subjects. */
const MAX_SUBJECT = 100;
/** CloudWatch's finest period for these metrics (standard resolution). */
const PERIOD_SECONDS = 60;

/**
 * Every call bounded: the function runs every minute, and a call that hangs would only delay the
 * next round. The SDK's standard retries (3 attempts) stay.
 */
export const BREAKER_CLIENT_CONFIG = {
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
} as const;

export function lambdaMappings(lambda: LambdaClient): MappingPort {
  return {
    async maxConcurrency(uuid) {
      const mapping = await lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }));
      return mapping.ScalingConfig?.MaximumConcurrency;
    },
    async apply(uuid, setting) {
      await lambda.send(
        new UpdateEventSourceMappingCommand({
          UUID: uuid,
          Enabled: setting.enabled,
          ...(setting.maxConcurrency !== undefined
            ? { ScalingConfig: { MaximumConcurrency: setting.maxConcurrency } }
            : {}),
        }),
      );
    },
  };
}

/** Sums of the stage's BREAKER_METRICS, minute by minute over [from, to). */
export function cloudWatchCounts(
  cloudwatch: CloudWatchClient,
  metrics: { readonly namespace: string; readonly service: string },
): CountsPort {
  return {
    async counts(stage: BreakerStage, fromMs: number, toMs: number) {
      const dimensions = Object.entries(stageMetricDimensions(metrics.service, stage.pipelineId, stage.stage)).map(
        ([Name, Value]) => ({ Name, Value }),
      );
      const query = (Id: string, MetricName: string): MetricDataQuery => ({
        Id,
        MetricStat: {
          Metric: { Namespace: metrics.namespace, MetricName, Dimensions: dimensions },
          Period: PERIOD_SECONDS,
          Stat: 'Sum',
        },
        ReturnData: true,
      });
      const sums = { records: 0, failed: 0 };
      let NextToken: string | undefined;
      do {
        const page = await cloudwatch.send(
          new GetMetricDataCommand({
            MetricDataQueries: [query('records', BREAKER_METRICS.records), query('failed', BREAKER_METRICS.failed)],
            StartTime: new Date(fromMs),
            EndTime: new Date(Math.max(toMs, fromMs + PERIOD_SECONDS * 1000)),
            ...(NextToken ? { NextToken } : {}),
          }),
        );
        for (const result of page.MetricDataResults ?? []) {
          if (result.Id === 'records' || result.Id === 'failed')
            sums[result.Id] += (result.Values ?? []).reduce((a, b) => a + b, 0);
        }
        NextToken = page.NextToken;
      } while (NextToken);
      return sums;
    },
  };
}

/** The breaker alarms (by their common prefix) in ALARM now. */
export function cloudWatchAlarms(cloudwatch: CloudWatchClient, alarmPrefix: string): AlarmsPort {
  return {
    async inAlarm() {
      const names = new Set<string>();
      let NextToken: string | undefined;
      do {
        const page = await cloudwatch.send(
          new DescribeAlarmsCommand({
            AlarmNamePrefix: alarmPrefix,
            StateValue: 'ALARM',
            AlarmTypes: ['MetricAlarm'],
            ...(NextToken ? { NextToken } : {}),
          }),
        );
        for (const alarm of page.MetricAlarms ?? []) if (alarm.AlarmName) names.add(alarm.AlarmName);
        NextToken = page.NextToken;
      } while (NextToken);
      return names;
    },
  };
}

export interface NotificationContext {
  readonly stackName: string;
  /** The stack's region (AWS_REGION in Lambda), for the commands the message suggests. */
  readonly region?: string;
}

export function snsNotifier(sns: SNSClient, topicArn: string, context: NotificationContext): NotifierPort {
  return {
    async notify(notice) {
      const { subject, message } = breakerNotification(notice, context);
      await sns.send(new PublishCommand({ TopicArn: topicArn, Subject: subject, Message: message }));
    },
  };
}

/**
 * What operators read when a breaker moves: which stage, from what to what and why, what it means
 * for the orders, and the commands that override it (the README's runbook has the rest).
 *
 * @example
 * breakerNotification({ stage, from: 'closed', to: { state: 'open', since, reason: '30 of 40 records failed …' } }, { stackName: 'Conveyor' }).subject;
 * // 'Conveyor: circuit breaker open in wh-1/packing'
 */
export function breakerNotification(
  notice: BreakerNotice,
  context: NotificationContext,
): { subject: string; message: string } {
  const { stage, from, to } = notice;
  const flags = ` --stage ${stage.stage} --warehouse ${stage.pipelineId} --target aws --stack ${context.stackName}${context.region ? ` --region ${context.region}` : ''}`;
  const { settings } = stage;
  const meaning = {
    open:
      'The stage stopped consuming its queue (its event source mapping is disabled): its orders wait there, not in its dead-letter queue, and the stages before it keep working. ' +
      (to.manual
        ? 'An operator holds it open until an operator closes it.'
        : `After ${settings.openSeconds} s it goes half-open and lets ${settings.probeRecords} records through at concurrency ${MAX_CONCURRENCY_RANGE.min}.`),
    'half-open': `The stage consumes again at concurrency ${MAX_CONCURRENCY_RANGE.min} as a probe: after ${settings.probeRecords} records it closes if fewer than ${settings.failureRatePercent} % of them failed, and opens again otherwise.`,
    closed: 'The stage consumes its queue again at its full concurrency.',
  }[to.state];
  const message = [
    `${breakerChangeMessage(to.state)}: ${stage.key} (stack ${context.stackName}), was ${from}, since ${new Date(to.since).toISOString()}.`,
    `Why: ${to.reason}.`,
    '',
    meaning,
    '',
    `Close it by hand (the dependency is fixed): npx conveyor breaker close${flags}`,
    `Hold it open while you work on it:       npx conveyor breaker open${flags}`,
    `See README '${RUNBOOK.circuitBreaker}'.`,
  ].join('\n');
  return {
    subject: `${context.stackName}: ${breakerChangeMessage(to.state)} in ${stage.key}`.slice(0, MAX_SUBJECT),
    message,
  };
}
