/**
 * Admission in memory: the intake's claims on the ledger (an in-memory table), a controllable clock
 * and queues that record what they are sent. Who wins an order id, what a request that lost the
 * claim answers (duplicate, conflict, wait, take over), and what happens when a send, a
 * confirmation or a release fails. The same paths run against the emulators in claims.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { admit, type AdmissionContext, type Admitted, type Candidate } from '../../lib/api/admission.ts';
import type { PickingInput } from '../../lib/domain/messages.ts';
import type { Order } from '../../lib/domain/order.ts';
import { ORDER_STATUS_LABELS } from '../../lib/domain/status.ts';
import { OrderLedger } from '../../lib/ledger/ledger.ts';
import { HEAD } from '../../lib/ledger/records.ts';
import type { Item } from '../../lib/ledger/table.ts';
import type { OutgoingMessage, Queues } from '../../lib/runtime/ports.ts';
import { MemoryTable } from '../support/memory-table.ts';

const START = 1_750_000_000_000;
const QUEUE_URLS = new Map([
  ['wh-1', 'http://sqs.test/wh-1-picking'],
  ['wh-2', 'http://sqs.test/wh-2-picking'],
]);
const STAGES = new Map([
  ['wh-1', 'picking'],
  ['wh-2', 'picking'],
]);

const order = (orderId: string, warehouseId = 'wh-1'): Order => ({
  orderId,
  warehouseId,
  items: [{ sku: 'SKU-1', quantity: 1 }],
  priority: 'standard',
});
const candidate = (index: number, o: Order, fingerprint = `fp-${o.orderId}`): Candidate => ({
  index,
  order: o,
  fingerprint,
});

/** Queues that record every message by queue URL and refuse the order ids in `refuse` (with their reason). */
function recordingQueues(refuse: ReadonlyMap<string, string> = new Map()) {
  const sent: { queueUrl: string; message: OutgoingMessage }[] = [];
  const queues: Queues = {
    async send(queueUrl, messages) {
      const ok = messages.filter((m) => !refuse.has(m.key));
      for (const message of ok) sent.push({ queueUrl, message });
      return {
        sent: new Map(ok.map((m) => [m.key, `msg-${m.key}`])),
        unsent: new Map(messages.filter((m) => refuse.has(m.key)).map((m) => [m.key, refuse.get(m.key) as string])),
      };
    },
    changeVisibility: async () => 0,
  };
  const sentIds = (queueUrl?: string) =>
    sent
      .filter((s) => queueUrl === undefined || s.queueUrl === queueUrl)
      .map((s) => (JSON.parse(s.message.body) as PickingInput).order.orderId)
      .sort();
  return { queues, sent, sentIds };
}

/** One request's admission context on a clock the test owns; waiting moves the clock, never real time. */
function request(
  requestId: string,
  ledger: OrderLedger,
  queues: Queues,
  clock: { now: number },
  timing: { leaseFor?: number; answerWithin?: number } = {},
) {
  const waits: number[] = [];
  const warnings: { message: string; fields: Record<string, unknown> }[] = [];
  const ctx: AdmissionContext = {
    ledger,
    queues,
    entryQueueUrls: QUEUE_URLS,
    entryStages: STAGES,
    requestId,
    traceId: `trace-${requestId}`,
    acceptedAt: new Date(clock.now).toISOString(),
    leaseUntil: clock.now + (timing.leaseFor ?? 30_000),
    answerBy: clock.now + (timing.answerWithin ?? 1_000),
    now: () => clock.now,
    sleep: async (ms) => {
      waits.push(ms);
      clock.now += ms;
    },
    warn: (message, fields) => warnings.push({ message, fields }),
  };
  return { ctx, waits, warnings };
}

const byIndex = (results: Admitted[]) => [...results].sort((a, b) => a.index - b.index);

function setup(refuse?: ReadonlyMap<string, string>, table = new MemoryTable()) {
  const ledger = new OrderLedger(table, ORDER_STATUS_LABELS);
  return { table, ledger, clock: { now: START }, ...recordingQueues(refuse) };
}

describe('new order ids', () => {
  it("are accepted, each queued once to its own warehouse's first stage and confirmed in the ledger", async () => {
    const { ledger, queues, sentIds, clock } = setup();
    const { ctx, warnings } = request('req-a', ledger, queues, clock);
    const orders = [order('o-1', 'wh-1'), order('o-2', 'wh-2'), order('o-3', 'wh-1')];

    const results = await admit(
      orders.map((o, i) => candidate(i, o)),
      ctx,
    );

    expect(byIndex(results)).toEqual(orders.map((o, index) => ({ kind: 'accepted', index, order: o })));
    expect(sentIds(QUEUE_URLS.get('wh-1'))).toEqual(['o-1', 'o-3']);
    expect(sentIds(QUEUE_URLS.get('wh-2'))).toEqual(['o-2']);
    for (const o of orders) expect(await ledger.inspect(o.orderId)).toMatchObject({ requestId: 'req-a', queued: true });
    expect(warnings).toEqual([]);
  });
});

describe('an order id claimed before', () => {
  it('with the same contents, already queued, is a duplicate with its status: nothing is queued again', async () => {
    const { ledger, queues, sent, clock } = setup();
    const first = candidate(0, order('o-1'));
    await admit([first], request('req-a', ledger, queues, clock).ctx);

    const results = await admit([first, candidate(1, order('o-2'))], request('req-b', ledger, queues, clock).ctx);

    expect(byIndex(results)).toEqual([
      { kind: 'duplicate', index: 0, order: first.order, status: ORDER_STATUS_LABELS.accepted },
      { kind: 'accepted', index: 1, order: order('o-2') },
    ]);
    expect(sent.map((s) => s.message.key)).toEqual(['o-1', 'o-2']);
  });

  it('with other contents is a conflict, whatever state the first claim is in', async () => {
    const { ledger, queues, sent, clock } = setup();
    await admit([candidate(0, order('o-1'), 'fp-first')], request('req-a', ledger, queues, clock).ctx);
    await ledger.claim({
      orderId: 'o-2',
      warehouseId: 'wh-1',
      fingerprint: 'fp-first',
      traceId: 't',
      requestId: 'req-a',
      at: new Date(START).toISOString(),
      leaseUntil: START + 60_000,
      entryStage: 'picking',
    });

    const { ctx, waits } = request('req-b', ledger, queues, clock);
    const results = await admit([candidate(0, order('o-1'), 'fp-other'), candidate(1, order('o-2'), 'fp-other')], ctx);

    expect(byIndex(results)).toEqual([
      { kind: 'conflict', index: 0, order: order('o-1') },
      { kind: 'conflict', index: 1, order: order('o-2') },
    ]);
    expect(waits).toEqual([]);
    expect(sent).toHaveLength(1);
  });

  it('without a fingerprint (put straight on a queue, never claimed) counts as the same contents', async () => {
    const { ledger, queues, sent, clock } = setup();
    // A stage delivered it: its head was written by the stage, with no claim and no fingerprint.
    await ledger.complete([
      { id: 'o-1', partition: 'wh-1', stage: 'delivery', at: new Date(START).toISOString(), result: {} },
    ]);

    const results = await admit([candidate(0, order('o-1'))], request('req-b', ledger, queues, clock).ctx);

    expect(results).toEqual([
      { kind: 'duplicate', index: 0, order: order('o-1'), status: ORDER_STATUS_LABELS.completed },
    ]);
    expect(sent).toEqual([]);
  });
});

describe('an order id another request is still queueing', () => {
  /** Request A claims `o-1` and dies (or is slow) before queueing it; its lease lasts `leaseFor`. */
  async function claimedByA(leaseFor: number) {
    const s = setup();
    await s.ledger.claim({
      orderId: 'o-1',
      warehouseId: 'wh-1',
      fingerprint: 'fp-o-1',
      traceId: 'trace-req-a',
      requestId: 'req-a',
      at: new Date(START).toISOString(),
      leaseUntil: START + leaseFor,
      entryStage: 'picking',
    });
    return s;
  }

  it('is waited for, looking again at a steady pace, and answered as unavailable just before the answer deadline', async () => {
    const { ledger, queues, sent, clock } = await claimedByA(3_600_000);
    const { ctx, waits } = request('req-b', ledger, queues, clock, { answerWithin: 1_000 });

    const results = await admit([candidate(0, order('o-1'))], ctx);

    expect(results).toEqual([
      {
        kind: 'unavailable',
        index: 0,
        order: order('o-1'),
        reason: 'another request is accepting this order right now; try again shortly',
      },
    ]);
    // It looked more than once, each wait as long as the others, and stopped when one more wait
    // would reach the deadline — not earlier, not later.
    const step = waits[0] as number;
    expect(waits.length).toBeGreaterThan(1);
    expect(new Set(waits)).toEqual(new Set([step]));
    expect(clock.now).toBeLessThan(ctx.answerBy);
    expect(clock.now + step).toBeGreaterThanOrEqual(ctx.answerBy);
    expect(sent).toEqual([]);
    expect(await ledger.inspect('o-1')).toMatchObject({ requestId: 'req-a', queued: false });
  });

  it('is answered as unavailable at once when the answer deadline is too close to look even once', async () => {
    const { ledger, queues, clock } = await claimedByA(3_600_000);
    const { ctx, waits } = request('req-b', ledger, queues, clock, { answerWithin: 0 });

    const results = await admit([candidate(0, order('o-1'))], ctx);

    expect(results).toMatchObject([{ kind: 'unavailable', index: 0 }]);
    expect(waits).toEqual([]);
  });

  it('is answered as a duplicate once that request has queued it meanwhile', async () => {
    const { ledger, queues, sent, clock } = await claimedByA(3_600_000);
    const { ctx, waits } = request('req-b', ledger, queues, clock);
    const wait = ctx.sleep as (ms: number) => Promise<void>;
    // Request A queues the order and confirms it while B waits its first step.
    const b: AdmissionContext = {
      ...ctx,
      sleep: async (ms) => {
        await wait(ms);
        if (waits.length > 1) return;
        await queues.send(QUEUE_URLS.get('wh-1') as string, [
          { key: 'o-1', body: JSON.stringify({ order: order('o-1') }), attributes: {} },
        ]);
        await ledger.confirmQueued([{ id: 'o-1', partition: 'wh-1', entryStage: 'picking', at: ctx.acceptedAt }]);
      },
    };

    const results = await admit([candidate(0, order('o-1'))], b);

    expect(results).toEqual([
      { kind: 'duplicate', index: 0, order: order('o-1'), status: ORDER_STATUS_LABELS.accepted },
    ]);
    expect(waits).toHaveLength(1);
    expect(sent).toHaveLength(1);
  });

  it('is taken over once its lease has run out, then queued once, under the new request', async () => {
    const { ledger, queues, sent, clock } = await claimedByA(200);
    const { ctx, waits } = request('req-b', ledger, queues, clock, { answerWithin: 1_000 });

    const results = await admit([candidate(0, order('o-1'))], ctx);

    expect(results).toEqual([{ kind: 'accepted', index: 0, order: order('o-1') }]);
    expect(waits.length).toBeGreaterThan(0);
    expect(clock.now).toBeGreaterThanOrEqual(START + 200);
    expect(sent.map((s) => s.message.key)).toEqual(['o-1']);
    expect(await ledger.inspect('o-1')).toMatchObject({
      requestId: 'req-b',
      leaseUntil: ctx.leaseUntil,
      queued: true,
    });
  });

  it('is taken over without waiting when its lease ends right now', async () => {
    const { ledger, queues, clock } = await claimedByA(0);
    const { ctx, waits } = request('req-b', ledger, queues, clock);

    const results = await admit([candidate(0, order('o-1'))], ctx);

    expect(results).toEqual([{ kind: 'accepted', index: 0, order: order('o-1') }]);
    expect(waits).toEqual([]);
  });

  it('is never taken over when the claim names no lease: the request waits and answers unavailable', async () => {
    const { table, ledger, queues, sent, clock } = await claimedByA(0);
    await table.update({ orderId: 'o-1', sk: HEAD }, { remove: ['leaseUntil'] });
    const { ctx } = request('req-b', ledger, queues, clock, { answerWithin: 500 });

    const results = await admit([candidate(0, order('o-1'))], ctx);

    expect(results).toMatchObject([{ kind: 'unavailable', index: 0 }]);
    expect(sent).toEqual([]);
    expect(await ledger.inspect('o-1')).toMatchObject({ requestId: 'req-a' });
  });

  it('is claimed anew when that request released it (could not queue it) before this one looked', async () => {
    const s = await claimedByA(3_600_000);
    /** Request A releases its claim between B's lost claim and B's look at it. */
    class ReleasedBeforeTheLook extends OrderLedger {
      #released = false;
      override async inspect(orderId: string) {
        if (!this.#released) {
          this.#released = true;
          await this.release(orderId, 'req-a');
        }
        return super.inspect(orderId);
      }
    }
    const ledger = new ReleasedBeforeTheLook(s.table, ORDER_STATUS_LABELS);
    const { ctx } = request('req-b', ledger, s.queues, s.clock);

    const results = await admit([candidate(0, order('o-1'))], ctx);

    expect(results).toEqual([{ kind: 'accepted', index: 0, order: order('o-1') }]);
    expect(s.sent.map((m) => m.message.key)).toEqual(['o-1']);
    expect(await ledger.inspect('o-1')).toMatchObject({ requestId: 'req-b', queued: true });
  });
});

describe('when queueing fails', () => {
  it('answers the orders the queue refused as unavailable with its reason, and releases their claims', async () => {
    const { ledger, queues, sentIds, clock } = setup(new Map([['o-2', 'ServiceUnavailable']]));
    const { ctx, warnings } = request('req-a', ledger, queues, clock);

    const results = await admit([candidate(0, order('o-1')), candidate(1, order('o-2'))], ctx);

    expect(byIndex(results)).toEqual([
      { kind: 'accepted', index: 0, order: order('o-1') },
      { kind: 'unavailable', index: 1, order: order('o-2'), reason: 'ServiceUnavailable' },
    ]);
    expect(sentIds()).toEqual(['o-1']);
    expect(await ledger.inspect('o-1')).toMatchObject({ queued: true });
    expect(await ledger.inspect('o-2')).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('still answers when a claim cannot be released, and warns which one', async () => {
    const s = setup(new Map([['o-2', 'ServiceUnavailable']]));
    class UnreleasableLedger extends OrderLedger {
      override async release(): Promise<void> {
        throw new Error('ProvisionedThroughputExceededException');
      }
    }
    const ledger = new UnreleasableLedger(s.table, ORDER_STATUS_LABELS);
    const { ctx, warnings } = request('req-a', ledger, s.queues, s.clock);

    const results = await admit([candidate(0, order('o-2'))], ctx);

    expect(results).toMatchObject([{ kind: 'unavailable', index: 0, reason: 'ServiceUnavailable' }]);
    expect(warnings).toEqual([
      {
        message: 'could not release a claim',
        fields: { orderId: 'o-2', error: 'ProvisionedThroughputExceededException' },
      },
    ]);
  });
});

describe('when confirming what was queued fails', () => {
  it('still answers accepted (the order is on its queue) and warns that it could not confirm', async () => {
    const s = setup();
    class UnconfirmingLedger extends OrderLedger {
      override async confirmQueued(): Promise<string[]> {
        throw new Error('ThrottlingException');
      }
    }
    const ledger = new UnconfirmingLedger(s.table, ORDER_STATUS_LABELS);
    const { ctx, warnings } = request('req-a', ledger, s.queues, s.clock);

    const results = await admit([candidate(0, order('o-1'))], ctx);

    expect(results).toEqual([{ kind: 'accepted', index: 0, order: order('o-1') }]);
    expect(warnings).toEqual([
      { message: 'could not confirm queued orders', fields: { error: 'ThrottlingException' } },
    ]);
  });

  it('warns how many orders the ledger left unconfirmed', async () => {
    /** A table whose batch writes come back unprocessed. */
    class UnprocessedBatches extends MemoryTable {
      override async putAll(items: readonly Item[]): Promise<Item[]> {
        return [...items];
      }
    }
    const { ledger, queues, clock } = setup(undefined, new UnprocessedBatches());
    const { ctx, warnings } = request('req-a', ledger, queues, clock);

    const results = await admit([candidate(0, order('o-1')), candidate(1, order('o-2'))], ctx);

    expect(results.map((r) => r.kind)).toEqual(['accepted', 'accepted']);
    expect(warnings).toEqual([{ message: 'could not confirm some queued orders', fields: { orders: 2 } }]);
  });
});
