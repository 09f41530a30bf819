/** Picking: plans one pick wave for the whole batch and forwards each order's pick list to packing. */
import { PickingInput } from '../lib/domain/messages.ts';
import { planPickWave, summarizePickList } from '../lib/domain/picking.ts';
import { createStageHandler } from '../lib/runtime/index.ts';

export const handler = createStageHandler({ stage: 'picking', input: PickingInput, process: planPickWave, summarize: summarizePickList });
