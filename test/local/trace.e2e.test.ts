/**
 * `conveyor trace` and `conveyor orders list` on the local runtime, as a user types them (the CLI as
 * a child process against `npm start`'s runtime): a delivered order's trace shows an entry from every
 * stage of its pipeline and each failed receive with its receive count and reason; a cancelled order
 * is listed with who cancelled it. (That the log survives a restart is test/local/order-log.test.ts's;
 * here, that the runtime keeps it in its data directory.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListedOrders } from '../../lib/ledger/listing.ts';
import type { OrderTrace } from '../../lib/operations/order-trace.ts';
import { CHAOS_REASON } from '../../lib/runtime/chaos.ts';
import { loadTopology } from '../../lib/topology/index.ts';
import { runChild } from '../cli/support.ts';
import {
  getJson,
  makeOrders,
  postOrders,
  startRuntime,
  submitAll,
  tempDir,
  waitFor,
  type RuntimeProcess,
} from '../support/runtime-process.ts';

const WAREHOUSE = 'wh-1';
const STAGES = loadTopology({ warehouses: [WAREHOUSE] }).pipelines[0]!.stages.map((s) => s.name);
/** A middle stage fails half its records (retried after a second), so some delivered orders have failures to show. */
const FAILING = STAGES[1]!;
const dir = tempDir();
const env = {
  CONVEYOR_DATA_DIR: dir.path,
  CONVEYOR_LOG_LEVEL: 'info',
  CONVEYOR_TOPOLOGY: JSON.stringify({
    warehouses: [WAREHOUSE],
    stages: { [FAILING]: { backoff: { baseSeconds: 1, capSeconds: 1 } } },
  }),
  CONVEYOR_CHAOS: `${FAILING}:0.5`,
};
let runtime: RuntimeProcess;
beforeAll(async () => {
  runtime = await startRuntime({ env });
}, 60_000);
afterAll(async () => {
  await runtime?.stop();
  dir.remove();
});

const cli = (args: string[]) => runChild([...args, '--url', runtime.url]);
const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

describe('tracing and listing orders on the local runtime', () => {
  let traced = '';

  it('conveyor trace of a delivered order: an entry from every stage, and every failed receive with its count and reason', async () => {
    // Twelve orders: the chance that none of them fails on the way is 1 in 4,096.
    const orders = makeOrders('traced', 12, [WAREHOUSE]);
    await submitAll(runtime.url, orders);
    const records = await waitFor(
      async () => {
        const all = await Promise.all(
          orders.map(async (o) => (await getJson(`${runtime.url}/orders/${o.orderId}`)).body),
        );
        return all.every((r) => r.status === 'delivered' || r.status === 'dead-lettered') ? all : undefined;
      },
      90_000,
      'every order delivered or dead-lettered',
      500,
    );
    const delivered = records.filter((r) => r.status === 'delivered').map((r) => r.orderId as string);
    const traces = await Promise.all(
      delivered.map(async (id) => (await getJson(`${runtime.url}/api/orders/${id}/trace`)).body as OrderTrace),
    );
    traced = traces.find((t) => t.entries.some((e) => e.type === 'log' && e.receiveCount !== undefined))?.orderId ?? '';
    expect(traced, 'a delivered order that failed on the way (each failed with probability ½ per receive)').not.toBe(
      '',
    );

    const run = await cli(['trace', traced, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const trace = JSON.parse(run.stdout) as OrderTrace;
    expect(trace.record).toMatchObject({ orderId: traced, status: 'delivered', warehouseId: WAREHOUSE });
    for (const stage of STAGES)
      expect(
        trace.entries.some((e) => (e.type === 'history' ? e.by : e.source) === stage),
        `an entry from ${stage}`,
      ).toBe(true);
    const failures = trace.entries.filter((e) => e.type === 'log' && e.receiveCount !== undefined);
    expect(failures.length).toBeGreaterThan(0);
    for (const failure of failures)
      expect(failure).toMatchObject({
        type: 'log',
        source: FAILING,
        receiveCount: expect.any(Number),
        reason: expect.stringContaining(CHAOS_REASON),
      });
    expect(trace.entries.map((e) => e.at)).toEqual(trace.entries.map((e) => e.at).sort());
    expect(trace.logs.source).toContain('data directory');

    const text = await cli(['trace', traced]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`order ${traced} · ${WAREHOUSE} · delivered`);
    expect(text.stdout).toMatch(
      new RegExp(`${FAILING}\\s+\\S.*receive 1 · retry in \\d+ s · reason: ${CHAOS_REASON.replace(/[()]/g, '\\$&')}`),
    );
  }, 150_000);

  it('conveyor orders list --status cancelled: the order cancelled while its stage was paused, with who cancelled it', async () => {
    const first = `/api/stages/${WAREHOUSE}/${STAGES[0]}`;
    expect((await fetch(`${runtime.url}${first}/pause`, json({}))).status).toBe(200);
    expect((await postOrders(runtime.url, makeOrders('cancelled', 1, [WAREHOUSE]))).status).toBe(202);
    expect((await fetch(`${runtime.url}/orders/cancelled-0`, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(`${runtime.url}${first}/resume`, json({}))).status).toBe(200);

    const run = await cli(['orders', 'list', '--status', 'cancelled', '--since', '1h', '--json']);
    expect(run.code).toBe(0);
    const listed = JSON.parse(run.stdout) as ListedOrders;
    expect(listed.orders).toEqual([
      expect.objectContaining({
        orderId: 'cancelled-0',
        warehouseId: WAREHOUSE,
        status: 'cancelled',
        stage: STAGES[0],
        by: expect.any(String),
      }),
    ]);
    const none = await cli(['orders', 'list', '--status', 'purged']);
    expect(none.stdout).toContain('no purged orders');
  }, 60_000);
});
