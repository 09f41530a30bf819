/** Labelling: a shipping label per parcel (id, weight class, dimensions), from the packing plan. */
import { LabellingInput, printLabels, summarizeLabels } from '../lib/domain/labelling.ts';
import { orderStage, orderStageHandler } from '../lib/orders/stages.ts';

export const handler = orderStageHandler(
  orderStage({ stage: 'labelling', input: LabellingInput, process: printLabels, summarize: summarizeLabels }),
);
