/**
 * Framework overhead of the stage runtime per record: one stage handler over batches of 100
 * records with in-process fakes for SQS and the status table (every call succeeds at once) and a
 * business function that does nothing — what remains is parsing, validation, idempotency,
 * forwarding, status bookkeeping and telemetry. Usage: node bench/overhead.ts
 */
import type { Context, SQSRecord } from 'aws-lambda';
import { succeed } from '../lib/runtime/outcome.ts';
import { createLambdaContext } from '../lib/local/lambda-events.ts';
import { pickingStage } from '../lib/orders/stages.ts';
import type { ProgressLedger, Queues } from '../lib/runtime/ports.ts';
import { createStageHandler } from '../lib/runtime/stage-handler.ts';
import { tracingAttributes } from '../lib/runtime/attributes.ts';

const BATCH = 100;
const BATCHES = Number(process.argv[2] ?? 2000);

/** Queues that accept every message at once. */
const queues: Queues = {
  send: async (_url, messages) => ({ sent: new Map(messages.map((m) => [m.key, m.key])), unsent: new Map() }),
  changeVisibility: async () => 0,
};
/** A ledger where every order is new and every write applies. */
const ledger: ProgressLedger = {
  lookup: async () => new Map(),
  recordSteps: async () => [],
  complete: async (entries) => entries.map(() => ({ kind: 'applied', previous: 'open' }) as const),
  deadLetter: async (entries) => entries.map(() => ({ kind: 'applied' }) as const),
  revive: async (entries) => entries.map(() => ({ kind: 'ignored' }) as const),
};
const silent = { addContext() {}, info() {}, warn() {}, error() {}, debug() {} };
const metrics = { addMetric() {}, publishStoredMetrics() {} };

export async function measureOverhead(batches = BATCHES): Promise<{ microsecondsPerRecord: number; records: number }> {
  const handler = createStageHandler(
    {
      ...pickingStage,
      process: (batch) => batch.map(() => succeed({ waveId: 'W-1', lines: [] })),
      summarize: () => ({ waveId: 'W-1' }),
    },
    {
      config: {
        pipelineId: 'wh-1',
        stage: 'picking',
        position: 1,
        nextStage: 'packing',
        batchingWindowSeconds: 1,
        queueUrl: 'http://q/1',
        deadLetterQueueUrl: 'http://q/2',
        nextQueueUrl: 'http://q/3',
        tableName: 't',
        tracking: 'full',
        maxReceiveCount: 10,
        backoff: { baseSeconds: 2, capSeconds: 300 },
        chaos: { fail: 0, stall: 0, delay: { probability: 0, ms: 0 } },
      },
      queues,
      ledger,
      logger: silent as never,
      metrics: metrics as never,
    },
  );
  const records: SQSRecord[] = Array.from({ length: BATCH }, (_, i) => {
    const orderId = `order-${i}`;
    const body = JSON.stringify({
      v: 1,
      acceptedAt: new Date().toISOString(),
      order: {
        orderId,
        warehouseId: 'wh-1',
        priority: 'standard',
        items: [
          { sku: `SKU-${i}`, quantity: 2 },
          { sku: 'SKU-COMMON', quantity: 1 },
          { sku: `SKU-B${i % 7}`, quantity: 1 },
        ],
      },
    });
    const attributes = tracingAttributes(orderId, `trace-${i}`);
    return {
      messageId: `m-${i}`,
      receiptHandle: `r-${i}`,
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '0',
        SenderId: 'x',
        ApproximateFirstReceiveTimestamp: '0',
      },
      messageAttributes: Object.fromEntries(
        Object.entries(attributes).map(([k, v]) => [
          k,
          { dataType: 'String', stringValue: v.StringValue, stringListValues: [], binaryListValues: [] },
        ]),
      ),
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:0:q',
      awsRegion: 'us-east-1',
    } as SQSRecord;
  });
  const context = (): Context =>
    createLambdaContext({ functionName: 'bench', timeoutSeconds: 30, memoryMb: 256, region: 'us-east-1' });
  for (let i = 0; i < 200; i++) await handler({ Records: records }, context()); // warm the JIT
  const before = process.cpuUsage();
  for (let i = 0; i < batches; i++) await handler({ Records: records }, context());
  const used = process.cpuUsage(before);
  return {
    microsecondsPerRecord: Number(((used.user + used.system) / (batches * BATCH)).toFixed(2)),
    records: batches * BATCH,
  };
}

if (import.meta.main) console.log(JSON.stringify(await measureOverhead(), null, 2));
