/**
 * The stage runtime knows nothing of orders (issue 13, item 3): a pipeline whose stages and messages
 * are not orders at all — documents, extracted then indexed — runs through the same core, with the
 * same ledger (steps, the exactly-once completion, dead letters), on the in-memory SQS and table.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { OrderLedger } from '../../lib/ledger/ledger.ts';
import { createLambdaContext, toSqsRecord } from '../../lib/local/lambda-events.ts';
import { NO_CHAOS } from '../../lib/runtime/chaos.ts';
import type { StageConfig } from '../../lib/runtime/environment.ts';
import { reject, succeed } from '../../lib/runtime/outcome.ts';
import { SqsQueues } from '../../lib/runtime/ports.ts';
import { createStageHandler, type StageDefinition } from '../../lib/runtime/stage-handler.ts';
import { ReceiveMessageCommand, SendMessageBatchCommand, type Message } from '@aws-sdk/client-sqs';
import { MemorySqs } from '../support/memory-sqs.ts';
import { MemoryTable } from '../support/memory-table.ts';

const Document = z.strictObject({ docId: z.string(), collection: z.string(), text: z.string() });
type Document = z.infer<typeof Document>;
const Extracted = z.looseObject({ document: Document, extract: z.strictObject({ words: z.array(z.string()) }) });
type Extracted = z.infer<typeof Extracted>;

const identify = (m: { document: Document }) => ({ id: m.document.docId, partition: m.document.collection });
const extract: StageDefinition<{ document: Document }, { words: string[] }> = {
  stage: 'extract',
  input: z.looseObject({ document: Document }),
  identify,
  process: (batch) =>
    batch.map((m) =>
      m.document.text === ''
        ? reject('nothing to extract from an empty document')
        : succeed({ words: m.document.text.toLowerCase().split(/\W+/).filter(Boolean) }),
    ),
  summarize: (value) => ({ words: value.words.length }),
};
const index: StageDefinition<Extracted, { terms: number }> = {
  stage: 'index',
  input: Extracted,
  identify,
  process: (batch) => batch.map((m) => succeed({ terms: new Set(m.extract.words).size })),
  summarize: (value) => ({ terms: value.terms }),
};

const url = (name: string) => `http://sqs.memory/docs-${name}`;
const config = (stage: string, position: number, next?: string): StageConfig => ({
  pipelineId: 'library',
  stage,
  position,
  ...(next ? { nextStage: next, nextQueueUrl: url(next) } : {}),
  batchingWindowSeconds: 0,
  queueUrl: url(stage),
  deadLetterQueueUrl: url(`${stage}-dlq`),
  tableName: 'memory',
  tracking: 'full',
  maxReceiveCount: 3,
  backoff: { baseSeconds: 1, capSeconds: 4 },
  chaos: NO_CHAOS,
});
const silent = { addContext() {}, info() {}, warn() {}, error() {}, debug() {} } as never;
const noMetrics = { addMetric() {}, publishStoredMetrics() {} } as never;

describe('a pipeline of documents through the order pipeline’s core', () => {
  it('extracts, indexes and records each document once, and dead-letters the one it cannot extract', async () => {
    const sqs = new MemorySqs(() => Date.now());
    for (const name of ['extract', 'index', 'extract-dlq', 'index-dlq'])
      sqs.createQueue(url(name), { visibilityTimeoutSeconds: 30 });
    const ledger = new OrderLedger(new MemoryTable(), {
      accepted: 'received',
      waitingIn: (stage) => `waiting to ${stage}`,
      completed: 'indexed',
    });
    const deps = { ledger, queues: new SqsQueues(sqs.client), logger: silent, metrics: noMetrics };
    const handlers = {
      extract: createStageHandler(extract, { ...deps, config: config('extract', 1, 'index') }),
      index: createStageHandler(index, { ...deps, config: config('index', 2) }),
    };
    const documents: Document[] = [
      { docId: 'd-1', collection: 'library', text: 'The quick brown fox' },
      { docId: 'd-2', collection: 'library', text: 'jumps over the lazy dog, the end' },
      { docId: 'd-3', collection: 'library', text: '' },
    ];
    await sqs.client.send(
      new SendMessageBatchCommand({
        QueueUrl: url('extract'),
        Entries: documents.map((document, i) => ({ Id: String(i), MessageBody: JSON.stringify({ document }) })),
      }),
    );
    const run = async (stage: 'extract' | 'index') => {
      const { Messages = [] } = (await sqs.client.send(
        new ReceiveMessageCommand({ QueueUrl: url(stage), MaxNumberOfMessages: 10 }),
      )) as { Messages?: Message[] };
      const records = Messages.map((m) => toSqsRecord(m, `arn:aws:sqs:us-east-1:0:${stage}`, 'us-east-1'));
      return handlers[stage](
        { Records: records },
        createLambdaContext({ functionName: stage, timeoutSeconds: 30, memoryMb: 128, region: 'us-east-1' }),
      );
    };

    expect((await run('extract')).batchItemFailures).toEqual([]);
    expect((await run('index')).batchItemFailures).toEqual([]);

    expect(await ledger.read('d-1')).toMatchObject({ status: 'indexed', stage: 'index', delivery: { terms: 4 } });
    expect((await ledger.read('d-2'))?.history.map((h) => `${h.by}:${h.status}`)).toEqual([
      'extract:waiting to index',
      'index:indexed',
    ]);
    expect(await ledger.read('d-3')).toMatchObject({
      status: 'dead-lettered',
      stage: 'extract',
      reason: 'nothing to extract from an empty document',
    });
    expect(sqs.messages(url('extract-dlq')).map((m) => JSON.parse(m.Body).document.docId)).toEqual(['d-3']);
  });
});
