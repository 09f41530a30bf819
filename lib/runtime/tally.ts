/**
 * What one invocation did, counted in one place and published once: the EMF metrics (what the
 * alarms, dashboards and local stats read) and the one "batch processed" log line.
 */
import { LogMessage, MetricUnit, StageMetric, type Logger, type Metrics } from './telemetry.ts';

export class Tally {
  records = 0;
  succeeded = 0;
  /** Records returned to the queue for another attempt. */
  retried = 0;
  /** Records sent to the dead-letter queue by this invocation. */
  deadLettered = 0;
  /** Records acknowledged without work: repeats in the batch, redeliveries, final items. */
  duplicates = 0;
  /** Items that became dead-lettered (not repeats, not poison without an item). */
  itemsDeadLettered = 0;
  /** Dead-lettered items that moved on again (a redrive). */
  itemsRevived = 0;
  /** Items whose ledger record this stage created: the intake never recorded them. */
  itemsDiscovered = 0;
  /** End-to-end latency of each item completed here (last stage only). */
  readonly latenciesMs: number[] = [];

  /** Publishes the metrics and the summary line. */
  publish(metrics: Metrics, logger: Logger, durationMs: number): void {
    const count = (name: string, value: number) => metrics.addMetric(name, MetricUnit.Count, value);
    count(StageMetric.Records, this.records);
    count(StageMetric.BatchSize, this.records);
    count(StageMetric.Succeeded, this.succeeded);
    count(StageMetric.Failed, this.retried);
    count(StageMetric.DeadLettered, this.deadLettered);
    count(StageMetric.Duplicates, this.duplicates);
    count(StageMetric.OrdersDeadLettered, this.itemsDeadLettered);
    count(StageMetric.OrdersRevived, this.itemsRevived);
    count(StageMetric.OrdersDiscovered, this.itemsDiscovered);
    for (const ms of this.latenciesMs) metrics.addMetric(StageMetric.OrderLatency, MetricUnit.Milliseconds, ms);
    metrics.addMetric(StageMetric.BatchDuration, MetricUnit.Milliseconds, durationMs);
    metrics.publishStoredMetrics();
    logger.info(LogMessage.batchProcessed, {
      records: this.records,
      succeeded: this.succeeded,
      retried: this.retried,
      deadLettered: this.deadLettered,
      duplicates: this.duplicates,
      durationMs,
    });
  }
}
