/**
 * The metrics alarms and dashboard graphs read, built once: an alarm and the graph an operator
 * opens next to it show the same numbers. Conveyor's own metrics take their namespace, names and
 * dimensions from lib/contract.
 */
import type { Duration } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import {
  IntakeMetric,
  intakeMetricDimensions,
  METRICS_NAMESPACE,
  stageMetricDimensions,
  type AlarmRule,
  type IntakeMetricName,
  type StageMetricName,
} from '../contract/index.ts';
import type { Stage } from '../topology/index.ts';

/** A rule's statistic as CloudWatch spells it. */
export function statisticOf(rule: Pick<AlarmRule<string>, 'statistic'>): string {
  return rule.statistic === 'p99' ? cloudwatch.Stats.percentile(99) : rule.statistic;
}

/**
 * Failed invocations as a percentage of invocations. No invocations is 0 %, not a division by
 * zero; a period with invocations but no Errors datapoint counts as no errors.
 */
export function errorRatePercent(fn: lambda.IFunction, period: Duration): cloudwatch.MathExpression {
  return percentOf(
    fn.metricErrors({ statistic: cloudwatch.Stats.SUM, period }),
    fn.metricInvocations({ statistic: cloudwatch.Stats.SUM, period }),
    'error rate (%)',
    period,
  );
}

/** 5xx responses as a percentage of requests of the API stage (dimensions ApiName and Stage); 0 % without requests. */
export function apiServerErrorRatePercent(stage: apigateway.Stage, period: Duration): cloudwatch.MathExpression {
  return percentOf(
    stage.metricServerError({ statistic: cloudwatch.Stats.SUM, period }),
    stage.metricCount({ statistic: cloudwatch.Stats.SUM, period }),
    '5xx rate (%)',
    period,
  );
}

/** `part` as a percentage of `whole`: 0 when `whole` is 0, and a missing `part` datapoint counts as 0. */
function percentOf(
  part: cloudwatch.IMetric,
  whole: cloudwatch.IMetric,
  label: string,
  period: Duration,
): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: 'IF(whole > 0, 100 * FILL(part, 0) / whole, 0)',
    usingMetrics: { part, whole },
    label,
    period,
  });
}

/** One of the EMF metrics a stage emits, under the deployment's service name. */
export function stageMetric(
  service: string,
  stage: Pick<Stage, 'pipelineId' | 'name'>,
  metricName: StageMetricName,
  options: cloudwatch.MetricOptions = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: stageMetricDimensions(service, stage.pipelineId, stage.name),
    ...options,
  });
}

/** One of the EMF metrics the intake emits, under the deployment's service name. */
export function intakeMetric(
  service: string,
  metricName: IntakeMetricName,
  options: cloudwatch.MetricOptions = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: intakeMetricDimensions(service),
    ...options,
  });
}

/** Orders the intake accepted, under the deployment's service name. */
export function ordersAcceptedMetric(service: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
  return intakeMetric(service, IntakeMetric.OrdersAccepted, options);
}
