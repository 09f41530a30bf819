/**
 * Structured logs (Powertools Logger), CloudWatch metrics in Embedded Metric Format (Powertools
 * Metrics) and X-Ray traces (Powertools Tracer) for every Conveyor function. Logs carry ids only —
 * never order payloads; traces record the AWS calls, never request or response contents.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { getXrayTraceDataFromEnv } from '@aws-lambda-powertools/commons/utils/env';
import { LOCAL_SERVICE_NAME, METRICS_NAMESPACE } from '../contract/index.ts';
import { isTraceHeader } from './attributes.ts';

export { MetricUnit } from '@aws-lambda-powertools/metrics';
export type { Logger } from '@aws-lambda-powertools/logger';
export type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Tracer } from '@aws-lambda-powertools/tracer';
export type { Tracer };

// Metric names, the namespace and the log messages queries select live in the contract (lib/contract).
export { METRICS_NAMESPACE, StageMetric, LogMessage } from '../contract/index.ts';

function serviceName(): string {
  return process.env.POWERTOOLS_SERVICE_NAME ?? LOCAL_SERVICE_NAME;
}

export function createLogger(keys: Record<string, string>): Logger {
  return new Logger({ serviceName: serviceName(), persistentKeys: keys });
}

export function createMetrics(dimensions: Record<string, string>): Metrics {
  return new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
    serviceName: serviceName(),
    defaultDimensions: dimensions,
  });
}

/**
 * Powertools traces only inside Lambda (AWS_EXECUTION_ENV set) and unless POWERTOOLS_TRACE_ENABLED is
 * `false`. Where it cannot trace — the local runtime, tests, benchmarks — its module (and the X-Ray SDK
 * under it, tens of milliseconds of a cold start) is not even loaded; where it may, Powertools decides.
 */
function mayTrace(env: NodeJS.ProcessEnv): boolean {
  return (env.AWS_EXECUTION_ENV ?? '') !== '' && env.POWERTOOLS_TRACE_ENABLED?.toLowerCase() !== 'false';
}

const tracing = mayTrace(process.env) ? await import('@aws-lambda-powertools/tracer') : undefined;
let shared: Tracer | undefined;

/**
 * The execution environment's tracer, or undefined where tracing is off: clients are left as they
 * are, nothing is sent to an X-Ray daemon and nothing is logged about a missing one.
 */
export function tracer(): Tracer | undefined {
  if (tracing && !shared) {
    // Every remote call is an AWS SDK call, captured through its client (clients.ts): patching
    // http, https and fetch globally as well would only add init time.
    const created = new tracing.Tracer({ serviceName: serviceName(), captureHTTPsRequests: false });
    if (created.isTracingEnabled()) shared = created;
  }
  return shared;
}

/**
 * Runs each invocation of `handler` in a subsegment of its own (`## name`), annotated with the cold
 * start, the service and `annotations` (searchable in X-Ray: `annotation.stage = "packing"`), with a
 * thrown error recorded on it. What Powertools' `captureLambdaHandler` does — hand-written because
 * that one comes as a class-method decorator or a middy middleware, neither of which this code uses —
 * and without its response capture: responses hold order data, which traces must not.
 *
 * @example
 * export const handler = traceInvocations('picking', createStageHandler(pickingStage, { ledger }), { pipeline: 'wh-1', stage: 'picking' });
 */
export function traceInvocations<A extends unknown[], R>(
  name: string,
  handler: (...args: A) => Promise<R>,
  annotations: Readonly<Record<string, string>> = {},
  traced: Tracer | undefined = tracer(),
): (...args: A) => Promise<R> {
  if (!traced?.isTracingEnabled()) return handler;
  return async (...args: A): Promise<R> => {
    const parent = traced.getSegment();
    if (!parent) return handler(...args);
    const subsegment = parent.addNewSubsegment(`## ${name}`);
    traced.setSegment(subsegment);
    traced.annotateColdStart();
    traced.addServiceNameAnnotation();
    for (const [key, value] of Object.entries(annotations)) traced.putAnnotation(key, value);
    try {
      return await handler(...args);
    } catch (error) {
      traced.addErrorAsMetadata(error as Error);
      throw error;
    } finally {
      subsegment.close();
      traced.setSegment(parent);
    }
  };
}

/**
 * The X-Ray trace header of the running invocation — the trace Lambda started or joined for it
 * (`_X_AMZN_TRACE_ID`, or the invocation's store when one environment runs several at once) — or
 * undefined where there is none (the local runtime, tests): nothing is made up there.
 *
 * @example
 * currentTraceHeader(); // 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1' in Lambda
 */
export function currentTraceHeader(): string | undefined {
  const data = getXrayTraceDataFromEnv();
  if (!data) return undefined;
  const header = Object.entries(data)
    .map(([key, value]) => `${key}=${value}`)
    .join(';');
  return isTraceHeader(header) ? header : undefined;
}
