/** Builders of realistic orders and stage messages for tests. */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { DeliveryInput, MESSAGE_VERSION, type PackingInput, type PickingInput } from '../../lib/domain/messages.ts';
import { planPacking } from '../../lib/domain/packing.ts';
import { planPickWave } from '../../lib/domain/picking.ts';
import type { Order } from '../../lib/domain/order.ts';
import { tracingAttributes } from '../../lib/runtime/attributes.ts';
import { chunkByCount } from '../../lib/aws/chunking.ts';
import { receiveRecords } from '../../lib/local/event-source.ts';
import { createLambdaContext } from '../../lib/local/lambda-events.ts';
import type { LocalStageResources } from '../../lib/local/provision.ts';
import { REGION } from './local-aws.ts';

export function order(n: number, warehouseId = 'wh-1', items = 3): Order {
  return {
    orderId: `order-${n}`,
    warehouseId,
    priority: n % 5 === 0 ? 'express' : 'standard',
    items: Array.from({ length: items }, (_, i) => ({
      sku: `SKU-${(n * 7 + i * 13) % 50}-${i}`,
      quantity: 1 + ((n + i) % 4),
    })),
  };
}

export function pickingMessage(o: Order, acceptedAt = new Date().toISOString()): PickingInput {
  return { v: MESSAGE_VERSION, order: o, acceptedAt };
}

/** A delivery message for `o`, as picking and packing would have forwarded it. */
export function deliveryMessage(o: Order): DeliveryInput {
  const picking = pickingMessage(o);
  const [pick] = planPickWave([picking]);
  const packingInput: PackingInput = { ...picking, picking: (pick as { value: PackingInput['picking'] }).value };
  const [pack] = planPacking([packingInput]);
  return DeliveryInput.parse({ ...packingInput, packing: (pack as { value: unknown }).value });
}

/** Sends raw bodies (objects are JSON-encoded) to a queue with the usual tracing attributes. */
export async function enqueue(
  sqs: SQSClient,
  queueUrl: string,
  bodies: readonly (unknown | string)[],
  orderIdOf: (body: unknown, i: number) => string | undefined = (b) => (b as PickingInput)?.order?.orderId,
): Promise<void> {
  for (const chunk of chunkByCount(
    bodies.map((b, i) => ({ b, i })),
    10,
  )) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map(({ b, i }) => {
          const orderId = orderIdOf(b, i);
          return {
            Id: String(i),
            MessageBody: typeof b === 'string' ? b : JSON.stringify(b),
            ...(orderId ? { MessageAttributes: tracingAttributes(orderId, `trace-${i}`) } : {}),
          };
        }),
      }),
    );
  }
}

/** Receives what a Lambda SQS event source would deliver: real records with real receipt handles. */
export function receive(sqs: SQSClient, stage: LocalStageResources, max = 100): Promise<SQSRecord[]> {
  return receiveRecords(sqs, { url: stage.queueUrl, arn: stage.queueArn }, REGION, max, 0);
}

export function context(timeoutSeconds = 30) {
  return createLambdaContext({ functionName: 'conveyor-test', timeoutSeconds, memoryMb: 256, region: REGION });
}
