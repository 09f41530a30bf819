/** Packing: chooses boxes for each order from its quantities and forwards the packing plan to delivery. */
import { PackingInput } from '../lib/domain/messages.ts';
import { planPacking, summarizePackingPlan } from '../lib/domain/packing.ts';
import { createStageHandler } from '../lib/runtime/index.ts';

export const handler = createStageHandler({ stage: 'packing', input: PackingInput, process: planPacking, summarize: summarizePackingPlan });
