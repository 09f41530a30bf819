/** Packing: chooses boxes for each order from its quantities and forwards the packing plan to delivery. */
import { orderStageHandler, packingStage } from '../lib/orders/stages.ts';

export const handler = orderStageHandler(packingStage);
