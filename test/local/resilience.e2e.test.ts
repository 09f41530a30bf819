/**
 * Resilience of the local runtime, end to end: transient failures in every stage, and a kill -9
 * of the whole runtime in the middle of a load. Counted from outside, through the API.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { expectDeliveredOnce, reportRun } from '../support/orders-check.ts';
import {
  getJson,
  listeningSockets,
  makeOrders,
  startRuntime,
  submitAll,
  tempDir,
  waitFor,
  type RuntimeProcess,
} from '../support/runtime-process.ts';

/**
 * Small timeouts (visibility = 6 × 2 + 1 = 13 s) and short backoffs, so retries and redeliveries
 * happen within a test; enough receives that 30 % chaos never exhausts them (0.3^20 ≈ 3e-11).
 */
const fast = { timeoutSeconds: 2, maxReceiveCount: 20, backoff: { baseSeconds: 1, capSeconds: 2 } };
const TOPOLOGY = JSON.stringify({ stages: { picking: fast, packing: fast, delivery: fast } });
/** For chaos: a realistic timeout, so only injected failures (not deadline pressure) cause retries. */
const relaxed = { ...fast, timeoutSeconds: 10 };
const CHAOS_TOPOLOGY = JSON.stringify({ stages: { picking: relaxed, packing: relaxed, delivery: relaxed } });

const running: RuntimeProcess[] = [];
const dirs: Array<{ remove(): void }> = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop().catch(() => r.child.kill('SIGKILL'))));
  for (const dir of dirs.splice(0)) dir.remove();
});

async function stats(url: string) {
  return (await getJson(`${url}/api/stats`)).body;
}

/** Orders in flight when the whole runtime is killed: enough that the kill lands mid-load, few enough for the suite's budget. */
const CRASH_ORDERS = 800;

describe('resilience', () => {
  it('delivers every order exactly once with 30 % transient failures in every stage', async () => {
    const runtime = await startRuntime({
      args: ['--in-memory'],
      env: { CONVEYOR_TOPOLOGY: CHAOS_TOPOLOGY, CONVEYOR_CHAOS: 'picking:0.3,packing:0.3,delivery:0.3' },
    });
    running.push(runtime);
    const orders = makeOrders('chaos', 400);
    const started = Date.now();
    await submitAll(runtime.url, orders);

    const final = await waitFor(
      async () => {
        const s = await stats(runtime.url);
        return s.totals.delivered >= 400 && s.totals.inFlight === 0 ? s : undefined;
      },
      120_000,
      '400 deliveries under chaos',
    );

    reportRun('30 % transient failures in every stage', final, (Date.now() - started) / 1000);
    expect(final.totals).toEqual({
      accepted: 400,
      delivered: 400,
      deadLettered: 0,
      cancelled: 0,
      purged: 0,
      inFlight: 0,
    });
    for (const warehouse of ['wh-1', 'wh-2']) {
      for (const stage of ['picking', 'packing', 'delivery']) {
        // Roughly 30 % of attempts failed and were retried (with backoff), none dead-lettered.
        expect(final.pipelines[warehouse][stage].retried, `${warehouse}/${stage}`).toBeGreaterThan(20);
        expect(final.pipelines[warehouse][stage].dlq).toBe(0);
      }
    }
    await expectDeliveredOnce(runtime.url, orders);
  }, 150_000);

  it('loses nothing and delivers nothing twice when the whole runtime is killed (-9) mid-load and restarted', async () => {
    const data = tempDir();
    dirs.push(data);
    const env = { CONVEYOR_TOPOLOGY: TOPOLOGY, CONVEYOR_DATA_DIR: data.path };
    const first = await startRuntime({ env });
    running.push(first);
    const orders = makeOrders('crash', CRASH_ORDERS);
    const started = Date.now();
    await submitAll(first.url, orders);
    // Bounded generously: on two busy cores (the whole suite, two files at a time) the first deliveries may take a while.
    await waitFor(
      async () => ((await stats(first.url)).totals.delivered >= 200 ? true : undefined),
      90_000,
      'some deliveries before the crash',
    );

    const tree = [first.pid, ...childPids(first.pid)];
    first.child.kill('SIGKILL');
    await first.exited;
    await waitFor(
      async () => (tree.every((pid) => !alive(pid)) ? true : undefined),
      15_000,
      'the emulator process to exit with its parent',
    );
    running.splice(running.indexOf(first), 1);

    const second = await startRuntime({ env });
    running.push(second);
    const before = await stats(second.url);
    expect(before.totals.accepted).toBe(CRASH_ORDERS);
    expect(before.totals.delivered).toBeLessThan(CRASH_ORDERS);

    // In-flight messages of the dead runtime come back after their visibility timeout (13 s).
    const final = await waitFor(
      async () => {
        const s = await stats(second.url);
        return s.totals.delivered >= CRASH_ORDERS && s.totals.inFlight === 0 ? s : undefined;
      },
      120_000,
      'all 1,500 deliveries after the restart',
    );

    reportRun('whole runtime killed (-9) mid-load, restarted on the same data', final, (Date.now() - started) / 1000);
    expect(final.totals).toEqual({
      accepted: CRASH_ORDERS,
      delivered: CRASH_ORDERS,
      deadLettered: 0,
      cancelled: 0,
      purged: 0,
      inFlight: 0,
    });
    await expectDeliveredOnce(second.url, orders, { fullHistory: false });
    for (const socket of listeningSockets(second.pid))
      expect(socket).toMatch(/^(127\.0\.0\.1|::ffff:127\.0\.0\.1):\d+$/);
  }, 240_000);
});

function childPids(pid: number): number[] {
  const { readdirSync, readFileSync } = process.getBuiltinModule('node:fs');
  const pids: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)) {
      pids.push(Number(child), ...childPids(Number(child)));
    }
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
