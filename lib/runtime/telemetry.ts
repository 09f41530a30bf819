/**
 * Structured logs (Powertools Logger) and CloudWatch metrics in Embedded Metric Format
 * (Powertools Metrics) for every Conveyor function. Logs carry ids only — never order payloads.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

export { MetricUnit } from '@aws-lambda-powertools/metrics';
export type { Logger } from '@aws-lambda-powertools/logger';
export type { Metrics } from '@aws-lambda-powertools/metrics';

export const METRICS_NAMESPACE = 'Conveyor';

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

export function createLogger(keys: Record<string, string>): Logger {
  return new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'conveyor', persistentKeys: keys });
}

export function createMetrics(dimensions: Record<string, string>): Metrics {
  return new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'conveyor',
    defaultDimensions: dimensions,
  });
}
