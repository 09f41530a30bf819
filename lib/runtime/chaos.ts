/**
 * Fault injection for trying the resilience paths, from `CONVEYOR_CHAOS` — comma-separated
 * `stage:probability[:effect]`, in every warehouse:
 *  - `picking:0.2` (or `picking:0.2:fail`): each record fails transiently with that probability;
 *    `1` = always. Injected failures take the real path: backoff, retries, the DLQ after maxReceiveCount.
 *  - `packing:0.1:stall`: a batch blocks its handler past the function timeout with that
 *    probability — the platform stops the invocation, and its messages return after their
 *    visibility timeout.
 *  - `delivery:0.5:delay=1500`: a batch is slowed by that many milliseconds with that probability.
 */
import { STAGE_NAMES, type StageName } from '../topology/model.ts';

export const CHAOS_REASON = 'injected transient failure (CONVEYOR_CHAOS)';

/** What chaos does to one stage. */
export interface ChaosEffects {
  /** Per record: probability of a transient failure. */
  readonly fail: number;
  /** Per batch: probability of blocking past the function timeout. */
  readonly stall: number;
  /** Per batch: probability and length of a slowdown. */
  readonly delay: { readonly probability: number; readonly ms: number };
}

export const NO_CHAOS: ChaosEffects = { fail: 0, stall: 0, delay: { probability: 0, ms: 0 } };

/**
 * Parses a chaos specification.
 * @returns the effects per stage (stages not named: none).
 * @throws Error naming the faulty part, e.g. `CONVEYOR_CHAOS: "picking:2": probability must be a number from 0 to 1`.
 * @example
 * parseChaos('picking:0.2,packing:0.05:stall').get('packing'); // { fail: 0, stall: 0.05, delay: { probability: 0, ms: 0 } }
 */
export function parseChaos(spec: string | undefined): Map<StageName, ChaosEffects> {
  const chaos = new Map<StageName, ChaosEffects>();
  if (spec === undefined || spec.trim() === '') return chaos;
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [stage, probability, effect = 'fail', ...rest] = part.split(':');
    if (!STAGE_NAMES.includes(stage as StageName)) {
      throw new Error(`CONVEYOR_CHAOS: "${part}": unknown stage "${stage}"; stages are ${STAGE_NAMES.join(', ')} (e.g. picking:0.2,packing:0.1)`);
    }
    const p = Number(probability);
    if (rest.length > 0 || probability === undefined || probability.trim() === '' || !Number.isFinite(p) || p < 0 || p > 1) {
      throw new Error(`CONVEYOR_CHAOS: "${part}": probability must be a number from 0 to 1 (e.g. ${stage}:0.2)`);
    }
    const current = chaos.get(stage as StageName) ?? NO_CHAOS;
    const delay = /^delay=(\d+)$/.exec(effect);
    if (effect === 'fail') chaos.set(stage as StageName, { ...current, fail: p });
    else if (effect === 'stall') chaos.set(stage as StageName, { ...current, stall: p });
    else if (delay && Number(delay[1]) > 0) chaos.set(stage as StageName, { ...current, delay: { probability: p, ms: Number(delay[1]) } });
    else throw new Error(`CONVEYOR_CHAOS: "${part}": unknown effect "${effect}"; effects are fail, stall, delay=<ms> (e.g. ${stage}:0.1:delay=1500)`);
  }
  return chaos;
}
