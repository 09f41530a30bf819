/**
 * The fault suite: the pipeline under handler timeouts, duplicate deliveries (redeliveries while
 * a batch still runs, and the queues' own duplicates), out-of-order deliveries and a dying
 * emulator. For each, every order the API accepted ends delivered exactly once, and the counts
 * reconcile. Losses and duplicates are counted from outside: each order's status and history.
 * (Transient failures and kill -9 of the whole runtime: resilience.e2e.test.ts.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { DUPLICATE_LAG_MAX_MS } from '../../lib/local/sqs-fidelity.ts';
import { expectDeliveredOnce, reportRun } from '../support/orders-check.ts';
import {
  getJson,
  makeOrders,
  startRuntime,
  submitAll,
  tempDir,
  waitFor,
  type RuntimeProcess,
} from '../support/runtime-process.ts';

const running: RuntimeProcess[] = [];
const dirs: Array<{ remove(): void }> = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop().catch(() => r.child.kill('SIGKILL'))));
  for (const d of dirs.splice(0)) d.remove();
});

const stats = async (url: string) => (await getJson(`${url}/api/stats`)).body;

async function settled(url: string, count: number, timeoutMs: number) {
  return waitFor(
    async () => {
      const s = await stats(url);
      if (s.totals.delivered >= count && s.totals.inFlight === 0) return s;
      // Not settled yet: say where it stands, so a timeout tells why (the last of these is reported).
      throw new Error(`${JSON.stringify(s.totals)}; breakers not closed: ${openBreakers(s).join(', ') || 'none'}`);
    },
    timeoutMs,
    `${count} deliveries`,
  );
}

/** `wh/stage breaker-state (reason)` for every stage whose circuit breaker is not closed. */
function openBreakers(s: { pipelines: Record<string, Record<string, { breaker: string; breakerReason: string }>> }) {
  return Object.entries(s.pipelines).flatMap(([warehouse, stages]) =>
    Object.entries(stages)
      .filter(([, stage]) => stage.breaker !== 'closed')
      .map(([name, stage]) => `${warehouse}/${name} ${stage.breaker} (${stage.breakerReason})`),
  );
}

function topology(
  stage: Record<string, unknown>,
  overrides: Record<string, Record<string, unknown>> = {},
  rest: Record<string, unknown> = {},
) {
  const base = { maxReceiveCount: 20, backoff: { baseSeconds: 1, capSeconds: 2 }, ...stage };
  return JSON.stringify({
    ...rest,
    stages: {
      picking: { ...base, ...overrides.picking },
      packing: { ...base, ...overrides.packing },
      delivery: { ...base, ...overrides.delivery },
    },
  });
}

/**
 * Five pollers per stage, so a message and its copy can be in two invocations at once; the
 * intake gets time to spare, as thirty execution environments start beside it on a small machine.
 */
const CONTENDED = topology({ timeoutSeconds: 10, maxConcurrency: 5 }, {}, { intake: { timeoutSeconds: 29 } });

describe('fault suite', () => {
  it('handler timeouts: batches that hang past the function timeout are stopped, and their orders still arrive exactly once', async () => {
    // Packing hangs in 25 % of its batches (small batches, so many hang): visibility 6 × 2 + 1 = 13 s.
    // A stalled batch fails all its records at once, so two stalls in a minute cross the circuit
    // breaker's 50 % and it rightly opens for a minute or more (breaker.e2e.test.ts is about that);
    // here it is off, so what is measured is timeouts alone, within the test's time.
    const runtime = await startRuntime({
      args: ['--in-memory'],
      env: {
        CONVEYOR_TOPOLOGY: topology({ timeoutSeconds: 2, breaker: { enabled: false } }, { packing: { batchSize: 10 } }),
        CONVEYOR_CHAOS: 'packing:0.25:stall',
      },
    });
    running.push(runtime);
    const orders = makeOrders('hang', 200);
    const started = Date.now();
    await submitAll(runtime.url, orders);

    const final = await settled(runtime.url, 200, 150_000);
    reportRun(
      'handler timeouts (25 % of packing batches stall past a 2 s timeout)',
      final,
      (Date.now() - started) / 1000,
    );

    expect(final.totals).toEqual({
      accepted: 200,
      delivered: 200,
      deadLettered: 0,
      cancelled: 0,
      purged: 0,
      inFlight: 0,
    });
    const timedOut =
      (final.pipelines['wh-1'].packing.failedBatches ?? 0) + (final.pipelines['wh-2'].packing.failedBatches ?? 0);
    expect(timedOut, 'some packing batches timed out').toBeGreaterThan(0);
    expect(runtime.output()).toContain('Task timed out after 2.00 seconds');
    await expectDeliveredOnce(runtime.url, orders, { fullHistory: false });
  }, 180_000);

  it('duplicate deliveries: SQS redelivers while the first attempt still runs, and no order is delivered twice', async () => {
    // Every packing and delivery batch takes 2.5 s; the queues' visibility timeout is cut to 1 s
    // behind the runtime's back, so other pollers receive the same messages meanwhile.
    const runtime = await startRuntime({
      args: ['--in-memory'],
      env: {
        CONVEYOR_TOPOLOGY: topology({ timeoutSeconds: 10 }),
        CONVEYOR_CHAOS: 'packing:1:delay=2500,delivery:1:delay=2500',
      },
    });
    running.push(runtime);
    const { body: info } = await getJson(`${runtime.url}/api/topology`);
    const sqs = new SQSClient({
      endpoint: info.endpoints.sqs,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    for (const pipeline of info.pipelines) {
      for (const stage of pipeline.stages.slice(1))
        await sqs.send(
          new SetQueueAttributesCommand({ QueueUrl: stage.queueUrl, Attributes: { VisibilityTimeout: '1' } }),
        );
    }
    sqs.destroy();
    const orders = makeOrders('twice', 200);
    const started = Date.now();
    await submitAll(runtime.url, orders);

    const final = await settled(runtime.url, 200, 150_000);
    reportRun('duplicate deliveries (visibility 1 s < processing 2.5 s)', final, (Date.now() - started) / 1000);

    expect(final.totals).toEqual({
      accepted: 200,
      delivered: 200,
      deadLettered: 0,
      cancelled: 0,
      purged: 0,
      inFlight: 0,
    });
    const duplicates = ['wh-1', 'wh-2'].reduce(
      (sum, w) => sum + final.pipelines[w].packing.duplicates + final.pipelines[w].delivery.duplicates,
      0,
    );
    expect(duplicates, 'SQS did redeliver, and the stages skipped the copies').toBeGreaterThan(0);
    await expectDeliveredOnce(runtime.url, orders, { fullHistory: false });
  }, 180_000);

  it('the queues deliver some messages twice (CONVEYOR_CHAOS duplicate, with a data directory): every order is still delivered exactly once', async () => {
    const data = tempDir();
    dirs.push(data);
    const runtime = await startRuntime({
      env: {
        CONVEYOR_DATA_DIR: data.path,
        CONVEYOR_TOPOLOGY: CONTENDED,
        CONVEYOR_CHAOS: 'picking:0.3:duplicate,packing:0.3:duplicate,delivery:0.3:duplicate',
      },
    });
    running.push(runtime);
    const orders = makeOrders('copied', 300);
    const started = Date.now();
    await submitAll(runtime.url, orders);

    await settled(runtime.url, 300, 150_000);
    // Copies still on their way arrive within the lag; then the pipeline settles again.
    await new Promise((r) => setTimeout(r, DUPLICATE_LAG_MAX_MS + 1000));
    const final = await settled(runtime.url, 300, 60_000);
    reportRun('the queues duplicate 30 % of deliveries in every stage', final, (Date.now() - started) / 1000);

    const duplicates = ['wh-1', 'wh-2'].reduce(
      (sum, w) => sum + ['picking', 'packing', 'delivery'].reduce((a, s) => a + final.pipelines[w][s].duplicates, 0),
      0,
    );
    expect(duplicates, 'the queues did deliver copies, and the stages skipped them').toBeGreaterThan(0);
    await expectDeliveredOnce(runtime.url, orders);
    expect(final.totals).toMatchObject({ accepted: 300, delivered: 300, deadLettered: 0, inFlight: 0 });
  }, 240_000);

  it('the queues hand messages out of order (CONVEYOR_CHAOS reorder, with transient failures): every order is still delivered exactly once', async () => {
    const runtime = await startRuntime({
      args: ['--in-memory'],
      env: {
        CONVEYOR_TOPOLOGY: CONTENDED,
        CONVEYOR_CHAOS:
          'picking:0.5:reorder,packing:0.5:reorder,delivery:0.5:reorder,picking:0.2,packing:0.2,delivery:0.2',
      },
    });
    running.push(runtime);
    const orders = makeOrders('shuffled', 300);
    const started = Date.now();
    await submitAll(runtime.url, orders);

    const final = await settled(runtime.url, 300, 150_000);
    reportRun(
      'the queues reorder 50 % of messages, 20 % transient failures, in every stage',
      final,
      (Date.now() - started) / 1000,
    );
    await expectDeliveredOnce(runtime.url, orders);
    expect(final.totals).toMatchObject({ accepted: 300, delivered: 300, deadLettered: 0, inFlight: 0 });
  }, 240_000);

  it('the emulator process dying under the pollers: it is restarted on the same data, and nothing is lost or doubled', async () => {
    const data = tempDir();
    dirs.push(data);
    const runtime = await startRuntime({
      env: { CONVEYOR_DATA_DIR: data.path, CONVEYOR_TOPOLOGY: topology({ timeoutSeconds: 3 }) },
    });
    running.push(runtime);
    const orders = makeOrders('crash-emu', 300);
    const started = Date.now();
    await submitAll(runtime.url, orders);
    await waitFor(
      async () => ((await stats(runtime.url)).totals.delivered >= 60 ? true : undefined),
      60_000,
      'deliveries before the crash',
    );

    const [emulator] = childPids(runtime.pid);
    expect(emulator, 'the emulator process').toBeDefined();
    process.kill(emulator as number, 'SIGKILL');
    await waitFor(
      async () => (runtime.output().includes('the emulator process is back') ? true : undefined),
      30_000,
      'the emulator restart',
    );

    const final = await settled(runtime.url, 300, 150_000).catch(async (error: Error) => {
      // Tell a lost order from a miscount: look at every order.
      const missing: string[] = [];
      for (const o of orders)
        if ((await getJson(`${runtime.url}/orders/${o.orderId}`)).body.status !== 'delivered') missing.push(o.orderId);
      throw new Error(
        `${error.message}; totals ${JSON.stringify((await stats(runtime.url)).totals)}; not delivered: ${missing.length} (${missing.slice(0, 5).join(', ')})`,
      );
    });
    reportRun('emulator process killed (-9) under load, restarted', final, (Date.now() - started) / 1000);
    expect(final.totals).toEqual({
      accepted: 300,
      delivered: 300,
      deadLettered: 0,
      cancelled: 0,
      purged: 0,
      inFlight: 0,
    });
    await expectDeliveredOnce(runtime.url, orders, { fullHistory: false });
    expect(runtime.child.exitCode).toBeNull();
  }, 180_000);
});

function childPids(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
    readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
  );
}
