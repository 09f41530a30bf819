/**
 * Fault injection for trying the resilience paths, from `CONVEYOR_CHAOS` — comma-separated
 * `stage:probability[:effect]` (a stage of the topology), in every warehouse; effects of one stage combine:
 *  - `picking:0.2` (or `picking:0.2:fail`): each record fails transiently with that probability;
 *    `1` = always. Injected failures take the real path: backoff, retries, the DLQ after maxReceiveCount.
 *  - `packing:0.1:stall`: a batch blocks its handler past the function timeout with that
 *    probability — the platform stops the invocation, and its messages return after their
 *    visibility timeout.
 *  - `delivery:0.5:delay=1500`: a batch is slowed by that many milliseconds with that probability.
 *  - `picking:0.1:duplicate`: the stage's queue delivers a message a second time with that
 *    probability per receive (a copy that stays behind, as SQS's at-least-once delivery does).
 *  - `picking:0.1:reorder`: the stage's queue hands a message out of order with that probability.
 * The first three act in the stage function (the stage runtime reads them); `duplicate` and
 * `reorder` act in the local SQS emulator, which the local runtime configures per queue — the
 * stage functions ignore them, as a Lambda function cannot make SQS misbehave.
 */
import type { StageName } from '../topology/model.ts';

export const CHAOS_REASON = 'injected transient failure (CONVEYOR_CHAOS)';

/** What chaos does to one stage's function. */
export interface ChaosEffects {
  /** Per record: probability of a transient failure. */
  readonly fail: number;
  /** Per batch: probability of blocking past the function timeout. */
  readonly stall: number;
  /** Per batch: probability and length of a slowdown. */
  readonly delay: { readonly probability: number; readonly ms: number };
}

/** What chaos does to one stage's queue (applied by the local SQS emulator). */
export interface QueueChaos {
  /** Per receive of a message: probability that a copy of it is delivered again. */
  readonly duplicate: number;
  /** Per message: probability that it is handed out after messages sent later. */
  readonly reorder: number;
}

export const NO_CHAOS: ChaosEffects = { fail: 0, stall: 0, delay: { probability: 0, ms: 0 } };
export const NO_QUEUE_CHAOS: QueueChaos = { duplicate: 0, reorder: 0 };

/** The effects a specification may name, for the error that lists them. */
const EFFECTS = 'fail, stall, delay=<ms>, duplicate, reorder';

/**
 * Parses a chaos specification: the effects on each stage's function.
 * @returns the effects per stage (stages not named: none). Queue effects are validated and left out.
 * @throws Error naming the faulty part, e.g. `CONVEYOR_CHAOS: "picking:2": probability must be a number from 0 to 1`.
 * @example
 * parseChaos('picking:0.2,packing:0.05:stall').get('packing'); // { fail: 0, stall: 0.05, delay: { probability: 0, ms: 0 } }
 */
export function parseChaos(spec: string | undefined, stages?: readonly StageName[]): Map<StageName, ChaosEffects> {
  return parseChaosSpec(spec, stages).functions;
}

/**
 * Parses a chaos specification: the effects on each stage's queue.
 * @returns `duplicate` and `reorder` per stage (stages not named: none). Function effects are validated and left out.
 * @throws Error naming the faulty part, as parseChaos.
 * @example
 * parseQueueChaos('picking:0.1:duplicate,picking:0.2:reorder').get('picking'); // { duplicate: 0.1, reorder: 0.2 }
 */
export function parseQueueChaos(spec: string | undefined, stages?: readonly StageName[]): Map<StageName, QueueChaos> {
  return parseChaosSpec(spec, stages).queues;
}

/**
 * One parser for the whole specification, so both readers accept and refuse the same strings.
 * With `stages` (the topology's stage names), a stage not among them is refused.
 */
function parseChaosSpec(
  spec: string | undefined,
  stages?: readonly StageName[],
): { functions: Map<StageName, ChaosEffects>; queues: Map<StageName, QueueChaos> } {
  const functions = new Map<StageName, ChaosEffects>();
  const queues = new Map<StageName, QueueChaos>();
  if (spec === undefined || spec.trim() === '') return { functions, queues };
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [name, probability, effect = 'fail', ...rest] = part.split(':');
    const stage = name as StageName;
    if (stages && !stages.includes(stage)) {
      throw new Error(
        `CONVEYOR_CHAOS: "${part}": unknown stage "${name}"; stages are ${stages.join(', ')} (e.g. ${stages[0]}:0.2)`,
      );
    }
    if (!/^[a-z][a-z0-9-]*$/.test(stage))
      throw new Error(`CONVEYOR_CHAOS: "${part}": "${name}" is not a stage name (e.g. picking:0.2,packing:0.1)`);
    const p = Number(probability);
    if (
      rest.length > 0 ||
      probability === undefined ||
      probability.trim() === '' ||
      !Number.isFinite(p) ||
      p < 0 ||
      p > 1
    ) {
      throw new Error(`CONVEYOR_CHAOS: "${part}": probability must be a number from 0 to 1 (e.g. ${stage}:0.2)`);
    }
    const fn = functions.get(stage) ?? NO_CHAOS;
    const queue = queues.get(stage) ?? NO_QUEUE_CHAOS;
    const delay = /^delay=(\d+)$/.exec(effect);
    if (effect === 'fail') functions.set(stage, { ...fn, fail: p });
    else if (effect === 'stall') functions.set(stage, { ...fn, stall: p });
    else if (delay && Number(delay[1]) > 0)
      functions.set(stage, { ...fn, delay: { probability: p, ms: Number(delay[1]) } });
    else if (effect === 'duplicate') queues.set(stage, { ...queue, duplicate: p });
    else if (effect === 'reorder') queues.set(stage, { ...queue, reorder: p });
    else
      throw new Error(
        `CONVEYOR_CHAOS: "${part}": unknown effect "${effect}"; effects are ${EFFECTS} (e.g. ${stage}:0.1:delay=1500, ${stage}:0.1:duplicate)`,
      );
  }
  return { functions, queues };
}
