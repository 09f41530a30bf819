/**
 * The built handlers: bundle size (minified, as the stack deploys them) and module init time —
 * a cold start's import of the bundle in a fresh execution environment (a new worker thread, its
 * own V8 isolate), median of several. Usage: node bench/handlers.ts
 */
import { statSync } from 'node:fs';

import { fileURLToPath } from 'node:url';
import { bundleHandlers } from '../lib/build/handler-bundle.ts';
import { LocalFunction } from '../lib/local/local-function.ts';
import { intakeEnvironment, stageEnvironment } from '../lib/runtime/environment.ts';
import { loadTopology } from '../lib/topology/index.ts';

export const HANDLERS = ['intake', 'picking', 'packing', 'delivery'] as const;
const OUT = fileURLToPath(new URL('../node_modules/.cache/conveyor/bench-handlers/', import.meta.url));

/** What the bench's functions reach: a closed local port (nothing is called at init). */
const NOWHERE = 'http://127.0.0.1:9/0';

/**
 * A valid configuration for each handler, built by the same functions the stack and the local runtime
 * use (lib/runtime/environment.ts), so it cannot drift from what the handlers read; init reads it.
 */
export function handlerEnvironment(handler: string): Record<string, string> {
  const common = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', POWERTOOLS_LOG_LEVEL: 'SILENT' };
  const topology = loadTopology({}, 'bench');
  const pipeline = topology.pipelines[0]!;
  if (handler === 'intake') {
    return { ...common, ...intakeEnvironment(topology, { tableName: 'orders', entryQueueUrls: Object.fromEntries(topology.pipelines.map((p) => [p.id, `${NOWHERE}/${p.id}`])) }) };
  }
  const stage = pipeline.stages.find((s) => s.handler === handler);
  if (!stage) throw new Error(`no stage of ${pipeline.id} runs the handler ${handler}`);
  return {
    ...common,
    ...stageEnvironment(topology, stage, {
      queueUrl: `${NOWHERE}/q`,
      deadLetterQueueUrl: `${NOWHERE}/d`,
      ...(stage.next ? { nextQueueUrl: `${NOWHERE}/n` } : {}),
      tableName: 'orders',
    }),
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
