/**
 * Bundling the AWS SDK into the handlers (issue 11): bundle size and module init time of every
 * handler bundled as the stack deploys it (SDK included) against the former build (SDK left
 * external, loaded from node_modules as the Lambda runtime's own copy would be). The two builds
 * are timed in alternation — a fresh execution environment (worker thread) each, source maps
 * enabled as in Lambda — so machine load hits both alike. Median of `rounds`.
 *
 * Usage: node bench/sdk-bundling.ts [rounds=9]
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { bundleHandlers, HANDLER_BUNDLE, HANDLERS_DIR } from '../lib/build/handler-bundle.ts';
import { LocalFunction } from '../lib/local/local-function.ts';
import { handlerEnvironment, HANDLERS } from './handlers.ts';

const OUT = fileURLToPath(new URL('../node_modules/.cache/conveyor/bench-sdk-bundling/', import.meta.url));
const rounds = Number(process.argv[2] ?? 9);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`rounds must be a whole number ≥ 1, got "${process.argv[2]}" — e.g. node bench/sdk-bundling.ts 9`);
  process.exit(2);
}

/** The former build: the same options with `@aws-sdk/*` external. */
async function buildSdkExternal(name: string): Promise<string> {
  const outfile = join(OUT, 'sdk-external', `${name}.mjs`);
  await esbuild.build({
    ...HANDLER_BUNDLE,
    mainFields: [...HANDLER_BUNDLE.mainFields],
    banner: { js: HANDLER_BUNDLE.banner },
    external: ['@aws-sdk/*'],
    entryPoints: [join(HANDLERS_DIR, `${name}.ts`)],
    bundle: true,
    outfile,
    logLevel: 'silent',
  });
  return outfile;
}

async function initMs(handler: string, file: string): Promise<number> {
  const fn = new LocalFunction(
    {
      name: `bench-${handler}`,
      handlerModule: file,
      environment: handlerEnvironment(handler),
      timeoutSeconds: 10,
      memoryMb: 256,
      maxConcurrency: 1,
      region: 'us-east-1',
    },
    () => undefined,
  );
  // An event the handler rejects at once (not an SQS batch / unknown route): only init is timed.
  await fn.invoke(
    handler === 'intake' ? { httpMethod: 'GET', resource: '/nowhere', path: '/nowhere', headers: {} } : { Records: [] },
  );
  const ms = fn.stats.lastInitMs ?? Number.NaN;
  await fn.close();
  return ms;
}

const bundled = await bundleHandlers(HANDLERS, join(OUT, 'bundled'));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const report: Record<string, Record<string, { bundleKb: number; initMsMedian: number }>> = {
  sdkExternal: {},
  sdkBundled: {},
};
for (const handler of HANDLERS) {
  const files = { sdkExternal: await buildSdkExternal(handler), sdkBundled: bundled.get(handler) as string };
  const times: Record<string, number[]> = { sdkExternal: [], sdkBundled: [] };
  for (let round = 0; round < rounds; round++)
    for (const [build, file] of Object.entries(files)) times[build]!.push(await initMs(handler, file));
  for (const [build, file] of Object.entries(files)) {
    report[build]![handler] = {
      bundleKb: Number((statSync(file).size / 1024).toFixed(1)),
      initMsMedian: Number(median(times[build]!).toFixed(1)),
    };
  }
}
console.log(JSON.stringify(report, null, 2));
