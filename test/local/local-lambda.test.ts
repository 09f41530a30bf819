/**
 * The local Lambda model: execution environments (timeouts, errors, crashes, isolation) and the
 * SQS event source mapping (batching window, concurrency, partial batch responses, malformed
 * responses, timeouts, pause/resume) against the SQS emulator.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { endLongPolls } from '../../lib/local/event-source.ts';
import { LocalEventSourceMapping, type BatchReport } from '../../lib/local/event-source-mapping.ts';
import { LocalFunction, type LocalFunctionSpec } from '../../lib/local/local-function.ts';
import { findStage } from '../../lib/topology/index.ts';
import { REGION, startLocalAws, type LocalAws } from '../support/local-aws.ts';
import { tempDir, waitFor } from '../support/runtime-process.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));
const dir = tempDir();
const lines: string[] = [];
const functions: LocalFunction[] = [];

function fn(overrides: Partial<LocalFunctionSpec> = {}): LocalFunction {
  const f = new LocalFunction(
    {
      name: 'fixture',
      handlerModule: join(FIXTURES, 'behave.ts'),
      environment: { FIXTURE_VALUE: 'from-env' },
      timeoutSeconds: 1,
      memoryMb: 128,
      maxConcurrency: 2,
      region: REGION,
      ...overrides,
    },
    (line) => lines.push(line),
  );
  functions.push(f);
  return f;
}

afterEach(async () => {
  await Promise.all(functions.splice(0).map((f) => f.close()));
});
afterAll(() => dir.remove());

describe('a local function', () => {
  it('runs the handler module with its own environment and a Lambda context', async () => {
    const result = await fn().invoke({ action: 'echo', n: 1 });
    expect(result).toMatchObject({
      ok: true,
      coldStart: true,
      response: { echo: { n: 1 }, env: 'from-env', invocations: 1 },
    });
    if (!result.ok) return;
    const response = result.response as { remainingMs: number; requestId: string };
    expect(response.remainingMs).toBeGreaterThan(500);
    expect(response.remainingMs).toBeLessThanOrEqual(1000);
    expect(response.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reuses a warm environment, and gives concurrent invocations their own', async () => {
    const f = fn();
    await f.invoke({ action: 'echo' });
    const warm = await f.invoke({ action: 'echo' });
    expect(warm).toMatchObject({ ok: true, coldStart: false, response: { invocations: 2 } });
    const [a, b] = await Promise.all([f.invoke({ action: 'wait', ms: 200 }), f.invoke({ action: 'wait', ms: 200 })]);
    expect([a.coldStart, b.coldStart].sort()).toEqual([false, true]);
    expect(f.stats.environments).toBe(2);
  });

  it('stops an invocation at its timeout, and nothing it would have done afterwards happens', async () => {
    const marker = join(dir.path, 'late-side-effect');
    const result = await fn().invoke({ action: 'wait', ms: 1500, marker });
    expect(result).toMatchObject({ ok: false, kind: 'timeout', message: 'Task timed out after 1.00 seconds' });
    await new Promise((r) => setTimeout(r, 800));
    expect(existsSync(marker)).toBe(false);
  });

  it('reports a handler error, and keeps serving', async () => {
    const f = fn();
    expect(await f.invoke({ action: 'throw' })).toMatchObject({
      ok: false,
      kind: 'error',
      message: 'RangeError: asked to fail',
    });
    expect(await f.invoke({ action: 'echo' })).toMatchObject({ ok: true });
  });

  it('caps memory at the function size: a leaking environment crashes and is replaced', async () => {
    const f = fn({ timeoutSeconds: 20 });
    expect(await f.invoke({ action: 'leak' })).toMatchObject({ ok: false, kind: 'crash' });
    expect(await f.invoke({ action: 'echo' })).toMatchObject({ ok: true, coldStart: true });
  });

  it('reports the heap each running environment uses, so a handler that keeps memory shows', async () => {
    const f = fn();
    await f.invoke({ action: 'echo' });
    const [before] = await f.heapUsedMb();
    expect(before).toBeGreaterThan(0);
    expect(await f.invoke({ action: 'keep' })).toMatchObject({ ok: true, coldStart: false });
    const after = await f.heapUsedMb();
    expect(after).toHaveLength(1);
    expect((after[0] as number) - (before as number)).toBeGreaterThan(12);
  });

  it('reports a module that fails to initialise', async () => {
    const result = await fn({ handlerModule: join(FIXTURES, 'init-fails.ts') }).invoke({});
    expect(result).toMatchObject({
      ok: false,
      kind: 'init',
      message: expect.stringContaining('missing configuration: FIXTURE_REQUIRED'),
    });
  });
});

describe('a local SQS event source mapping', () => {
  let aws: LocalAws;
  const mappings: LocalEventSourceMapping[] = [];
  beforeAll(async () => {
    aws = await startLocalAws({
      stages: {
        picking: { batchSize: 25, maxBatchingWindowSeconds: 1, maxConcurrency: 2, timeoutSeconds: 1 },
        // Batches as soon as records come, and room to scale: for the pollers' scaling.
        packing: { batchSize: 10, maxBatchingWindowSeconds: 0, maxConcurrency: 8, timeoutSeconds: 5 },
      },
    });
  });
  afterAll(() => aws?.stop());
  afterEach(async () => {
    await Promise.all(mappings.splice(0).map((m) => m.stop()));
    await aws.purgeAll();
  });

  function start(options: { log?: string; stage?: 'picking' | 'packing' } = {}): {
    mapping: LocalEventSourceMapping;
    reports: BatchReport[];
  } {
    const stage = findStage(aws.topology, 'wh-1', options.stage ?? 'picking')!;
    const resources = aws.stage('wh-1', options.stage ?? 'picking');
    const reports: BatchReport[] = [];
    const mapping = new LocalEventSourceMapping({
      stage,
      sqs: aws.sqs,
      queue: { url: resources.queueUrl, arn: resources.queueArn },
      region: REGION,
      function: fn({
        timeoutSeconds: stage.timeoutSeconds,
        maxConcurrency: stage.maxConcurrency,
        environment: options.log ? { BATCH_LOG: options.log } : {},
      }),
      onBatch: (r) => reports.push(r),
    });
    mappings.push(mapping);
    mapping.start();
    return { mapping, reports };
  }

  async function send(bodies: string[], stage: 'picking' | 'packing' = 'picking'): Promise<void> {
    for (let i = 0; i < bodies.length; i += 10) {
      await aws.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: aws.stage('wh-1', stage).queueUrl,
          Entries: bodies.slice(i, i + 10).map((b, j) => ({ Id: String(j), MessageBody: b })),
        }),
      );
    }
  }

  const depth = () => aws.depth(aws.stage('wh-1', 'picking').queueUrl);

  /** Samples the most invocations running at once until `done` resolves. */
  async function peakConcurrency(f: LocalFunction, done: Promise<unknown>): Promise<number> {
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, f.inUse)), 10);
    await done.finally(() => clearInterval(watch));
    return peak;
  }

  /** Ready (visible), in flight and the receive counts of a queue's messages, from the emulator, without receiving. */
  async function queueState(
    stage: 'picking' | 'packing' = 'picking',
  ): Promise<{ ready: number; inflight: number; receiveCounts: number[] }> {
    const { queueUrl } = aws.stage('wh-1', stage);
    const name = new URL(queueUrl).pathname.split('/').at(-1) as string;
    const { messages } = (await (await fetch(`${new URL(queueUrl).origin}/_fauxqs/queues/${name}`)).json()) as {
      messages: { ready: Array<{ approximateReceiveCount: number }>; inflight: unknown[] };
    };
    return {
      ready: messages.ready.length,
      inflight: messages.inflight.length,
      receiveCounts: messages.ready.map((m) => m.approximateReceiveCount),
    };
  }

  it('gathers records within the batching window into batches up to the batch size, and deletes what succeeded', async () => {
    await send(Array.from({ length: 60 }, (_, i) => `ok-${i}`));
    const { reports } = start();
    await waitFor(
      async () => (reports.reduce((a, r) => a + r.deleted, 0) === 60 ? true : undefined),
      15_000,
      '60 records',
    );
    expect(Math.max(...reports.map((r) => r.records))).toBe(25);
    expect(reports.every((r) => r.records <= 25)).toBe(true);
    expect(await depth()).toBe(0);
  });

  it('keeps the records a handler reports as failed, and only those', async () => {
    const { reports } = start();
    await send(['ok-1', 'fail-2', 'ok-3', 'fail-4']);
    await waitFor(
      async () => (reports.reduce((a, r) => a + r.records, 0) >= 4 ? true : undefined),
      10_000,
      'the batch',
    );
    expect(reports.reduce((a, r) => a + r.deleted, 0)).toBe(2);
    expect(reports.reduce((a, r) => a + r.retained, 0)).toBe(2);
    expect(await depth()).toBe(2);
  });

  it('fails the whole batch on a malformed response or a timeout: nothing is deleted', async () => {
    const { reports } = start();
    await send(['malformed', 'ok-1']);
    await waitFor(async () => (reports.length >= 1 ? true : undefined), 10_000, 'the malformed batch');
    expect(reports[0]).toMatchObject({ deleted: 0, batchFailure: { kind: 'malformed-response' } });
    await send(['wait:3000', 'ok-2']);
    await waitFor(
      async () => (reports.some((r) => r.batchFailure?.kind === 'timeout') ? true : undefined),
      10_000,
      'the timed-out batch',
    );
    expect(await depth()).toBe(4);
  });

  it('stops consuming while paused (messages wait) and drains after resume', async () => {
    const { mapping, reports } = start();
    mapping.pause();
    await new Promise((r) => setTimeout(r, 300));
    await send(Array.from({ length: 12 }, (_, i) => `ok-${i}`));
    await new Promise((r) => setTimeout(r, 1500));
    expect(reports).toHaveLength(0);
    expect(await depth()).toBe(12);
    mapping.resume();
    await waitFor(
      async () => (reports.reduce((a, r) => a + r.deleted, 0) === 12 ? true : undefined),
      10_000,
      'the drain',
    );
  });

  it('runs up to maxConcurrency invocations at once, and can be scaled', async () => {
    const log = join(dir.path, 'batches.log');
    const { mapping, reports } = start({ log });
    await send(Array.from({ length: 6 }, () => 'wait:700'));
    const f = functions.at(-1)!;
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, f.inUse)), 20);
    await waitFor(
      async () => (reports.reduce((a, r) => a + r.deleted, 0) === 6 ? true : undefined),
      15_000,
      'six slow records',
    );
    clearInterval(watch);
    expect(peak).toBeLessThanOrEqual(2);
    mapping.scale(4);
    expect(mapping.maxConcurrency).toBe(4);
    expect(f.maxConcurrency).toBe(4);
    expect(readFileSync(log, 'utf8').trim().split('\n').length).toBeGreaterThan(0);
  });

  it('starts with min(5, maxConcurrency) pollers, as Lambda: records that arrive while a batch runs start their own invocation at once', async () => {
    const { mapping, reports } = start({ stage: 'packing' });
    expect(mapping.activePollers).toBe(5);
    const f = functions.at(-1)!;
    // One slow record at a time: no batch is ever full, so only the initial pollers can take them.
    const arrivals = (async () => {
      for (let i = 0; i < 4; i++) {
        await send(['wait:1500'], 'packing');
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    const peak = await peakConcurrency(
      f,
      arrivals.then(() => waitFor(async () => (reports.length === 4 ? true : undefined), 10_000, 'four batches')),
    );
    expect(peak).toBe(4);
    expect(reports.every((r) => r.records === 1)).toBe(true);
  });

  it('never starts more pollers than maxConcurrency', async () => {
    const { mapping, reports } = start();
    expect(mapping.activePollers).toBe(2);
    const f = functions.at(-1)!;
    const peak = await peakConcurrency(
      f,
      (async () => {
        for (let i = 0; i < 4; i++) await send(['wait:400']);
        await waitFor(
          async () => (reports.reduce((a, r) => a + r.deleted, 0) === 4 ? true : undefined),
          10_000,
          'four slow records',
        );
      })(),
    );
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(2);
  });

  it('adds pollers while batches come back full, up to maxConcurrency, and drops back to the initial five when polls come back empty', async () => {
    await send(
      Array.from({ length: 300 }, () => 'wait:300'),
      'packing',
    );
    const { mapping, reports } = start({ stage: 'packing' });
    const f = functions.at(-1)!;
    const peak = await peakConcurrency(
      f,
      waitFor(
        async () => (reports.reduce((a, r) => a + r.deleted, 0) === 300 ? true : undefined),
        20_000,
        'the backlog',
      ),
    );
    expect(peak).toBe(8);
    expect(mapping.activePollers).toBe(8);
    // Long polls that come back empty (ended here rather than waited out for 20 s) retire the extra
    // pollers — down to five, never fewer (with a maximum concurrency set, Lambda keeps five).
    for (let i = 0; i < 12; i++) {
      await endLongPolls(aws.stage('wh-1', 'packing').queueUrl);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(mapping.activePollers).toBe(5);
  });

  it('hands back what it gathered and did not invoke when it stops: visible again at once, not after the visibility timeout', async () => {
    const { mapping, reports } = start(); // picking: batches of 25 gathered within a 1 s window
    await send(['ok-1', 'ok-2', 'ok-3']);
    await waitFor(async () => (mapping.held === 3 ? true : undefined), 2_000, 'the records gathered');
    await mapping.stop();
    expect(reports).toEqual([]);
    expect(mapping.held).toBe(0);
    // Received once, not invoked: ready now, with their receive counted (as SQS counts it).
    expect(await queueState()).toEqual({ ready: 3, inflight: 0, receiveCounts: [1, 1, 1] });
  });

  it('hands back what it gathered when paused, and invokes it after resume', async () => {
    const { mapping, reports } = start();
    await send(['ok-1', 'ok-2']);
    await waitFor(async () => (mapping.held === 2 ? true : undefined), 2_000, 'the records gathered');
    mapping.pause();
    await waitFor(async () => ((await queueState()).ready === 2 ? true : undefined), 2_000, 'the records handed back');
    expect(reports).toEqual([]);
    mapping.resume();
    await waitFor(
      async () => (reports.reduce((a, r) => a + r.deleted, 0) === 2 ? true : undefined),
      5_000,
      'the batch after resume',
    );
  });

  it('stops promptly while its pollers wait in long polls, and leaves nothing in flight', async () => {
    const { mapping } = start({ stage: 'packing' });
    await new Promise((r) => setTimeout(r, 300)); // five long polls waiting
    const started = Date.now();
    await mapping.stop();
    expect(Date.now() - started).toBeLessThan(3_000);
    await send(['after-stop'], 'packing');
    await new Promise((r) => setTimeout(r, 100));
    expect(await queueState('packing')).toEqual({ ready: 1, inflight: 0, receiveCounts: [0] });
  });
});
