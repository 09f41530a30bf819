/**
 * Keeps the emulator process running. If it dies (crash, kill, out of memory) while the runtime
 * runs, a durable one is restarted on the same data directory and the same ports, so every
 * client and handler reconnects by itself; the pollers and handlers see errors meanwhile, which
 * take the normal retry paths. An in-memory emulator cannot come back: its state is gone, and
 * the runtime is told so.
 */
import type { QueueChaos } from '../runtime/chaos.ts';
import { startEmulatorProcess, type EmulatorProcess, type EmulatorProcessOptions } from './emulator-process.ts';

export interface SupervisorEvents {
  /** The emulator died and is being restarted. */
  readonly restarting: (cause: string, attempt: number) => void;
  readonly restarted: (downtimeMs: number) => void;
  /** The emulator died and cannot (in memory) or could not be brought back. */
  readonly lost: (cause: string) => void;
}

const RESTART_ATTEMPTS = 5;

export class EmulatorSupervisor {
  readonly endpoints: { readonly sqs: string; readonly dynamodb: string };
  readonly #options: EmulatorProcessOptions;
  readonly #events: SupervisorEvents;
  #current: EmulatorProcess;
  #stopping = false;
  #restarts = 0;
  /** The queue chaos in force: a restarted emulator gets it again. */
  #queueChaos: Record<string, QueueChaos> = {};

  private constructor(first: EmulatorProcess, options: EmulatorProcessOptions, events: SupervisorEvents) {
    this.#current = first;
    this.endpoints = first.endpoints;
    this.#options = {
      ...options,
      ports: {
        sqs: Number(new URL(first.endpoints.sqs).port),
        dynamodb: Number(new URL(first.endpoints.dynamodb).port),
      },
    };
    this.#events = events;
    this.#watch(first);
  }

  /** Starts the emulator process and watches it. */
  static async start(options: EmulatorProcessOptions, events: SupervisorEvents): Promise<EmulatorSupervisor> {
    return new EmulatorSupervisor(await startEmulatorProcess(options), options, events);
  }

  /** Times the emulator was restarted. */
  get restarts(): number {
    return this.#restarts;
  }

  get pid(): number {
    return this.#current.pid;
  }

  cpuUsage(): ReturnType<EmulatorProcess['cpuUsage']> {
    return this.#current.cpuUsage();
  }

  /** Sets the SQS emulator's queue chaos (`duplicate`, `reorder` per queue name), now and after any restart. */
  async setQueueChaos(queues: Record<string, QueueChaos>): Promise<void> {
    await this.#current.setQueueChaos(queues);
    this.#queueChaos = queues;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#current.stop();
  }

  #watch(process: EmulatorProcess): void {
    void process.exited.then(({ code, signal }) => {
      if (this.#stopping || process !== this.#current) return;
      void this.#restart(`the emulator process exited (${signal ?? `code ${code}`})`);
    });
  }

  async #restart(cause: string): Promise<void> {
    if (this.#options.dataDir === undefined) {
      this.#events.lost(`${cause}; it ran in memory, so its queues and order status are gone`);
      return;
    }
    const down = Date.now();
    for (let attempt = 1; attempt <= RESTART_ATTEMPTS && !this.#stopping; attempt++) {
      this.#events.restarting(cause, attempt);
      try {
        const next = await startEmulatorProcess(this.#options);
        if (this.#stopping) {
          await next.stop();
          return;
        }
        if (Object.keys(this.#queueChaos).length > 0)
          await next.setQueueChaos(this.#queueChaos).catch(async (error: unknown) => {
            await next.stop();
            throw error;
          });
        this.#current = next;
        this.#restarts++;
        this.#watch(next);
        this.#events.restarted(Date.now() - down);
        return;
      } catch (error) {
        cause = (error as Error).message;
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
    if (!this.#stopping) this.#events.lost(`could not restart the emulator process: ${cause}`);
  }
}
