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
    { name: 'fixture', handlerModule: join(FIXTURES, 'behave.ts'), environment: { FIXTURE_VALUE: 'from-env' }, timeoutSeconds: 1, memoryMb: 128, maxConcurrency: 2, region: REGION, ...overrides },
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
    expect(result).toMatchObject({ ok: true, coldStart: true, response: { echo: { n: 1 }, env: 'from-env', invocations: 1 } });
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
    expect(await f.invoke({ action: 'throw' })).toMatchObject({ ok: false, kind: 'error', message: 'RangeError: asked to fail' });
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
    expect(result).toMatchObject({ ok: false, kind: 'init', message: expect.stringContaining('missing configuration: FIXTURE_REQUIRED') });
  });
});

describe('a local SQS event source mapping', () => {
  let aws: LocalAws;
  const mappings: LocalEventSourceMapping[] = [];
  beforeAll(async () => {
    aws = await startLocalAws({ stages: { picking: { batchSize: 25, maxBatchingWindowSeconds: 1, maxConcurrency: 2, timeoutSeconds: 1 } } });
  });
  afterAll(() => aws?.stop());
  afterEach(async () => {
    await Promise.all(mappings.splice(0).map((m) => m.stop()));
    await aws.purgeAll();
  });

  function start(options: { log?: string } = {}): { mapping: LocalEventSourceMapping; reports: BatchReport[] } {
    const stage = findStage(aws.topology, 'wh-1', 'picking')!;
    const resources = aws.stage('wh-1', 'picking');
    const reports: BatchReport[] = [];
    const mapping = new LocalEventSourceMapping({
      stage,
      sqs: aws.sqs,
      queue: { url: resources.queueUrl, arn: resources.queueArn },
      region: REGION,
      function: fn({ timeoutSeconds: stage.timeoutSeconds, maxConcurrency: stage.maxConcurrency, environment: options.log ? { BATCH_LOG: options.log } : {} }),
      onBatch: (r) => reports.push(r),
    });
    mappings.push(mapping);
    mapping.start();
    return { mapping, reports };
  }

  async function send(bodies: string[]): Promise<void> {
    for (let i = 0; i < bodies.length; i += 10) {
      await aws.sqs.send(new SendMessageBatchCommand({ QueueUrl: aws.stage('wh-1', 'picking').queueUrl, Entries: bodies.slice(i, i + 10).map((b, j) => ({ Id: String(j), MessageBody: b })) }));
    }
  }

  const depth = () => aws.depth(aws.stage('wh-1', 'picking').queueUrl);

  it('gathers records within the batching window into batches up to the batch size, and deletes what succeeded', async () => {
    await send(Array.from({ length: 60 }, (_, i) => `ok-${i}`));
    const { reports } = start();
    await waitFor(async () => (reports.reduce((a, r) => a + r.deleted, 0) === 60 ? true : undefined), 15_000, '60 records');
    expect(Math.max(...reports.map((r) => r.records))).toBe(25);
    expect(reports.every((r) => r.records <= 25)).toBe(true);
    expect(await depth()).toBe(0);
  });

  it('keeps the records a handler reports as failed, and only those', async () => {
    const { reports } = start();
    await send(['ok-1', 'fail-2', 'ok-3', 'fail-4']);
    await waitFor(async () => (reports.reduce((a, r) => a + r.records, 0) >= 4 ? true : undefined), 10_000, 'the batch');
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
    await waitFor(async () => (reports.some((r) => r.batchFailure?.kind === 'timeout') ? true : undefined), 10_000, 'the timed-out batch');
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
    await waitFor(async () => (reports.reduce((a, r) => a + r.deleted, 0) === 12 ? true : undefined), 10_000, 'the drain');
  });

  it('runs up to maxConcurrency invocations at once, and can be scaled', async () => {
    const log = join(dir.path, 'batches.log');
    const { mapping, reports } = start({ log });
    await send(Array.from({ length: 6 }, () => 'wait:700'));
    const f = functions.at(-1)!;
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, f.inUse)), 20);
    await waitFor(async () => (reports.reduce((a, r) => a + r.deleted, 0) === 6 ? true : undefined), 15_000, 'six slow records');
    clearInterval(watch);
    expect(peak).toBeLessThanOrEqual(2);
    mapping.scale(4);
    expect(mapping.maxConcurrency).toBe(4);
    expect(f.maxConcurrency).toBe(4);
    expect(readFileSync(log, 'utf8').trim().split('\n').length).toBeGreaterThan(0);
  });
});
