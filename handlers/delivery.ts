/** Delivery: assigns a carrier and tracking number and records the delivery — exactly once per order. */
import { deliveryStage, orderStageHandler } from '../lib/orders/stages.ts';

export const handler = orderStageHandler(deliveryStage);
