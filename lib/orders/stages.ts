/**
 * The order pipeline's stages: the order domain (schemas, pure business functions, summaries)
 * plugged into the domain-free stage runtime. A stage message carries the order and every earlier
 * stage's result; the item is the order, its partition the warehouse.
 */
import { assignDelivery, summarizeDelivery } from '../domain/delivery.ts';
import { DeliveryInput, PackingInput, PickingInput, type StageMessage } from '../domain/messages.ts';
import { planPacking, summarizePackingPlan } from '../domain/packing.ts';
import { planPickWave, summarizePickList } from '../domain/picking.ts';
import { readStageConfig } from '../runtime/environment.ts';
import {
  createStageHandler,
  type StageDefinition,
  type StageHandler,
  type StageRuntimeOptions,
} from '../runtime/stage-handler.ts';
import { traceInvocations } from '../runtime/telemetry.ts';
import { orderLedger } from './ledger.ts';

type OrderStage<In extends StageMessage, Out> = StageDefinition<In, Out>;

/**
 * An order stage from its domain parts: what every order stage shares — how an order message is
 * identified and when it was accepted — added to the stage's name, schema and business function.
 *
 * @example
 * // handlers/labelling.ts
 * export const handler = orderStageHandler(orderStage({ stage: 'labelling', input: LabellingInput, process: printLabels, summarize: summarizeLabels }));
 */
export function orderStage<In extends StageMessage, Out>(
  definition: Pick<OrderStage<In, Out>, 'stage' | 'input' | 'process' | 'summarize'>,
): OrderStage<In, Out> {
  return {
    ...definition,
    identify: (message) => ({ id: message.order.orderId, partition: message.order.warehouseId }),
    claimedId: (body) => (body as { order?: { orderId?: unknown } } | null)?.order?.orderId as string | undefined,
    enteredAt: (message) => message.acceptedAt,
  };
}

/** Picking: plans one pick wave for the whole batch and forwards each order's pick list. */
export const pickingStage = orderStage({
  stage: 'picking',
  input: PickingInput,
  process: planPickWave,
  summarize: summarizePickList,
});
/** Packing: chooses boxes for each order from its quantities and forwards the packing plan. */
export const packingStage = orderStage({
  stage: 'packing',
  input: PackingInput,
  process: planPacking,
  summarize: summarizePackingPlan,
});
/** Delivery: assigns a carrier and tracking number, recorded exactly once per order. */
export const deliveryStage = orderStage({
  stage: 'delivery',
  input: DeliveryInput,
  process: assignDelivery,
  summarize: summarizeDelivery,
});

/**
 * The Lambda handler of an order stage, wired to this deployment's ledger, each invocation traced
 * (where tracing is on) with its pipeline and stage as annotations.
 *
 * @example
 * // handlers/picking.ts
 * export const handler = orderStageHandler(pickingStage);
 */
export function orderStageHandler<In extends StageMessage, Out>(
  definition: OrderStage<In, Out>,
  options: Partial<StageRuntimeOptions> = {},
): StageHandler {
  const config = options.config ?? readStageConfig(definition.stage);
  const handler = createStageHandler(definition, { ledger: orderLedger(config.tableName), ...options, config });
  return traceInvocations(config.stage, handler, { pipeline: config.pipelineId, stage: config.stage });
}
