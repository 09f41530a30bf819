/**
 * `npm start -- --watch` (issue 12, item 4): editing a business function changes the next
 * batches' results without a restart; orders queued meanwhile continue, none lost or handled
 * twice; a change that does not build leaves the running code in place. Runs on a copy of the
 * project — the real sources are never edited.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectDeliveredOnce } from '../support/orders-check.ts';
import { copyProject, type ProjectCopy } from '../support/project-copy.ts';
import {
  getJson,
  makeOrders,
  startRuntime,
  submitAll,
  waitFor,
  type RuntimeProcess,
} from '../support/runtime-process.ts';

/** The business function edited: the pick wave id every picked order records. */
const EDITED = 'lib/domain/picking.ts';
const SIGNATURE = 'export function waveIdOf(orderIds: readonly string[]): string {';

let copy: ProjectCopy;
let runtime: RuntimeProcess;
beforeAll(async () => {
  copy = copyProject();
  runtime = await startRuntime({ cwd: copy.path, args: ['--in-memory', '--watch'] });
});
afterAll(async () => {
  await runtime?.stop();
  copy?.remove();
});

async function codeOf(functionKey: string): Promise<string> {
  const { body } = await getJson(`${runtime.url}/api/functions`);
  return body[functionKey].codeSha256;
}

async function waveIds(orderIds: readonly string[]): Promise<string[]> {
  return Promise.all(
    orderIds.map(async (id) => {
      const { body } = await getJson(`${runtime.url}/orders/${id}`);
      return body.history.find((h: { by: string }) => h.by === 'picking').detail.waveId as string;
    }),
  );
}

async function deliver(orderIds: readonly string[]): Promise<void> {
  await waitFor(
    async () =>
      (await Promise.all(orderIds.map(async (id) => (await getJson(`${runtime.url}/orders/${id}`)).body.status))).every(
        (s) => s === 'delivered',
      )
        ? true
        : undefined,
    60_000,
    `${orderIds.length} deliveries`,
  );
}

async function setPicking(action: 'pause' | 'resume'): Promise<void> {
  for (const warehouse of ['wh-1', 'wh-2']) {
    const response = await fetch(`${runtime.url}/api/stages/${warehouse}/picking/${action}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(200);
  }
}

/** Replaces the first line of `waveIdOf`'s body: every wave id becomes `waveId`. */
function editWaveId(source: string, waveId: string): string {
  expect(source, `${EDITED} must still define waveIdOf for this test`).toContain(SIGNATURE);
  return source.replace(SIGNATURE, `${SIGNATURE}\n  if (orderIds.length > 0) return ${JSON.stringify(waveId)};`);
}

describe('npm start -- --watch', () => {
  it('runs an edited business function from the next batch on: queued orders continue, each delivered once', async () => {
    const before = makeOrders('before-edit', 6);
    await submitAll(runtime.url, before);
    await deliver(before.map((o) => o.orderId));
    const marker = `HOT-${randomUUID().slice(0, 8)}`;
    expect(await waveIds(before.map((o) => o.orderId))).not.toContain(marker);

    // Orders wait in the picking queues while the code changes under them.
    await setPicking('pause');
    const queued = makeOrders('queued-during-edit', 20);
    await submitAll(runtime.url, queued);
    const old = await codeOf('wh-1/picking');
    const original = readFileSync(copy.file(EDITED), 'utf8');
    writeFileSync(copy.file(EDITED), editWaveId(original, marker));
    await waitFor(
      async () => ((await codeOf('wh-1/picking')) !== old ? true : undefined),
      30_000,
      'the picking function to get the new code',
    );
    expect(await codeOf('wh-2/picking')).toBe(await codeOf('wh-1/picking'));
    await setPicking('resume');

    await deliver(queued.map((o) => o.orderId));
    expect(new Set(await waveIds(queued.map((o) => o.orderId)))).toEqual(new Set([marker]));
    const all = [...before, ...queued];
    await expectDeliveredOnce(runtime.url, all);
    const { body: stats } = await getJson(`${runtime.url}/api/stats`);
    expect(stats.totals).toMatchObject({ accepted: all.length, delivered: all.length, deadLettered: 0 });
  }, 120_000);

  it('keeps the running code when an edit does not build, and takes the fix when it is saved', async () => {
    const running = await codeOf('wh-1/picking');
    const source = readFileSync(copy.file(EDITED), 'utf8');
    writeFileSync(copy.file(EDITED), `${source}\nexport const broken = ;\n`);
    // Orders sent while the source is broken are handled by the code that built last.
    const during = makeOrders('while-broken', 4);
    await submitAll(runtime.url, during);
    await deliver(during.map((o) => o.orderId));
    expect(await codeOf('wh-1/picking')).toBe(running);

    const fixed = `HOT-${randomUUID().slice(0, 8)}`;
    writeFileSync(copy.file(EDITED), source.replace(/return "HOT-[0-9a-f]{8}";/, `return ${JSON.stringify(fixed)};`));
    await waitFor(
      async () => ((await codeOf('wh-1/picking')) !== running ? true : undefined),
      30_000,
      'the fixed code',
    );
    const after = makeOrders('after-fix', 4);
    await submitAll(runtime.url, after);
    await deliver(after.map((o) => o.orderId));
    expect(new Set(await waveIds(after.map((o) => o.orderId)))).toEqual(new Set([fixed]));
    expect(runtime.output()).toMatch(/"level":"ERROR"[^\n]*picking\.ts/);
  }, 120_000);
});
