/**
 * Graceful shutdown, from outside: Ctrl-C (SIGINT) while clients post orders, then a restart on
 * the same data. Every order whose POST got a 202 is delivered soon after the restart — none
 * waits out a visibility timeout it never used — and no order is accepted whose client did not
 * get its 202. Checked order by order through the API.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mapConcurrent } from '../../lib/aws/concurrency.ts';
import { expectDeliveredOnce, type SentOrder } from '../support/orders-check.ts';
import { getJson, startRuntime, tempDir, withTimeout, type RuntimeProcess } from '../support/runtime-process.ts';

const running: RuntimeProcess[] = [];
const dirs: Array<{ remove(): void }> = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop().catch(() => r.child.kill('SIGKILL'))));
  for (const dir of dirs.splice(0)) dir.remove();
});

/**
 * Posts bulk requests of `size` orders, as `conveyor send` does, until told to stop or refused;
 * records what was tried and which orders the client saw accepted (a 202 naming them `accepted`).
 */
/** The order a posting client sends as its request's `i`-th. */
function sigintOrder(name: string, request: number, i: number) {
  return {
    orderId: `sigint-${name}-${request}-${i}`,
    warehouseId: i % 2 === 0 ? 'wh-1' : 'wh-2',
    items: [{ sku: `SKU-${i % 17}`, quantity: 1 + (i % 3) }],
  };
}

function postingClient(
  url: string,
  name: string,
  size: number,
  until: { stopped: boolean },
  attempted: string[],
  acknowledged: Set<string>,
  sent: Map<string, SentOrder>,
): Promise<void> {
  return (async () => {
    for (let request = 0; !until.stopped; request++) {
      const orders = Array.from({ length: size }, (_, i) => sigintOrder(name, request, i));
      for (const order of orders) sent.set(order.orderId, order);
      attempted.push(...orders.map((o) => o.orderId));
      try {
        const response = await fetch(`${url}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ orders }),
        });
        const body = (await response.json().catch(() => ({}))) as {
          results?: Array<{ orderId?: string; status?: string; duplicate?: boolean }>;
        };
        for (const result of body.results ?? [])
          if (response.status === 202 && result.orderId && result.status === 'accepted' && result.duplicate !== true)
            acknowledged.add(result.orderId);
        if (response.status !== 202) return; // refused (503): the runtime is going away
      } catch {
        return; // refused or reset: the runtime is going away. Not acknowledged; it must not be accepted either.
      }
    }
  })();
}

/** Waits until every order reads `delivered`, asking again only about those that did not yet. */
async function deliveredWithin(url: string, orderIds: readonly string[], timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let waiting = [...orderIds];
  while (waiting.length > 0 && Date.now() < deadline) {
    const still: string[] = [];
    await mapConcurrent(waiting, 16, async (orderId) => {
      const { status, body } = await getJson(`${url}/orders/${encodeURIComponent(orderId)}`).catch(() => ({
        status: 0,
        body: {},
      }));
      if (status !== 200 || body.status !== 'delivered') still.push(orderId);
    });
    waiting = still;
    if (waiting.length > 0) await new Promise((r) => setTimeout(r, 500));
  }
  return waiting;
}

describe('graceful shutdown', () => {
  it('SIGINT while orders flow, then restart: every order with a 202 is delivered within 60 s of the restart; none without one is accepted', async () => {
    const data = tempDir();
    dirs.push(data);
    // Big batches gathered over a long window: the pollers receive almost without pause while
    // orders flow, so a stop meets receives in flight (and gathered batches). The visibility
    // timeout (6 × 30 s + 5 s) is what an order held back by the stop would wait out.
    const gathering = { batchSize: 1000, maxBatchingWindowSeconds: 5 };
    const env = {
      CONVEYOR_DATA_DIR: data.path,
      CONVEYOR_TOPOLOGY: JSON.stringify({ stages: { picking: gathering, packing: gathering, delivery: gathering } }),
    };
    const first = await startRuntime({ env });
    running.push(first);

    const until = { stopped: false };
    const attempted: string[] = [];
    const acknowledged = new Set<string>();
    const sent = new Map<string, SentOrder>();
    const clients = Array.from({ length: 4 }, (_, c) =>
      postingClient(first.url, `c${c}`, 50, until, attempted, acknowledged, sent),
    );
    await new Promise((r) => setTimeout(r, 4_000)); // orders in every stage, batches gathering

    first.child.kill('SIGINT');
    const signalled = Date.now();
    const exit = await withTimeout(first.exited, 90_000, 'the runtime did not stop after SIGINT');
    until.stopped = true;
    await Promise.all(clients);
    expect(first.output()).not.toMatch(/"level":"(ERROR|WARN)"/);
    running.splice(running.indexOf(first), 1);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(acknowledged.size, 'orders accepted before the signal').toBeGreaterThan(100);

    const second = await startRuntime({ env });
    running.push(second);
    const restarted = Date.now();
    // Nothing was left in flight by the stop: no message waits out a visibility timeout, so none counts as delayed.
    const { body: stats } = await getJson(`${second.url}/api/stats`);
    const delayed = Object.entries(stats.pipelines as Record<string, Record<string, { delayed: number }>>).flatMap(
      ([w, stages]) =>
        Object.entries(stages).flatMap(([stage, view]) => (view.delayed > 0 ? [`${w}/${stage}: ${view.delayed}`] : [])),
    );
    expect(delayed, 'messages left invisible by the previous run').toEqual([]);
    const late = await deliveredWithin(second.url, [...acknowledged], 60_000 - (Date.now() - restarted));
    console.info(
      `[shutdown] ${acknowledged.size} orders acknowledged of ${attempted.length} tried; stopped ${((restarted - signalled) / 1000).toFixed(1)} s after SIGINT (restart included); ${late.length} not delivered within 60 s of the restart, the rest within ${((Date.now() - restarted) / 1000).toFixed(1)} s`,
    );
    expect(
      late.slice(0, 10),
      `${late.length} of ${acknowledged.size} acknowledged orders not delivered within 60 s of the restart`,
    ).toEqual([]);
    await expectDeliveredOnce(
      second.url,
      [...acknowledged].map((id) => sent.get(id) as SentOrder),
      { fullHistory: false },
    );

    const unacknowledged = attempted.filter((id) => !acknowledged.has(id));
    const accepted: string[] = [];
    await mapConcurrent(unacknowledged, 16, async (orderId) => {
      if ((await getJson(`${second.url}/orders/${encodeURIComponent(orderId)}`)).status !== 404) accepted.push(orderId);
    });
    expect(accepted, `orders accepted whose client got no 202 (of ${unacknowledged.length} tried without one)`).toEqual(
      [],
    );
  }, 180_000);
});
