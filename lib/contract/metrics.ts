/**
 * Conveyor's CloudWatch metrics: what the handlers emit (Embedded Metric Format, through Powertools
 * Metrics) and what alarms, dashboards, `conveyor status` and the local stats read. One place, so
 * a renamed metric or dimension cannot leave a reader behind (test/contract proves it end to end).
 */

/** The namespace of every Conveyor metric. */
export const METRICS_NAMESPACE = 'Conveyor';

/**
 * Dimension names. Powertools adds `service` (its service name) to every metric; stage metrics
 * carry `pipeline` and `stage` as well, intake metrics nothing more.
 */
export const MetricDimension = { service: 'service', pipeline: 'pipeline', stage: 'stage' } as const;

/** Metrics each stage emits per batch, dimensioned by service, pipeline and stage. */
export const StageMetric = {
  /** Records in the batch. */
  Records: 'Records',
  /** Records finished and forwarded (or, at the last stage, recorded). */
  Succeeded: 'Succeeded',
  /** Records that failed transiently and were returned to the queue with a backoff. */
  Failed: 'Failed',
  /** Records sent to the stage's dead-letter queue (poison, rejected or out of retries). */
  DeadLettered: 'DeadLettered',
  /** Records whose order had already passed this stage (redeliveries), acknowledged without work. */
  Duplicates: 'Duplicates',
  BatchSize: 'BatchSize',
  BatchDuration: 'BatchDuration',
  /** Acceptance to delivery, per delivered order (last stage only). */
  OrderLatency: 'OrderLatency',
  /** Orders that became dead-lettered in this batch (not counting repeats or poison without an order). */
  OrdersDeadLettered: 'OrdersDeadLettered',
  /** Dead-lettered orders that moved on again (after a redrive). */
  OrdersRevived: 'OrdersRevived',
  /** Orders whose status record this stage created: the API never recorded them (put straight on a queue). */
  OrdersDiscovered: 'OrdersDiscovered',
} as const;
export type StageMetricName = (typeof StageMetric)[keyof typeof StageMetric];

/** Metrics the intake emits per request, dimensioned by service only. */
export const IntakeMetric = {
  OrdersAccepted: 'OrdersAccepted',
  OrdersRejected: 'OrdersRejected',
  OrdersDuplicate: 'OrdersDuplicate',
  /** Orders a `DELETE /orders/{orderId}` cancelled: one per order, when the cancel applied (a repeated cancel counts nothing). */
  OrdersCancelled: 'OrdersCancelled',
  /** Of those, orders that were dead-lettered until then: they leave the dead-lettered total. */
  DeadLetteredOrdersCancelled: 'DeadLetteredOrdersCancelled',
} as const;
export type IntakeMetricName = (typeof IntakeMetric)[keyof typeof IntakeMetric];

/** The service name of the local runtime (and of a handler run without a deployer's). */
export const LOCAL_SERVICE_NAME = 'conveyor';

/**
 * The service name of a deployed stack — Powertools' POWERTOOLS_SERVICE_NAME: the `service` key of
 * every log line and the `service` dimension of every metric. The stack name itself, so that two
 * deployments in one account and region never mix their metrics (dimension values are
 * case-sensitive: `Conveyor` is not `conveyor`).
 *
 * @example
 * serviceNameOfStack('Conveyor-Staging'); // 'Conveyor-Staging'
 */
export function serviceNameOfStack(stackName: string): string {
  return stackName;
}

/** The dimensions of a stage's metrics. */
export function stageMetricDimensions(service: string, pipelineId: string, stage: string): Record<string, string> {
  return { [MetricDimension.service]: service, [MetricDimension.pipeline]: pipelineId, [MetricDimension.stage]: stage };
}

/** The dimensions of the intake's metrics. */
export function intakeMetricDimensions(service: string): Record<string, string> {
  return { [MetricDimension.service]: service };
}
