/**
 * Stage messages: the SQS body that flows from intake through the stages. A message carries the
 * order plus every earlier stage's result, each under its stage's name; a stage forwards its input
 * with its own result added. A stage reads what it needs and passes the rest on untouched (the
 * schemas are loose: a pipeline with a stage in between — e.g. labelling before delivery — adds a
 * result the later stages need not know about).
 */
import * as z from 'zod/mini';
import { Order } from './order.ts';
import { PickList } from './picking.ts';
import { PackingPlan } from './packing.ts';

export const MESSAGE_VERSION = 1;

const envelope = {
  v: z.literal(MESSAGE_VERSION, { error: `must be ${MESSAGE_VERSION} (the message format version)` }),
  order: Order,
  /** When intake accepted the order (ISO 8601): end-to-end latency is measured from here. */
  acceptedAt: z.iso.datetime({ error: 'must be an ISO 8601 date-time' }),
};

/**
 * The schema of a stage's input: the envelope plus the earlier results the stage reads; other keys
 * (results of stages it does not read) pass through.
 *
 * @example
 * export const LabellingInput = stageInput({ packing: PackingPlan });
 */
export function stageInput<S extends Record<string, z.ZodMiniType>>(results: S) {
  return z.looseObject({ ...envelope, ...results });
}

export const PickingInput = stageInput({});
export type PickingInput = z.infer<typeof PickingInput>;

export const PackingInput = stageInput({ picking: PickList });
export type PackingInput = z.infer<typeof PackingInput>;

export const DeliveryInput = stageInput({ picking: PickList, packing: PackingPlan });
export type DeliveryInput = z.infer<typeof DeliveryInput>;

/** Any stage message: what every stage can read its order id and warehouse from. */
export type StageMessage = z.infer<ReturnType<typeof stageInput<Record<never, never>>>>;
