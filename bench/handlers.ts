/**
 * The built handlers: bundle size (minified, as the stack deploys them) and module init time —
 * a cold start's import of the bundle in a fresh execution environment (a new worker thread, its
 * own V8 isolate), median of several. Usage: node bench/handlers.ts
 */
import { statSync } from 'node:fs';

import { fileURLToPath } from 'node:url';
import { bundleHandlers } from '../lib/build/handler-bundle.ts';
import { LocalFunction } from '../lib/local/local-function.ts';

export const HANDLERS = ['intake', 'picking', 'packing', 'delivery'] as const;
const OUT = fileURLToPath(new URL('../node_modules/.cache/conveyor/bench-handlers/', import.meta.url));

/** A valid configuration for each handler; init reads it (nothing is called: no endpoint is reached). */
export function handlerEnvironment(handler: string): Record<string, string> {
  const common = { CONVEYOR_STATUS_TABLE: 'orders', CONVEYOR_TRACKING: 'full', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', POWERTOOLS_LOG_LEVEL: 'SILENT' };
  if (handler === 'intake') return { ...common, CONVEYOR_ENTRY_QUEUES: JSON.stringify({ 'wh-1': 'http://127.0.0.1:9/0/q' }) };
  return {
    ...common,
    CONVEYOR_PIPELINE: 'wh-1',
    CONVEYOR_STAGE: handler,
    CONVEYOR_QUEUE_URL: 'http://127.0.0.1:9/0/q',
    CONVEYOR_DLQ_URL: 'http://127.0.0.1:9/0/d',
    ...(handler === 'delivery' ? {} : { CONVEYOR_NEXT_QUEUE_URL: 'http://127.0.0.1:9/0/n' }),
    CONVEYOR_MAX_RECEIVE_COUNT: '10',
    CONVEYOR_BACKOFF_BASE_SECONDS: '2',
    CONVEYOR_BACKOFF_CAP_SECONDS: '300',
  };
}

export async function measureHandlers(samples = 5): Promise<{ bundleKb: Record<string, number>; initMs: Record<string, number> }> {
  const bundles = await bundleHandlers(HANDLERS, OUT);
  const bundleKb: Record<string, number> = {};
  const initMs: Record<string, number> = {};
  for (const handler of HANDLERS) {
    const file = bundles.get(handler) as string;
    bundleKb[handler] = Number((statSync(file).size / 1024).toFixed(1));
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      const fn = new LocalFunction(
        { name: `bench-${handler}`, handlerModule: file, environment: handlerEnvironment(handler), timeoutSeconds: 10, memoryMb: 256, maxConcurrency: 1, region: 'us-east-1' },
        () => undefined,
      );
      // An event the handler rejects at once (not an SQS batch / unknown route): only init is timed.
      await fn.invoke(handler === 'intake' ? { httpMethod: 'GET', resource: '/nowhere', path: '/nowhere', headers: {} } : { Records: [] });
      times.push(fn.stats.lastInitMs ?? Number.NaN);
      await fn.close();
    }
    times.sort((a, b) => a - b);
    initMs[handler] = Number((times[Math.floor(times.length / 2)] as number).toFixed(1));
  }
  return { bundleKb, initMs };
}

if (import.meta.main) console.log(JSON.stringify(await measureHandlers(), null, 2));
