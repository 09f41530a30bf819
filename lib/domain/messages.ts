/**
 * Stage messages: the SQS body that flows from intake through the stages. Each stage's
 * input carries the order plus every earlier stage's result; a stage forwards its input
 * with its own result added under its name.
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

export const PickingInput = z.strictObject(envelope);
export type PickingInput = z.infer<typeof PickingInput>;

export const PackingInput = z.strictObject({ ...envelope, picking: PickList });
export type PackingInput = z.infer<typeof PackingInput>;

export const DeliveryInput = z.strictObject({ ...envelope, picking: PickList, packing: PackingPlan });
export type DeliveryInput = z.infer<typeof DeliveryInput>;

/** Any stage message: what every stage can read its order id and warehouse from. */
export type StageMessage = PickingInput | PackingInput | DeliveryInput;
