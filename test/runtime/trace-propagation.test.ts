/**
 * The X-Ray trace context of an order travels with it, on the whole pipeline in memory: the intake
 * sends the trace Lambda gave its invocation with each message (SQS's AWSTraceHeader system
 * attribute), and every stage forwards the header of the record it read — not its own invocation's —
 * to the next stage, and with a dead letter; the correlation id (`traceId`) is unchanged beside it.
 * Where there is no trace (the local runtime), nothing is made up; a malformed header is dropped.
 */
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ATTR_TRACE_ID } from '../../lib/runtime/attributes.ts';
import { tracer } from '../../lib/runtime/telemetry.ts';
import { MemoryPipeline } from '../support/memory-pipeline.ts';

const seeded = (seed: number) => () => (seed = (seed * 16807) % 2147483647) / 2147483647;
/** Lambda hands each invocation its trace header in this variable (or its invocation store). */
const LAMBDA_TRACE_VARIABLE = '_X_AMZN_TRACE_ID';
const INTAKE_TRACE = 'Root=1-67a0b0c0-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1;Lineage=1a2b3c4d:0';
const STAGE_TRACE = 'Root=1-67a0b0c1-fedcba9876543210fedcba98;Parent=fedcba9876543210;Sampled=1';

afterEach(() => {
  vi.unstubAllEnvs();
});

/** Every message the pipeline sent for an order, with the stage queue (or DLQ) it went to. */
function messagesOf(p: MemoryPipeline, orderId: string) {
  const queues = new Map(
    [...p.urls.values()].flatMap(({ queueUrl, deadLetterQueueUrl, stage }) => [
      [queueUrl, { stage: stage.name, dlq: false }],
      [deadLetterQueueUrl, { stage: stage.name, dlq: true }],
    ]),
  );
  return p.sqs.sent
    .filter((m) => m.body.includes(`"${orderId}"`))
    .map((m) => ({ ...queues.get(m.queueUrl)!, traceHeader: m.traceHeader }));
}

/** Posts an order while the intake runs in `intakeTrace`, then drains every stage running in `stageTrace`. */
async function runOrder(p: MemoryPipeline, orderId: string, traces: { intake?: string; stages?: string }) {
  if (traces.intake) vi.stubEnv(LAMBDA_TRACE_VARIABLE, traces.intake);
  const accepted = await p.post({
    orderId,
    warehouseId: p.topology.pipelines[0]!.id,
    items: [{ sku: 'SKU-1', quantity: 2 }],
  });
  expect(accepted).toMatchObject({ crashed: false, value: { statusCode: 202 } });
  vi.unstubAllEnvs();
  if (traces.stages) vi.stubEnv(LAMBDA_TRACE_VARIABLE, traces.stages);
  await p.drain();
  vi.unstubAllEnvs();
}

describe('the trace context of an order', () => {
  it('travels from the intake to the last stage, each stage forwarding the header of the record it read', async () => {
    const p = new MemoryPipeline({ random: seeded(7) });
    await runOrder(p, 't-1', { intake: INTAKE_TRACE, stages: STAGE_TRACE });

    const pipeline = p.topology.pipelines[0]!;
    const sent = messagesOf(p, 't-1');
    // One message into every stage of the order's pipeline, the last one included, each with the intake's trace.
    expect(sent.map((m) => m.stage)).toEqual(pipeline.stages.map((s) => s.name));
    expect(sent.every((m) => m.traceHeader === INTAKE_TRACE)).toBe(true);
    expect((await p.ledger.read('t-1'))?.status).toBe('delivered');
  });

  it('leaves the correlation id (traceId) beside it as it was: set once by the intake, the same at every stage', async () => {
    const p = new MemoryPipeline({ random: seeded(8) });
    await runOrder(p, 't-2', { intake: INTAKE_TRACE, stages: STAGE_TRACE });
    const correlationIds = p.sqs.sent
      .filter((m) => m.body.includes('"t-2"'))
      .map((m) => m.attributes[ATTR_TRACE_ID]?.StringValue);
    expect(correlationIds).toHaveLength(p.topology.pipelines[0]!.stages.length);
    expect(new Set(correlationIds).size).toBe(1);
    expect(correlationIds[0]).toMatch(/\S/);
    expect(INTAKE_TRACE).not.toContain(correlationIds[0]);
  });

  it('goes with a dead letter, so that a redriven order continues the same trace', async () => {
    const p = new MemoryPipeline({ random: seeded(9), rejectSuffix: '-no-box' });
    await runOrder(p, 't-3-no-box', { intake: INTAKE_TRACE, stages: STAGE_TRACE });
    const dead = messagesOf(p, 't-3-no-box').filter((m) => m.dlq);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.traceHeader).toBe(INTAKE_TRACE);
  });

  it('is absent where Lambda gave no trace (the local runtime): nothing is made up, and no tracer is loaded', async () => {
    expect(tracer()).toBeUndefined();
    const p = new MemoryPipeline({ random: seeded(10) });
    await runOrder(p, 't-4', {});
    const sent = messagesOf(p, 't-4');
    expect(sent).toHaveLength(p.topology.pipelines[0]!.stages.length);
    expect(sent.every((m) => m.traceHeader === undefined)).toBe(true);
  });

  it('is not forwarded when the record carries a malformed one (a message put on the queue by hand)', async () => {
    const p = new MemoryPipeline({ random: seeded(11) });
    const pipeline = p.topology.pipelines[0]!;
    const first = p.urls.get(pipeline.stages[0]!.key)!.queueUrl;
    const body = JSON.stringify({
      v: 1,
      order: { orderId: 't-5', warehouseId: pipeline.id, items: [{ sku: 'SKU-1', quantity: 1 }], priority: 'standard' },
      acceptedAt: new Date(p.now).toISOString(),
    });
    await p.sqs.client.send(
      new SendMessageBatchCommand({
        QueueUrl: first,
        Entries: [
          {
            Id: '0',
            MessageBody: body,
            MessageSystemAttributes: {
              AWSTraceHeader: { DataType: 'String', StringValue: 'Root=not-a-trace;Sampled=1' },
            },
          },
        ],
      }),
    );
    await p.drain();
    const forwarded = messagesOf(p, 't-5').slice(1);
    expect(forwarded).toHaveLength(pipeline.stages.length - 1);
    expect(forwarded.every((m) => m.traceHeader === undefined)).toBe(true);
    expect((await p.ledger.read('t-5'))?.status).toBe('delivered');
  });
});
