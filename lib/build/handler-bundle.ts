/**
 * How a handler is bundled — once, for both runtimes: the CDK stack hands these options to
 * NodejsFunction's esbuild, and the local runtime builds the very same bundles to run them.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';

/** The handler modules of the project. */
export const HANDLERS_DIR = fileURLToPath(new URL('../../handlers/', import.meta.url));

/**
 * One minified ESM file per function, everything bundled and tree-shaken — the AWS SDK v3 too: the
 * functions run the SDK version the tests ran (package-lock.json), not whichever the Lambda
 * runtime ships that week, as AWS advises for production. Powertools and zod are bundled as well.
 */
export const HANDLER_BUNDLE = {
  format: 'esm',
  target: 'node24',
  platform: 'node',
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  external: [] as string[],
  // CommonJS code bundled into ESM may still call require() for Node built-ins.
  banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
} as const;

/**
 * Bundles handler modules (by name, e.g. `picking`) into `outDir`, which must sit inside the
 * project so the external `@aws-sdk/*` imports resolve from its node_modules.
 *
 * @returns the path of each bundle, by handler name.
 * @example
 * const bundles = await bundleHandlers(['picking'], 'node_modules/.cache/conveyor/handlers');
 * bundles.get('picking'); // …/picking.mjs
 */
export async function bundleHandlers(names: readonly string[], outDir: string): Promise<Map<string, string>> {
  const esbuild = await import('esbuild');
  mkdirSync(outDir, { recursive: true });
  const bundles = new Map<string, string>();
  await Promise.all(
    [...new Set(names)].map(async (name) => {
      const outfile = join(outDir, `${name}.mjs`);
      await esbuild.build({ ...handlerBuildOptions(name), outfile });
      bundles.set(name, outfile);
    }),
  );
  return bundles;
}

/** The esbuild options of one handler's bundle: HANDLER_BUNDLE, for its entry point. */
export function handlerBuildOptions(name: string): BuildOptions {
  return {
    ...HANDLER_BUNDLE,
    mainFields: [...HANDLER_BUNDLE.mainFields],
    external: [...HANDLER_BUNDLE.external],
    banner: { js: HANDLER_BUNDLE.banner },
    entryPoints: [join(HANDLERS_DIR, `${name}.ts`)],
    bundle: true,
    logLevel: 'silent',
  };
}
