/**
 * The README's "Your own stage", followed as written: its two code blocks become the domain module
 * and the handler in a copy of the project, its JSON joins the stage to wh-2's chain, and the runtime
 * started from the copy delivers wh-2's orders through the new stage.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { copyProject } from '../support/project-copy.ts';
import { codeBlocks, readmeSection } from '../support/readme.ts';
import { getJson, postOrders, startRuntime, waitFor, type RuntimeProcess } from '../support/runtime-process.ts';

const copy = copyProject();
let runtime: RuntimeProcess | undefined;
afterAll(async () => {
  await runtime?.stop();
  copy.remove();
});

it('adds a stage with one domain module, one handler file and the configuration', async () => {
  const section = readmeSection('Your own stage');
  const [domain, handler] = codeBlocks(section, 'ts');
  const [configuration] = codeBlocks(section, 'json');
  expect(
    domain && handler && configuration,
    'the section shows the module, the handler and the configuration',
  ).toBeTruthy();
  for (const [file, code] of [
    ['lib/domain/gift-wrapping.ts', domain],
    ['handlers/gift-wrapping.ts', handler],
  ] as const) {
    mkdirSync(dirname(copy.file(file)), { recursive: true });
    writeFileSync(copy.file(file), code as string);
  }

  runtime = await startRuntime({
    cwd: copy.path,
    args: ['--in-memory'],
    env: { CONVEYOR_TOPOLOGY: configuration as string },
    readyTimeoutMs: 60_000,
  });
  const accepted = await postOrders(runtime.url, [
    { orderId: 'gift-1', warehouseId: 'wh-2', items: [{ sku: 'SKU-1', quantity: 1 }] },
    { orderId: 'gift-2', warehouseId: 'wh-2', items: [{ sku: 'SKU-2', quantity: 1 }], metadata: { gift: 'no-paper' } },
  ]);
  expect(accepted.status).toBe(202);

  const wrapped = await waitFor(
    async () => {
      const { body } = await getJson(`${runtime!.url}/orders/gift-1`);
      return body.status === 'delivered' ? body : undefined;
    },
    60_000,
    'gift-1 delivered',
  );
  expect(wrapped.history.map((h: { by: string }) => h.by)).toEqual([
    'intake',
    'picking',
    'packing',
    'gift-wrapping',
    'delivery',
  ]);
  const refused = await waitFor(
    async () => {
      const { body } = await getJson(`${runtime!.url}/orders/gift-2`);
      return body.status === 'dead-lettered' ? body : undefined;
    },
    60_000,
    'gift-2 dead-lettered',
  );
  expect(refused).toMatchObject({ stage: 'gift-wrapping', reason: 'no wrapping paper for this order' });
  expect(Object.keys((await getJson(`${runtime.url}/api/stats`)).body.pipelines['wh-2'])).toContain('gift-wrapping');
});
