/** Picking: plans one pick wave for the whole batch and forwards each order's pick list to packing. */
import { orderStageHandler, pickingStage } from '../lib/orders/stages.ts';

export const handler = orderStageHandler(pickingStage);
