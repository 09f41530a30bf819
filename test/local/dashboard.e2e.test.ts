/**
 * The dashboard as an operator sees it: `npm start` in its own process, /dashboard in a real
 * headless Chromium (Debian's /usr/bin/chromium through playwright-core). Orders flow and the
 * page's figures move; a poison message turns the DLQ alarm red; the search box shows an
 * order's history. Leaves a screenshot in test-results/dashboard.png.
 *
 * Without /usr/bin/chromium the test fails and says how to install it (`apt-get install chromium`;
 * .ci/run does): it is never skipped.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getJson,
  makeOrders,
  startRuntime,
  submitAll,
  waitFor,
  withTimeout,
  type RuntimeProcess,
} from '../support/runtime-process.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCREENSHOT = `${ROOT}test-results/dashboard.png`;
const WAREHOUSES = ['wh-1', 'wh-2'];
const STAGES = ['picking', 'packing', 'delivery'];
const ORDERS = 200;
/**
 * The default topology, with alarms judged on one period instead of three, so the DLQ alarm
 * fires within this test rather than after three minutes (the evaluation is unit-tested in
 * alarms.test.ts).
 */
const TOPOLOGY = JSON.stringify({
  warehouses: WAREHOUSES,
  tracking: 'full',
  stages: Object.fromEntries(STAGES.map((stage) => [stage, { alarms: { evaluationPeriods: 1 } }])),
});

const INSTALL_HINT = `Chromium is missing at ${CHROMIUM}: install it with \`apt-get update && apt-get install -y --no-install-recommends chromium\` (.ci/run does this before npm test)`;

describe('GET /dashboard in Chromium', () => {
  let runtime: RuntimeProcess;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(INSTALL_HINT);
    [runtime, browser] = await Promise.all([
      startRuntime({ args: ['--in-memory'], env: { CONVEYOR_TOPOLOGY: TOPOLOGY } }),
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 20_000 }),
    ]);
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(15_000);
    // CSP violations and script errors show up here; the 400 and 404 of the order lookups below are expected.
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 40[04]/.test(message.text())) problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
  });

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await runtime?.stop();
  });

  it('renders every stage and dead-letter queue of both warehouses on the server (chromium --dump-dom, no waiting for scripts)', async () => {
    const response = await fetch(`${runtime.url}/dashboard`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'.*script-src 'self'/);
    expect(response.headers.get('x-frame-options')).toBe('DENY');

    const dom = await dumpDom(`${runtime.url}/dashboard`);
    for (const warehouse of WAREHOUSES) {
      expect(dom).toContain(`data-pipeline="${warehouse}"`);
      for (const stage of STAGES) {
        expect(dom, `${warehouse}/${stage}`).toMatch(
          new RegExp(`<tr data-stage="${warehouse}/${stage}" data-queue="conveyor-${warehouse}-${stage}">`),
        );
        expect(dom, `${warehouse}/${stage} DLQ`).toContain(`data-dlq="conveyor-${warehouse}-${stage}-dlq"`);
      }
    }
  });

  it('answers only to loopback host names (no DNS rebinding), and serves only its own assets', async () => {
    const rebound = await statusWithHost(`${runtime.url}/api/alarms`, 'evil.example:80');
    expect(rebound).toBe(403);
    expect(await statusWithHost(`${runtime.url}/dashboard`, `localhost:${new URL(runtime.url).port}`)).toBe(200);
    expect((await fetch(`${runtime.url}/dashboard/assets/uPlot.iife.min.js`)).status).toBe(200);
    expect((await fetch(`${runtime.url}/dashboard/assets/..%2Fpage.ts`)).status).toBe(404);
    expect((await fetch(`${runtime.url}/dashboard/assets/package.json`)).status).toBe(404);
  });

  it('shows the queue table of both warehouses — each stage and its DLQ — and goes live', async () => {
    await page.goto(`${runtime.url}/dashboard`);
    for (const warehouse of WAREHOUSES) {
      for (const stage of STAGES) {
        const row = page.locator(`table.queues tr[data-stage="${warehouse}/${stage}"]`);
        await expect.poll(() => row.locator('th').textContent()).toContain(stage);
        expect(await row.locator(`[data-dlq="conveyor-${warehouse}-${stage}-dlq"]`).textContent()).toBe('0');
        expect(
          await page
            .locator(`table.stages tr[data-stage="${warehouse}/${stage}"] [data-bind$=".concurrency.max"]`)
            .textContent(),
        ).toBe('2');
        expect(await page.locator(`[data-alarm="${warehouse}.${stage}.dead-letters"]`).textContent()).toBe('OK');
      }
    }
    await page.locator('#live[data-live="ok"]').waitFor();
    await page.locator('#chart canvas').first().waitFor();
    expect(await page.locator('[data-overall]').textContent()).toBe('All clear');
  });

  it('moves with the pipeline: processed counts rise, then delivered reaches the orders sent', async () => {
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    await submitAll(runtime.url, makeOrders('dash', ORDERS));

    const processed = page.locator('[data-bind="stats.pipelines.wh-1.picking.succeeded"]');
    await expect.poll(async () => count(await processed.textContent()), { timeout: 20_000 }).toBeGreaterThan(0);
    await expect
      .poll(() => page.locator('[data-bind="stats.totals.accepted"]').textContent(), { timeout: 10_000 })
      .toBe(ORDERS.toLocaleString('en-US'));
    await expect
      .poll(() => page.locator('[data-bind="stats.totals.delivered"]').textContent(), {
        timeout: 40_000,
        interval: 500,
      })
      .toBe(ORDERS.toLocaleString('en-US'));
    await expect
      .poll(() => page.locator('[data-bind="stats.totals.inFlight"]').textContent(), { timeout: 10_000 })
      .toBe('0');

    for (const warehouse of WAREHOUSES) {
      expect(
        count(await page.locator(`[data-bind="stats.pipelines.${warehouse}.delivery.succeeded"]`).textContent()),
      ).toBe(ORDERS / 2);
      expect(
        count(await page.locator(`[data-bind="stats.pipelines.${warehouse}.picking.batches"]`).textContent()),
      ).toBeGreaterThan(0);
    }
    expect(await page.locator('[data-bind="stats.latencyMs.p50"]').textContent()).toMatch(/\d (ms|s)$/);
    // The same page, kept live by its script: it never reloaded.
    expect(await page.evaluate(() => (globalThis as unknown as { marker: number }).marker)).toBe(42);
  }, 60_000);

  it('turns the DLQ alarm of the stage red when a poison message is dead-lettered', async () => {
    const { body: topology } = await getJson(`${runtime.url}/api/topology`);
    const packing = topology.pipelines
      .find((p: { id: string }) => p.id === 'wh-2')
      .stages.find((s: { name: string }) => s.name === 'packing');
    const sqs = new SQSClient({
      endpoint: topology.endpoints.sqs,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    try {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: packing.queueUrl,
          MessageBody: '{"v":1,"order":',
          MessageAttributes: { orderId: { DataType: 'String', StringValue: 'dash-poison' } },
        }),
      );
    } finally {
      sqs.destroy();
    }

    const badge = page.locator('[data-alarm="wh-2.packing.dead-letters"]');
    await expect.poll(() => badge.textContent(), { timeout: 20_000 }).toBe('ALARM');
    expect(await badge.getAttribute('class')).toContain('alarm-ALARM');
    expect(await badge.getAttribute('title')).toContain(
      '1 message in the dead-letter queue (threshold: more than 0) for the last 1 min',
    );
    expect(await page.locator('[data-composite="wh-2"]').first().textContent()).toBe('ALARM');
    expect(await page.locator('[data-composite="wh-1"]').first().textContent()).toBe('OK');
    expect(await page.locator('[data-overall]').textContent()).toBe('1 alarm');
    expect(await page.title()).toMatch(/^ALARM \(1\)/);
    expect(await page.locator('[data-alarm-item="wh-2.packing.dead-letters"]').isVisible()).toBe(true);
    const dlq = page.locator('[data-dlq="conveyor-wh-2-packing-dlq"] span');
    expect(await dlq.textContent()).toBe('1');
    expect(await dlq.getAttribute('class')).toContain('hot-bad');

    // The same verdict from the API the page polls.
    const { body: alarms } = await getJson(`${runtime.url}/api/alarms`);
    expect(alarms).toMatchObject({ state: 'ALARM', alarming: ['wh-2/packing dead-letters'] });
  });

  it('looks orders up from the search box: status, stage, history, and the reason of a dead letter', async () => {
    const panel = page.locator('#order');
    await page.locator('#order-id').fill('dash-7');
    await page.locator('#order-id').press('Enter');
    await expect.poll(() => panel.locator('.order-title').textContent()).toContain('dash-7');
    expect(await panel.locator('.order-title .status').textContent()).toBe('delivered');
    expect(await panel.locator('.order-facts').textContent()).toContain('wh-2');
    expect(await panel.locator('.timeline .event .status').allTextContents()).toEqual([
      'accepted',
      'packing',
      'delivering',
      'delivered',
    ]);
    expect(await panel.locator('.timeline').textContent()).toMatch(/by delivery.*carrier/);
    expect(page.url()).toContain('?order=dash-7');

    // What a user types is text, never markup.
    const hostile = '<img src=x id=pwned>';
    await page.locator('#order-id').fill(hostile);
    await page.locator('#order-id').press('Enter');
    await expect
      .poll(() => panel.locator('.order-error').textContent())
      .toContain('invalid order id: orderId must be 1–64 letters');
    expect(await panel.locator('code').textContent()).toBe(hostile);
    expect(await page.locator('#pwned').count()).toBe(0);
    await page.locator('#order-id').fill('no-such-order');
    await page.locator('#order-id').press('Enter');
    await expect.poll(() => panel.locator('.order-error').textContent()).toContain('No such order');

    await page.locator('#order-id').fill('dash-poison');
    await page.locator('#order-id').press('Enter');
    await expect
      .poll(() => panel.locator('.order-reason').textContent(), { timeout: 10_000 })
      .toMatch(/Reason: .*not valid JSON/);
    expect(await panel.locator('.order-title .status').textContent()).toBe('dead-lettered');

    // Leave a delivered order on screen for the screenshot.
    await page.locator('#order-id').fill('dash-7');
    await page.locator('#order-id').press('Enter');
    await expect.poll(() => panel.locator('.order-title .status').textContent()).toBe('delivered');
  });

  it('leaves a screenshot, and the page ran without a script error or CSP violation', async () => {
    mkdirSync(`${ROOT}test-results`, { recursive: true });
    await page.waitForTimeout(2_500); // one more poll: the chart has the whole run
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(problems).toEqual([]);
  });
});

/** The DOM Chromium builds from /dashboard, printed by `chromium --headless --dump-dom` (bounded). */
async function dumpDom(url: string): Promise<string> {
  const child = spawn(CHROMIUM, [...CHROMIUM_ARGS, '--headless', '--dump-dom', url], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const code = await withTimeout(exited, 30_000, 'chromium --dump-dom did not finish within 30 s');
    if (code !== 0) throw new Error(`chromium --dump-dom exited with ${code}: ${err.slice(-500)}`);
    return out;
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** GET with an explicit Host header (fetch will not set one). */
function statusWithHost(url: string, host: string): Promise<number> {
  return waitFor(
    () =>
      new Promise<number>((resolve, reject) => {
        const req = request(url, { headers: { host }, timeout: 5_000 }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('timeout', () => req.destroy(new Error('timed out')));
        req.on('error', reject);
        req.end();
      }),
    10_000,
    `GET ${url} with Host: ${host}`,
  );
}

function count(text: string | null): number {
  return Number((text ?? '').replace(/,/g, ''));
}
