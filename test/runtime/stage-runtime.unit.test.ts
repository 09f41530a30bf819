/**
 * The stage runtime's decisions, in memory (no emulators): what it reports to Lambda, the backoff it
 * sets, what it counts — for the failures that must never lose an order or hide one.
 */
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { ORDER_STATUS_LABELS } from '../../lib/domain/status.ts';
import { OrderLedger } from '../../lib/ledger/ledger.ts';
import { deliveryStage, pickingStage } from '../../lib/orders/stages.ts';
import { backoffCeilingSeconds } from '../../lib/topology/limits.ts';
import { readStageConfig, stageEnvironment } from '../../lib/runtime/environment.ts';
import { retry, reject } from '../../lib/runtime/outcome.ts';
import type { OutgoingMessage, ProgressLedger, Queues, VisibilityChange } from '../../lib/runtime/ports.ts';
import { createStageHandler, type StageDefinition } from '../../lib/runtime/stage-handler.ts';
import { findStage, loadTopology, type StageName } from '../../lib/topology/index.ts';
import { context, deliveryMessage, order } from '../support/orders.ts';
import { MemoryTable } from '../support/memory-table.ts';
import { pickingRecord, sqsRecord } from '../support/records.ts';

const topology = loadTopology(
  { stages: { picking: { maxReceiveCount: 10, backoff: { baseSeconds: 2, capSeconds: 300 } } } },
  'test',
);
const DLQ = 'http://sqs.test/dlq';

function configOf(stage: StageName) {
  const s = findStage(topology, 'wh-1', stage)!;
  return readStageConfig(
    stage,
    stageEnvironment(topology, s, {
      queueUrl: 'http://sqs.test/queue',
      deadLetterQueueUrl: DLQ,
      ...(s.next ? { nextQueueUrl: 'http://sqs.test/next' } : {}),
      tableName: 't',
    }),
  );
}

/** Queues that record what they are asked, refusing sends to the queues in `refuse`. */
function recordingQueues(refuse: readonly string[] = []) {
  const sent: { queueUrl: string; message: OutgoingMessage }[] = [];
  const visibility: VisibilityChange[] = [];
  const queues: Queues = {
    async send(queueUrl, messages) {
      if (refuse.includes(queueUrl))
        return { sent: new Map(), unsent: new Map(messages.map((m) => [m.key, 'InternalError: try again'])) };
      for (const message of messages) sent.push({ queueUrl, message });
      return { sent: new Map(messages.map((m) => [m.key, `dlq-${m.key}`])), unsent: new Map() };
    },
    async changeVisibility(_queueUrl, changes) {
      visibility.push(...changes);
      return 0;
    },
  };
  return { queues, sent, visibility };
}

const metricsSink = () => {
  const values: Record<string, number> = {};
  return {
    values,
    metrics: {
      addMetric: (name: string, _unit: unknown, value: number) => void (values[name] = (values[name] ?? 0) + value),
      publishStoredMetrics() {},
    } as never,
  };
};
const silent = { addContext() {}, info() {}, warn() {}, error() {}, debug() {} } as never;

async function invoke<In, Out>(
  definition: StageDefinition<In, Out>,
  stage: StageName,
  records: SQSRecord[],
  options: { queues: Queues; ledger?: ProgressLedger; random?: () => number },
) {
  const { values, metrics } = metricsSink();
  const handler = createStageHandler(definition, {
    config: configOf(stage),
    queues: options.queues,
    ledger: options.ledger ?? new OrderLedger(new MemoryTable(), ORDER_STATUS_LABELS),
    logger: silent,
    metrics,
    random: options.random ?? (() => 1),
  });
  return { response: await handler({ Records: records }, context()), metrics: values };
}

describe('retries', () => {
  it('back off by each record’s own receive count, within the stage’s cap', async () => {
    const { queues, visibility } = recordingQueues();
    const records = [1, 2, 5, 9].map((count, i) => pickingRecord(700 + i, count));
    const alwaysRetry = {
      ...pickingStage,
      process: (batch: readonly unknown[]) => batch.map(() => retry('scanner offline')),
    };

    const { response } = await invoke(alwaysRetry, 'picking', records, { queues, random: () => 1 });

    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(records.map((r) => r.messageId));
    const backoff = configOf('picking').backoff;
    // random() = 1 draws the ceiling itself: min(cap, base · 2^(n−1)) for receive n.
    expect(visibility.map((v) => v.seconds)).toEqual([1, 2, 5, 9].map((n) => backoffCeilingSeconds(backoff, n)));
    expect(visibility.map((v) => v.receiptHandle)).toEqual(records.map((r) => r.receiptHandle));
  });
});

describe('the last stage', () => {
  const deliveryRecord = () => sqsRecord(deliveryMessage(order(720)), { orderId: 'order-720' });

  it('keeps a record whose delivery could not be written, and does not count it as delivered', async () => {
    const { queues } = recordingQueues();
    const failing: ProgressLedger = {
      lookup: async () => new Map(),
      recordSteps: async () => [],
      complete: async (entries) =>
        entries.map(() => ({ kind: 'error', message: 'ProvisionedThroughputExceededException' }) as const),
      deadLetter: async (entries) => entries.map(() => ({ kind: 'applied' }) as const),
      revive: async (entries) => entries.map(() => ({ kind: 'ignored' }) as const),
    };
    const record = deliveryRecord();
    const { response, metrics } = await invoke(
      {
        ...deliveryStage,
        process: (batch) =>
          batch.map(
            () =>
              ({
                ok: true,
                value: {
                  carrier: 'paketfix',
                  service: 'ground',
                  trackingNumber: 'PF1',
                  manifestId: 'MF-1',
                  parcels: 1,
                  weightGrams: 100,
                  lines: 1,
                  units: 1,
                },
              }) as const,
          ),
      },
      'delivery',
      [record],
      { queues, ledger: failing },
    );

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(metrics.Succeeded).toBe(0);
  });
});

describe('dead letters', () => {
  it('keep a record whose dead letter could not be sent, so the queue’s redrive policy still has it', async () => {
    const { queues, sent } = recordingQueues([DLQ]);
    const record = pickingRecord(730);

    const { response, metrics } = await invoke(
      { ...pickingStage, process: (batch) => batch.map(() => reject('SKU discontinued')) },
      'picking',
      [record],
      { queues },
    );

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(sent.filter((s) => s.queueUrl === DLQ)).toEqual([]);
    expect(metrics.DeadLettered).toBe(0);
  });

  it('are sent with their reason, and then the order is marked', async () => {
    const { queues, sent } = recordingQueues();
    const ledger = new OrderLedger(new MemoryTable(), ORDER_STATUS_LABELS);
    const record = pickingRecord(731);

    const { response } = await invoke(
      { ...pickingStage, process: (batch) => batch.map(() => reject('SKU discontinued')) },
      'picking',
      [record],
      { queues, ledger },
    );

    expect(response.batchItemFailures).toEqual([]);
    expect(sent.map((s) => [s.queueUrl, s.message.attributes['conveyor.reason']?.StringValue])).toEqual([
      [DLQ, 'SKU discontinued'],
    ]);
    expect(await ledger.read('order-731')).toMatchObject({
      status: 'dead-lettered',
      stage: 'picking',
      reason: 'SKU discontinued',
    });
  });
});
