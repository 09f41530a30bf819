/** Delivery: assigns a carrier and tracking number and records the delivery — exactly once per order. */
import { DeliveryInput } from '../lib/domain/messages.ts';
import { assignDelivery, summarizeDelivery } from '../lib/domain/delivery.ts';
import { createStageHandler } from '../lib/runtime/index.ts';

export const handler = createStageHandler({ stage: 'delivery', input: DeliveryInput, process: assignDelivery, summarize: summarizeDelivery });
