/**
 * A local Lambda function: a pool of execution environments (worker threads running
 * function-worker.ts), created on demand up to the function's concurrency, each running one
 * invocation at a time. Like Lambda: the handler module is loaded once per environment (cold
 * start), its environment variables are its own, the timeout is enforced by terminating the
 * environment, and memory is capped (V8 heap ≈ the function's memory size). A code update
 * (`updateCode`, what `npm start -- --watch` does on an edit) retires every environment of the old
 * code before its next invocation, as a Lambda deploy does.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker, WorkerData } from './function-worker.ts';

const WORKER_FILE = new URL('./function-worker.ts', import.meta.url);

export interface LocalFunctionSpec {
  /** e.g. `conveyor-wh-1-picking` */
  readonly name: string;
  /** Absolute path of the handler module (the one the stack deploys). */
  readonly handlerModule: string;
  /** The function's environment variables (the deployer's contract plus endpoints and credentials). */
  readonly environment: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  /** Most environments (= concurrent invocations) at once. */
  readonly maxConcurrency: number;
  readonly region: string;
}

export type InvokeResult =
  | { readonly ok: true; readonly response: unknown; readonly durationMs: number; readonly coldStart: boolean }
  | {
      readonly ok: false;
      readonly kind: 'error' | 'timeout' | 'crash' | 'init';
      readonly message: string;
      readonly durationMs: number;
      readonly coldStart: boolean;
    };

/** Where an environment's stdout/stderr lines go (logs and EMF metrics). */
export type OutputSink = (
  line: string,
  source: { readonly functionName: string; readonly stream: 'stdout' | 'stderr' },
) => void;

interface Environment {
  readonly worker: Worker;
  /** The code version it runs (see `updateCode`). */
  readonly codeVersion: number;
  readonly ready: Promise<void>;
  initMs?: number;
  pending?: { readonly id: number; resolve(result: FromWorker | { type: 'crash'; message: string }): void };
}

export class LocalFunction {
  readonly spec: LocalFunctionSpec;
  readonly #output: OutputSink;
  readonly #environments = new Set<Environment>();
  readonly #idle: Environment[] = [];
  readonly #waiting: Array<(env: Environment | undefined) => void> = [];
  #maxConcurrency: number;
  #nextId = 1;
  #closed = false;
  #invocations = 0;
  #coldStarts = 0;
  /** Execution time as Lambda bills it: each invocation rounded up to the millisecond. */
  #billedMs = 0;
  #lastInitMs: number | undefined;
  #handlerModule: string;
  #codeSha256: string | undefined;
  #codeVersion = 0;

  constructor(spec: LocalFunctionSpec, output: OutputSink) {
    this.spec = spec;
    this.#output = output;
    this.#maxConcurrency = spec.maxConcurrency;
    this.#handlerModule = spec.handlerModule;
  }

  /** The handler module new environments load: `spec.handlerModule`, or the last `updateCode`'s. */
  get handlerModule(): string {
    return this.#handlerModule;
  }

  /** Base64 SHA-256 of the handler module, like Lambda's `CodeSha256`: it changes with every code update. */
  get codeSha256(): string {
    this.#codeSha256 ??= createHash('sha256').update(readFileSync(this.#handlerModule)).digest('base64');
    return this.#codeSha256;
  }

  /**
   * Replaces the function's code, as a deploy does on Lambda: idle environments of the old code
   * stop now, busy ones finish their invocation and then stop, and every invocation from now on
   * runs `handlerModule` in a fresh environment (a cold start). Nothing is invoked twice or
   * dropped: this only decides which environment runs the next invocation.
   *
   * @example
   * fn.updateCode('/…/build/picking/2/picking.mjs');
   */
  updateCode(handlerModule: string, codeSha256?: string): void {
    this.#handlerModule = handlerModule;
    this.#codeSha256 = codeSha256;
    this.#codeVersion++;
    for (const env of [...this.#idle]) void this.#discard(env);
  }

  /** Invocations running now. */
  get inUse(): number {
    return this.#environments.size - this.#idle.length;
  }

  get maxConcurrency(): number {
    return this.#maxConcurrency;
  }

  /** Changes the concurrency limit; surplus idle environments are shut down. */
  set maxConcurrency(value: number) {
    this.#maxConcurrency = value;
    while (this.#environments.size > value && this.#idle.length > 0) this.#discard(this.#idle.pop() as Environment);
    this.#wakeWaiters();
  }

  get stats(): {
    readonly codeSha256: string;
    readonly environments: number;
    readonly inUse: number;
    readonly invocations: number;
    readonly coldStarts: number;
    readonly billedMs: number;
    readonly memoryMb: number;
    readonly lastInitMs?: number;
  } {
    return {
      codeSha256: this.codeSha256,
      environments: this.#environments.size,
      inUse: this.inUse,
      invocations: this.#invocations,
      coldStarts: this.#coldStarts,
      billedMs: this.#billedMs,
      memoryMb: this.spec.memoryMb,
      ...(this.#lastInitMs !== undefined ? { lastInitMs: this.#lastInitMs } : {}),
    };
  }

  /** V8 heap in use by each running execution environment, MB — the local counterpart of Lambda's "Max Memory Used". */
  async heapUsedMb(): Promise<number[]> {
    const sizes = await Promise.all(
      [...this.#environments].map((env) =>
        env.worker.getHeapStatistics().then(
          (heap) => heap.used_heap_size,
          () => undefined,
        ),
      ),
    );
    return sizes.filter((bytes) => bytes !== undefined).map((bytes) => Math.round((bytes / 2 ** 20) * 10) / 10);
  }

  /**
   * Invokes the function with `event`, waiting for a free environment when all are busy.
   * Never throws: failures (handler error, timeout, crash, init error) are results.
   */
  async invoke(event: unknown): Promise<InvokeResult> {
    const started = performance.now();
    const env = await this.#acquire();
    if (!env)
      return { ok: false, kind: 'crash', message: `${this.spec.name} is shut down`, durationMs: 0, coldStart: false };
    const coldStart = env.initMs === undefined;
    try {
      await env.ready;
    } catch (error) {
      this.#discard(env);
      return {
        ok: false,
        kind: 'init',
        message: (error as Error).message,
        durationMs: performance.now() - started,
        coldStart,
      };
    }
    this.#invocations++;
    const id = this.#nextId++;
    const deadline = Date.now() + this.spec.timeoutSeconds * 1000;
    let timer: NodeJS.Timeout | undefined;
    const running = performance.now();
    const outcome = await new Promise<FromWorker | { type: 'crash'; message: string } | { type: 'timeout' }>(
      (resolve) => {
        env.pending = { id, resolve };
        timer = setTimeout(() => resolve({ type: 'timeout' }), deadline - Date.now());
        env.worker.postMessage({ type: 'invoke', id, event, requestId: randomUUID(), deadline } satisfies ToWorker);
      },
    );
    clearTimeout(timer);
    env.pending = undefined;
    this.#billedMs += Math.ceil(performance.now() - running);
    const durationMs = performance.now() - started;
    switch (outcome.type) {
      case 'result':
        this.#release(env);
        return { ok: true, response: outcome.response, durationMs, coldStart };
      case 'failure':
        this.#release(env);
        return { ok: false, kind: 'error', message: `${outcome.name}: ${outcome.message}`, durationMs, coldStart };
      case 'timeout':
        // Lambda stops a timed-out environment; whatever the handler was doing ends with it.
        this.#discard(env);
        return {
          ok: false,
          kind: 'timeout',
          message: `Task timed out after ${this.spec.timeoutSeconds.toFixed(2)} seconds`,
          durationMs,
          coldStart,
        };
      default:
        this.#discard(env);
        return {
          ok: false,
          kind: 'crash',
          message: 'message' in outcome ? outcome.message : 'the execution environment failed',
          durationMs,
          coldStart,
        };
    }
  }

  /** Waits for running invocations (each bounded by the timeout), then stops every environment. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wakeWaiters();
    const deadline = Date.now() + this.spec.timeoutSeconds * 1000 + 1000;
    while (this.inUse > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await Promise.all([...this.#environments].map((env) => this.#discard(env)));
  }

  async #acquire(): Promise<Environment | undefined> {
    for (;;) {
      if (this.#closed) return undefined;
      const idle = this.#idle.pop();
      if (idle) return idle;
      if (this.#environments.size < this.#maxConcurrency) return this.#spawn();
      const env = await new Promise<Environment | undefined>((resolve) => this.#waiting.push(resolve));
      if (env) return env;
    }
  }

  #release(env: Environment): void {
    if (this.#closed || this.#environments.size > this.#maxConcurrency || env.codeVersion !== this.#codeVersion) {
      this.#discard(env);
      this.#wakeWaiters();
      return;
    }
    const waiter = this.#waiting.shift();
    if (waiter) waiter(env);
    else this.#idle.push(env);
  }

  /** Lets waiters re-check (a slot freed, the limit changed, or the pool closed). */
  #wakeWaiters(): void {
    for (const waiter of this.#waiting.splice(0)) waiter(undefined);
  }

  #spawn(): Environment {
    this.#coldStarts++;
    const { spec } = this;
    const handlerModule = this.#handlerModule;
    const worker = new Worker(WORKER_FILE, {
      // Only the function's own environment: nothing of the caller's shell (AWS profiles, keys) leaks in.
      env: {
        ...spec.environment,
        AWS_LAMBDA_FUNCTION_NAME: spec.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
      },
      workerData: {
        handlerModule,
        functionName: spec.name,
        timeoutSeconds: spec.timeoutSeconds,
        memoryMb: spec.memoryMb,
        region: spec.region,
      } satisfies WorkerData,
      stdout: true,
      stderr: true,
      // The function's memory size bounds its heap, as Lambda bounds the environment.
      resourceLimits: { maxOldGenerationSizeMb: spec.memoryMb },
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: worker[stream], crlfDelay: Infinity }).on('line', (line) =>
        this.#output(line, { functionName: spec.name, stream }),
      );
    }
    let markReady: () => void = () => undefined;
    let failInit: (error: Error) => void = () => undefined;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failInit = reject;
    });
    ready.catch(() => undefined);
    const env: Environment = { worker, ready, codeVersion: this.#codeVersion };
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'ready') {
        env.initMs = message.initMs;
        this.#lastInitMs = message.initMs;
        markReady();
      } else if (message.type === 'init-error')
        failInit(new Error(`${spec.name} failed to initialise: ${message.message}`));
      else if (env.pending && message.id === env.pending.id) env.pending.resolve(message);
    });
    worker.on('error', (error) => {
      failInit(error);
      env.pending?.resolve({ type: 'crash', message: `${spec.name} crashed: ${error.message}` });
    });
    worker.on('exit', (code) => {
      failInit(new Error(`${spec.name} exited during initialisation (code ${code})`));
      env.pending?.resolve({ type: 'crash', message: `${spec.name} exited (code ${code})` });
      if (this.#environments.delete(env)) {
        const i = this.#idle.indexOf(env);
        if (i >= 0) this.#idle.splice(i, 1);
        this.#wakeWaiters();
      }
    });
    this.#environments.add(env);
    return env;
  }

  #discard(env: Environment): Promise<void> {
    this.#environments.delete(env);
    const i = this.#idle.indexOf(env);
    if (i >= 0) this.#idle.splice(i, 1);
    this.#wakeWaiters();
    return env.worker.terminate().then(() => undefined);
  }
}
