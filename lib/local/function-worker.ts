/**
 * One Lambda execution environment: a worker thread that imports a handler module (its "init"),
 * then runs one invocation at a time on request. Its `process.env` is the function's own
 * environment (set by the pool), exactly as in Lambda; a timed-out environment is terminated.
 */
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { createLambdaContext, type InvocationSettings } from './lambda-events.ts';

export interface WorkerData extends InvocationSettings {
  readonly handlerModule: string;
}

export type ToWorker = {
  readonly type: 'invoke';
  readonly id: number;
  readonly event: unknown;
  readonly requestId: string;
  readonly deadline: number;
};
export type FromWorker =
  | { readonly type: 'ready'; readonly initMs: number }
  | { readonly type: 'init-error'; readonly message: string }
  | { readonly type: 'result'; readonly id: number; readonly response: unknown }
  | { readonly type: 'failure'; readonly id: number; readonly name: string; readonly message: string };

const settings = workerData as WorkerData;
const port = parentPort;
if (!port) throw new Error('function-worker.ts runs as a worker thread');

// Bundles come with source maps: stack traces point at the TypeScript sources.
process.setSourceMapsEnabled(true);

const started = performance.now();
try {
  const module = (await import(pathToFileURL(settings.handlerModule).href)) as { handler?: unknown };
  const handler = module.handler;
  if (typeof handler !== 'function') throw new Error(`${settings.handlerModule} does not export a function "handler"`);
  port.on('message', async (message: ToWorker) => {
    const context = createLambdaContext(settings, message.requestId, message.deadline);
    try {
      const response = await (handler as (event: unknown, context: unknown) => Promise<unknown>)(
        message.event,
        context,
      );
      port.postMessage({ type: 'result', id: message.id, response } satisfies FromWorker);
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      port.postMessage({ type: 'failure', id: message.id, name: e.name, message: e.message } satisfies FromWorker);
    }
  });
  port.postMessage({ type: 'ready', initMs: performance.now() - started } satisfies FromWorker);
} catch (error) {
  port.postMessage({ type: 'init-error', message: (error as Error).message } satisfies FromWorker);
}
