/**
 * Fault injection for trying the resilience paths: `CONVEYOR_CHAOS=picking:0.2,packing:0.1` makes
 * each record fail transiently with that probability in that stage (every warehouse); `1` = always.
 * Injected failures take the real path: backoff, retries, the DLQ after maxReceiveCount.
 */
import { STAGE_NAMES, type StageName } from '../topology/model.ts';

export const CHAOS_REASON = 'injected transient failure (CONVEYOR_CHAOS)';

/**
 * Parses a chaos specification.
 * @returns the failure probability per stage (stages not named: 0).
 * @throws Error naming the faulty part, e.g. `CONVEYOR_CHAOS: "picking:2": probability must be from 0 to 1`.
 * @example
 * parseChaos('picking:0.2,packing:1'); // Map { 'picking' => 0.2, 'packing' => 1 }
 */
export function parseChaos(spec: string | undefined): Map<StageName, number> {
  const chaos = new Map<StageName, number>();
  if (spec === undefined || spec.trim() === '') return chaos;
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [stage, probability, ...rest] = part.split(':');
    if (!STAGE_NAMES.includes(stage as StageName)) {
      throw new Error(`CONVEYOR_CHAOS: "${part}": unknown stage "${stage}"; stages are ${STAGE_NAMES.join(', ')} (e.g. picking:0.2,packing:0.1)`);
    }
    const p = Number(probability);
    if (rest.length > 0 || probability === undefined || probability.trim() === '' || !Number.isFinite(p) || p < 0 || p > 1) {
      throw new Error(`CONVEYOR_CHAOS: "${part}": probability must be a number from 0 to 1 (e.g. ${stage}:0.2)`);
    }
    chaos.set(stage as StageName, p);
  }
  return chaos;
}
