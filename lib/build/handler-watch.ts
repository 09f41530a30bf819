/**
 * Handler bundles that follow their sources (`npm start -- --watch`): each handler is an esbuild
 * context (incremental: a rebuild re-reads only what changed), its metafile names every file of
 * the bundle, and the directories of those files are watched with `fs.watch` (inotify on Linux).
 * An edit to a handler or to anything it imports rebuilds the bundles that contain that file.
 *
 * Why not esbuild's own `watch()`: it polls every input file, node_modules included, and cost
 * ~5 % of a core on an idle runtime (4 handlers, measured); `fs.watch` costs nothing until a file
 * changes and reports it at once. Files under node_modules are not watched: a dependency changes
 * with `npm install`, and that takes a restart, as configuration does.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { BuildContext, BuildResult, Message } from 'esbuild';
import { handlerBuildOptions } from './handler-bundle.ts';

/** Saves arrive as bursts of events (truncate, write, rename): one rebuild after they settle. */
const SETTLE_MS = 50;

/** A handler's bundle as built: where it is and the SHA-256 of its code (Lambda's CodeSha256). */
export interface HandlerBuild {
  readonly name: string;
  readonly module: string;
  readonly codeSha256: string;
}

export interface WatchEvents {
  /** A handler's code changed and its new bundle is ready. */
  rebuilt(build: HandlerBuild, durationMs: number): void;
  /** A rebuild failed; the previous bundle stays current. `message` names the file and line. */
  failed(name: string, message: string): void;
  /** A handler builds again after failing, to the code it had before (nothing to replace). */
  recovered(name: string): void;
}

export interface HandlerWatcher {
  /** The current build of each handler, by name. */
  readonly builds: ReadonlyMap<string, HandlerBuild>;
  /** Stops watching and releases the build contexts. */
  close(): Promise<void>;
}

/**
 * Bundles the handlers like `bundleHandlers`, then rebuilds one whenever a file of its bundle
 * changes. Each build is written to a directory of its own (`<outDir>/<name>/<n>/`): an
 * environment starting on the previous build never reads a half-written file.
 *
 * @throws Error when a handler does not build at start (`cannot build handler picking: …`).
 * @example
 * const watcher = await watchHandlers(['picking'], outDir, { rebuilt: (b) => console.log(b.module), failed: console.error, recovered: () => {} });
 * await watcher.close();
 */
export async function watchHandlers(
  names: readonly string[],
  outDir: string,
  events: WatchEvents,
): Promise<HandlerWatcher> {
  const esbuild = await import('esbuild');
  const handlers: RebuildingHandler[] = [];
  const sources = new SourceWatcher((file) => handlers.filter((h) => h.inputs.has(file)).forEach((h) => h.schedule()));
  const started = await Promise.allSettled(
    [...new Set(names)].map(async (name) => {
      const context = await esbuild.context({
        ...handlerBuildOptions(name),
        outfile: join(outDir, name, `${name}.mjs`),
        write: false,
        metafile: true,
      });
      const handler = new RebuildingHandler(name, context, outDir, events, sources);
      handlers.push(handler);
      await handler.build();
    }),
  );
  const failure = started.find((s) => s.status === 'rejected');
  if (failure) {
    sources.close();
    await Promise.all(handlers.map((h) => h.dispose()));
    throw failure.reason;
  }
  return {
    get builds() {
      return new Map(handlers.map((h) => [h.name, h.current as HandlerBuild]));
    },
    async close() {
      sources.close();
      await Promise.all(handlers.map((h) => h.dispose()));
    },
  };
}

/** One handler's esbuild context: rebuilds on request, one at a time, and reports the outcome. */
class RebuildingHandler {
  readonly name: string;
  /** Absolute paths of the files its bundle is made of (outside node_modules). */
  inputs = new Set<string>();
  current: HandlerBuild | undefined;
  readonly #context: BuildContext;
  readonly #outDir: string;
  readonly #events: WatchEvents;
  readonly #sources: SourceWatcher;
  #revision = 0;
  #failing = false;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #disposed = false;

  constructor(name: string, context: BuildContext, outDir: string, events: WatchEvents, sources: SourceWatcher) {
    this.name = name;
    this.#context = context;
    this.#outDir = outDir;
    this.#events = events;
    this.#sources = sources;
  }

  /** A file of the bundle changed: rebuild once the burst of events settles. */
  schedule(): void {
    if (this.#disposed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#rebuildSoon(), SETTLE_MS);
  }

  /** Builds now; the first build throws on errors, later ones report them. */
  async build(): Promise<void> {
    const started = performance.now();
    let result: BuildResult<{ metafile: true; write: false }>;
    try {
      result = await this.#context.rebuild();
    } catch (error) {
      const message = describeBuildError(error);
      if (!this.current) throw new Error(`cannot build handler ${this.name}: ${message}`);
      // Keep watching the file that broke, so saving the fix rebuilds.
      for (const file of errorFiles(error)) this.#watch(file);
      this.#failing = true;
      this.#events.failed(this.name, message);
      return;
    }
    this.inputs = new Set(
      Object.keys(result.metafile.inputs)
        .map((file) => resolve(file))
        .filter((file) => !file.split(sep).includes('node_modules')),
    );
    for (const file of this.inputs) this.#watch(file);
    const wasFailing = this.#failing;
    this.#failing = false;
    const code = result.outputFiles.find((f) => f.path.endsWith('.mjs'));
    const codeSha256 = createHash('sha256')
      .update(code?.contents ?? new Uint8Array())
      .digest('base64');
    if (codeSha256 === this.current?.codeSha256) {
      if (wasFailing) this.#events.recovered(this.name);
      return;
    }
    const first = this.current === undefined;
    this.current = {
      name: this.name,
      module: writeBuild(join(this.#outDir, this.name, String(++this.#revision)), result),
      codeSha256,
    };
    if (!first) this.#events.rebuilt(this.current, performance.now() - started);
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
    clearTimeout(this.#timer);
    await this.#running?.catch(() => undefined);
    await this.#context.dispose();
  }

  /** One rebuild at a time; changes during a rebuild cause one more. */
  async #rebuildSoon(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return;
    }
    do {
      this.#again = false;
      this.#running = this.build().catch((error: Error) => this.#events.failed(this.name, error.message));
      await this.#running;
      this.#running = undefined;
    } while (this.#again && !this.#disposed);
  }

  #watch(file: string): void {
    this.inputs.add(file);
    this.#sources.add(dirname(file));
  }
}

/** Watches directories (not files: editors save by replacing the file) and reports changed files. */
class SourceWatcher {
  readonly #watchers = new Map<string, FSWatcher>();
  readonly #changed: (file: string) => void;

  constructor(changed: (file: string) => void) {
    this.#changed = changed;
  }

  add(dir: string): void {
    if (this.#watchers.has(dir)) return;
    try {
      const watcher = watch(
        dir,
        { persistent: false },
        (_event, filename) => filename && this.#changed(join(dir, filename.toString())),
      );
      watcher.on('error', () => this.#watchers.delete(dir));
      this.#watchers.set(dir, watcher);
    } catch {
      // A directory that is gone (or cannot be watched) has nothing left to report.
    }
  }

  close(): void {
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }
}

/** Writes a build's files (the bundle and its source map) into `dir`; returns the bundle's path. */
function writeBuild(dir: string, result: BuildResult<{ write: false }>): string {
  mkdirSync(dir, { recursive: true });
  let module = '';
  for (const file of result.outputFiles) {
    const path = join(dir, basename(file.path));
    writeFileSync(path, file.contents);
    if (path.endsWith('.mjs')) module = path;
  }
  return module;
}

/** `lib/domain/picking.ts:12:4: Expected ";" but found "x"` (esbuild's paths are relative to the working directory). */
function describeBuildError(error: unknown): string {
  const first = (error as { errors?: Message[] }).errors?.[0];
  if (!first) return (error as Error).message;
  return `${first.location ? `${first.location.file}:${first.location.line}:${first.location.column}: ` : ''}${first.text}`;
}

function errorFiles(error: unknown): string[] {
  return ((error as { errors?: Message[] }).errors ?? []).flatMap((e) =>
    e.location ? [resolve(e.location.file)] : [],
  );
}
