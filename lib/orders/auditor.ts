/**
 * The dead-letter auditor function, wired to this deployment's queues and ledger: on every scheduled
 * invocation it audits each stage's DLQ (lib/operations/dead-letter-audit.ts) and reports what it
 * recorded as the stages' own metrics, so totals and alarms count every dead letter once.
 */
import { auditDeadLetters } from '../operations/dead-letter-audit.ts';
import { sqsClient } from '../aws/clients.ts';
import { mapConcurrent } from '../aws/concurrency.ts';
import { readAuditorConfig, sdkTimeoutsOf, type AuditorConfig } from '../runtime/environment.ts';
import {
  createLogger,
  createMetrics,
  LogMessage,
  MetricUnit,
  StageMetric,
  traceInvocations,
  tracer,
} from '../runtime/telemetry.ts';
import { orderLedger } from './ledger.ts';

/** Queues audited at once. */
const CONCURRENCY = 4;

export interface AuditSummary {
  readonly read: number;
  readonly recorded: number;
  readonly failedQueues: number;
}

/**
 * @example
 * // handlers/dead-letter-auditor.ts
 * export const handler = deadLetterAuditorHandler();
 */
export function deadLetterAuditorHandler(config: AuditorConfig = readAuditorConfig()): () => Promise<AuditSummary> {
  const ledger = orderLedger(config.tableName);
  const sqs = sqsClient(sdkTimeoutsOf(), tracer());
  const logger = createLogger({ function: 'dead-letter-auditor' });
  return traceInvocations('dead-letter-auditor', async function handler(): Promise<AuditSummary> {
    const at = new Date().toISOString();
    const reports = await mapConcurrent(config.queues, CONCURRENCY, async (queue) => {
      try {
        const report = await auditDeadLetters(sqs, ledger, queue, at);
        const metrics = createMetrics({ pipeline: queue.pipelineId, stage: queue.stage });
        metrics.addMetric(StageMetric.OrdersDeadLettered, MetricUnit.Count, report.ordersDeadLettered);
        metrics.addMetric(StageMetric.OrdersDiscovered, MetricUnit.Count, report.ordersDiscovered);
        metrics.publishStoredMetrics();
        if (report.recorded > 0)
          logger.warn('dead letters recorded by the auditor', {
            pipeline: queue.pipelineId,
            stage: queue.stage,
            recorded: report.recorded,
          });
        // One line per order, so that its trace shows the dead letter nobody else reported (rare: redrive-policy moves).
        for (const letter of report.recordedLetters)
          logger.warn(LogMessage.deadLetterRecorded, { pipeline: queue.pipelineId, stage: queue.stage, ...letter });
        return report;
      } catch (error) {
        logger.error('could not audit a dead-letter queue', {
          pipeline: queue.pipelineId,
          stage: queue.stage,
          error: (error as Error).message,
        });
        return undefined;
      }
    });
    const done = reports.filter((r) => r !== undefined);
    const summary = {
      read: done.reduce((n, r) => n + r.read, 0),
      recorded: done.reduce((n, r) => n + r.recorded, 0),
      failedQueues: reports.length - done.length,
    };
    logger.info('dead letters audited', summary);
    return summary;
  });
}
