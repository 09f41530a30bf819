/**
 * Structured logs (Powertools Logger) and CloudWatch metrics in Embedded Metric Format
 * (Powertools Metrics) for every Conveyor function. Logs carry ids only — never order payloads.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { LOCAL_SERVICE_NAME, METRICS_NAMESPACE } from '../contract/index.ts';

export { MetricUnit } from '@aws-lambda-powertools/metrics';
export type { Logger } from '@aws-lambda-powertools/logger';
export type { Metrics } from '@aws-lambda-powertools/metrics';

// Metric names, the namespace and the log messages queries select live in the contract (lib/contract).
export { METRICS_NAMESPACE, StageMetric, LogMessage } from '../contract/index.ts';

export function createLogger(keys: Record<string, string>): Logger {
  return new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? LOCAL_SERVICE_NAME, persistentKeys: keys });
}

export function createMetrics(dimensions: Record<string, string>): Metrics {
  return new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? LOCAL_SERVICE_NAME,
    defaultDimensions: dimensions,
  });
}
