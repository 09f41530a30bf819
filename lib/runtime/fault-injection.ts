/**
 * Fault injection (CONVEYOR_CHAOS) as a wrapper around a stage's business function, installed from
 * the environment when chaos is asked for: the runtime itself has no chaos branches. Injected
 * failures take the real paths — retry with backoff, the DLQ after maxReceiveCount, a whole batch
 * stopped at the function timeout.
 */
import { CHAOS_REASON, type ChaosEffects } from './chaos.ts';
import { retry, type Outcome } from './outcome.ts';

/** Longer than any function timeout (900 s max); in practice the platform stops it first. */
const STALL_MS = 15 * 60 * 1000 + 5_000;

type Process<In, Out> = (batch: readonly In[]) => readonly Outcome<Out>[] | Promise<readonly Outcome<Out>[]>;

/**
 * `process`, with the injected faults: per batch a stall (blocks the event loop past the function
 * timeout, as a hung call or a runaway loop would — no timer or deadline can end it) or a delay;
 * per record a transient failure in place of the real outcome.
 *
 * @example
 * const process = withInjectedFaults(planPickWave, { fail: 0.2, stall: 0, delay: { probability: 0, ms: 0 } });
 */
export function withInjectedFaults<In, Out>(
  process: Process<In, Out>,
  chaos: ChaosEffects,
  random: () => number = Math.random,
): Process<In, Out> {
  if (chaos.fail <= 0 && chaos.stall <= 0 && chaos.delay.probability <= 0) return process;
  return async (batch) => {
    if (chaos.stall > 0 && random() < chaos.stall) stall();
    if (chaos.delay.probability > 0 && random() < chaos.delay.probability)
      await new Promise((resolve) => setTimeout(resolve, chaos.delay.ms));
    const hit = batch.map(() => chaos.fail > 0 && random() < chaos.fail);
    const spared = batch.filter((_, i) => !hit[i]);
    const outcomes = spared.length > 0 ? await process(spared) : [];
    if (outcomes.length !== spared.length)
      throw new Error(`the stage returned ${outcomes.length} outcomes for ${spared.length} records`);
    let next = 0;
    return hit.map((failed) => (failed ? retry(CHAOS_REASON) : (outcomes[next++] as Outcome<Out>)));
  };
}

function stall(): void {
  process.stderr.write('CONVEYOR_CHAOS: stalling this invocation past its timeout\n');
  const until = Date.now() + STALL_MS;
  while (Date.now() < until) {
    // Busy on purpose: only the platform's timeout ends this invocation.
  }
}
