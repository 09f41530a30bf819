/**
 * Acting from the dashboard, as an operator does it: `npm start` in its own process, /dashboard in
 * a real headless Chromium (Debian's /usr/bin/chromium through playwright-core, no browser
 * download). Each action is clicked, confirmed in the page's dialog, and its effect checked through
 * the API: pause and resume a stage, cancel an order waiting in it, peek, dry-run and redrive only
 * the filtered dead letter, open and close the breaker, scale; orders listed by state; a forged
 * request without the page's token refused; every action one line in the runtime's log.
 *
 * The stage acted on is the first of the first warehouse's chain, as /api/topology gives it.
 */
import { existsSync } from 'node:fs';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSRF_HEADER, DASHBOARD_ACTION } from '../../lib/local/admin-guard.ts';
import { getJson, postOrders, startRuntime, waitFor, type RuntimeProcess } from '../support/runtime-process.ts';

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
const MISSING_CHROMIUM = `Chromium is missing at ${CHROMIUM}: this test drives the dashboard in it — install it with \`apt-get update && apt-get install -y --no-install-recommends chromium\` (.ci/run does this before npm test)`;
const POISON_A = 'act-poison-a';
const POISON_B = 'act-poison-b';
const TO_CANCEL = 'act-cancel-1';

interface StageInfo {
  readonly name: string;
  readonly key: string;
  readonly queueUrl: string;
}

describe('acting from the dashboard in Chromium', () => {
  let runtime: RuntimeProcess;
  let browser: Browser;
  let page: Page;
  let warehouse: string;
  let stage: StageInfo;
  const problems: string[] = [];

  const stats = async () => (await getJson(`${runtime.url}/api/stats`)).body.pipelines[warehouse][stage.name];
  const row = () => page.locator(`table.controls tr[data-stage="${stage.key}"]`);

  /*
   * Reading a dead-letter queue receives its messages and hides them a moment; while the runtime's
   * dead-letter auditor (every few seconds) reads the same queue, another read meets none of them
   * and reports 0 read. The stage's DLQ is never empty in this test, so a read of 0 is that clash
   * (reported to the dead-letter workbench's owners), and the read is made again — at most 5 times.
   */
  const MAX_READS = 5;

  /** The order ids of the stage's dead letters, through the admin API. */
  async function deadLetters(): Promise<string[]> {
    const body = await waitFor(
      async () => {
        const { body } = await getJson(`${runtime.url}/api/stages/${warehouse}/${stage.name}/dlq?limit=10`);
        return body.scanned > 0 ? body : undefined;
      },
      10_000,
      `a read of ${stage.key}'s dead letters`,
    );
    return (body.messages as Array<{ orderId: string }>).map((l) => l.orderId).sort();
  }

  /** Clicks a button of the dead-letter workbench (a redrive: and confirms it), and returns the summary once it read something. */
  async function readDeadLetters(button: 'peek' | 'dry-run' | 'redrive'): Promise<string> {
    const summary = page.locator('#dlq-summary');
    for (let attempt = 1; ; attempt++) {
      await summary.evaluate((element) => (element.textContent = ''));
      await page.locator(`#dlq-filter button[data-dlq="${button}"]`).click();
      if (button === 'redrive') expect(await answer('confirm')).toContain(stage.key);
      // A read confirms an empty-looking queue with a long poll (lib/operations/dead-letters.ts): more than the poll's default second.
      await expect
        .poll(() => summary.textContent(), { timeout: 15_000 })
        .toMatch(/ read, | would move| to the queue|^[a-z ]+:/);
      const text = (await summary.textContent()) ?? '';
      const scanned = /(\d+) read,|of (\d+) would move|of (\d+) to the queue/.exec(text);
      if (!scanned || Number(scanned[1] ?? scanned[2] ?? scanned[3]) > 0 || attempt === MAX_READS) return text;
    }
  }

  /** Waits for the page's dialog, answers it, and returns its question. */
  async function answer(choice: 'confirm' | 'cancel', value?: string): Promise<string> {
    await page.locator('#confirm[open]').waitFor();
    const question = (await page.locator('#confirm-title').textContent()) ?? '';
    if (value !== undefined) await page.locator('#confirm-input').fill(value);
    await page.locator(choice === 'confirm' ? '#confirm-ok' : '#confirm button[value="cancel"]').click();
    await expect.poll(() => page.locator('#confirm').getAttribute('open')).toBeNull();
    return question;
  }

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(MISSING_CHROMIUM);
    [runtime, browser] = await Promise.all([
      startRuntime({ args: ['--in-memory'] }),
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 20_000 }),
    ]);
    const topology = (await getJson(`${runtime.url}/api/topology`)).body;
    warehouse = topology.pipelines[0].id;
    stage = topology.pipelines[0].stages[0];
    // Two dead letters: malformed bodies are dead-lettered at once (poison), each with its order id.
    const sqs = new SQSClient({
      endpoint: topology.endpoints.sqs,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    try {
      for (const orderId of [POISON_A, POISON_B])
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: stage.queueUrl,
            MessageBody: `{"v":1,"order":"${orderId}`,
            MessageAttributes: { orderId: { DataType: 'String', StringValue: orderId } },
          }),
        );
    } finally {
      sqs.destroy();
    }
    await waitFor(async () => ((await deadLetters()).length === 2 ? true : undefined), 20_000, 'two dead letters');
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(15_000);
    page.on('console', (message) => {
      // The forged request below is refused on purpose; Chromium reports that 403 on the console.
      if (message.type() === 'error' && !/status of 403/.test(message.text())) problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${runtime.url}/dashboard`);
    await page.locator('#live[data-live="ok"]').waitFor();
  }, 90_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await runtime?.stop();
  });

  it('pauses a stage only once the dialog is confirmed', async () => {
    await row().locator('button[data-action="pause"]').click();
    expect(await answer('cancel')).toContain(stage.key);
    expect((await stats()).paused).toBe(false);
    await row().locator('button[data-action="pause"]').click();
    await answer('confirm');
    await waitFor(async () => ((await stats()).paused === true ? true : undefined), 10_000, 'the stage paused');
    await expect.poll(() => row().locator('[data-fmt="paused"]').textContent()).toBe('paused');
    await row().locator('button[data-action="resume"]').waitFor();
  });

  it('cancels an order waiting in the paused stage', async () => {
    expect(
      (
        await postOrders(runtime.url, [
          { orderId: TO_CANCEL, warehouseId: warehouse, items: [{ sku: 'SKU-1', quantity: 1 }] },
        ])
      ).status,
    ).toBe(202);
    await page.locator('#order-id').fill(TO_CANCEL);
    await page.locator('#order-id').press('Enter');
    await page.locator('#order .cancel-order').click();
    expect(await answer('confirm')).toContain(TO_CANCEL);
    await expect.poll(() => page.locator('#order .order-title .status').textContent()).toBe('cancelled');
    expect((await getJson(`${runtime.url}/orders/${TO_CANCEL}`)).body.status).toBe('cancelled');
    expect(await page.locator('#order .cancel-order').count()).toBe(0);
  });

  it('peeks, dry-runs, then redrives only the dead letter the filter selects', async () => {
    await row().locator('button[data-action="dead-letters"]').click();
    await page.locator('#dead-letters').waitFor();
    expect(await readDeadLetters('peek')).toMatch(/^2 dead letter\(s\) match every dead letter/);
    await page.locator('#dlq-filter input[name="orderId"]').fill(POISON_A);
    expect(await readDeadLetters('peek')).toMatch(/^1 dead letter\(s\) match order /);
    expect(await page.locator('#dlq-letters tr').allTextContents()).toEqual([expect.stringContaining(POISON_A)]);

    expect(await readDeadLetters('dry-run')).toMatch(/^Dry run: 1 of 2 would move/);
    expect(await deadLetters()).toEqual([POISON_A, POISON_B]);

    expect(await readDeadLetters('redrive')).toMatch(/^Moved 1 of 2 to the queue/);
    // The stage is paused: the redriven letter waits in its queue, the other stays a dead letter.
    expect(await deadLetters()).toEqual([POISON_B]);
  });

  it("opens and closes the stage's breaker", async () => {
    await row().locator('button[data-action="breaker-open"]').click();
    await answer('confirm');
    await waitFor(async () => ((await stats()).breaker === 'open' ? true : undefined), 10_000, 'the breaker open');
    await expect.poll(() => row().locator('[data-fmt="breaker"]').textContent()).toBe('open');
    expect(await row().locator('[data-fmt="breaker"]').getAttribute('title')).toBe((await stats()).breakerReason);
    await row().locator('button[data-action="breaker-close"]').click();
    await answer('confirm');
    await waitFor(async () => ((await stats()).breaker === 'closed' ? true : undefined), 10_000, 'the breaker closed');
  });

  it('scales the stage to the number typed in the dialog', async () => {
    const target = (await stats()).concurrency.max + 1;
    await row().locator('button[data-action="scale"]').click();
    await answer('confirm', String(target));
    await waitFor(
      async () => ((await stats()).concurrency.max === target ? true : undefined),
      10_000,
      `max concurrency ${target}`,
    );
  });

  it('refuses a forged write from the page without its token, and changes nothing', async () => {
    const forged = await page.evaluate(async (path) => {
      const response = await fetch(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      return { status: response.status, body: await response.json() };
    }, `/api/stages/${warehouse}/${stage.name}/resume`);
    expect(forged).toMatchObject({ status: 403, body: { details: [{ field: CSRF_HEADER }] } });
    expect((await stats()).paused).toBe(true);
  });

  it('resumes: the redriven letter runs again (and is a dead letter again), the cancelled order stays cancelled', async () => {
    await row().locator('button[data-action="resume"]').click();
    await answer('confirm');
    await waitFor(async () => ((await stats()).paused === false ? true : undefined), 10_000, 'the stage running');
    await waitFor(
      async () => ((await deadLetters()).length === 2 ? true : undefined),
      20_000,
      `${POISON_A} dead-lettered again`,
    );
    expect(await deadLetters()).toEqual([POISON_A, POISON_B]);
    await waitFor(
      async () => ((await stats()).ready + (await stats()).inFlight === 0 ? true : undefined),
      20_000,
      'the stage worked off',
    );
    expect((await getJson(`${runtime.url}/orders/${TO_CANCEL}`)).body.status).toBe('cancelled');
  });

  it('lists orders by state: the cancelled one, the dead-lettered ones', async () => {
    const listed = async () =>
      (
        await Promise.all((await page.locator('#orders-list tr').all()).map((r) => r.getAttribute('data-order-id')))
      ).sort();
    await page.locator('#orders-filter select[name="status"]').selectOption('cancelled');
    await expect.poll(listed).toEqual([TO_CANCEL]);
    await page.locator('#orders-filter select[name="status"]').selectOption('dead-lettered');
    await expect.poll(listed).toEqual([POISON_A, POISON_B]);
  });

  it('logged each action once — what, on what, how it ended — and ran without a script error', () => {
    const lines = runtime
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.message === DASHBOARD_ACTION);
    // A redrive made again after a read that met nothing (see MAX_READS) is the same line twice in a row.
    const seen = lines
      .map((l) => `${l.action} ${l.target} ${l.status}`)
      .filter((line, i, all) => !(line.startsWith('dlq redrive') && line === all[i - 1]));
    expect(seen).toEqual([
      `pause ${stage.key} 200`,
      `cancel order ${TO_CANCEL} 200`,
      `dlq redrive (dry run) ${stage.key} 200`,
      `dlq redrive ${stage.key} 200`,
      `breaker open ${stage.key} 200`,
      `breaker closed ${stage.key} 200`,
      expect.stringMatching(new RegExp(`^scale to \\d+ ${stage.key} 200$`)),
      `resume ${stage.key} 403`,
      `resume ${stage.key} 200`,
    ]);
    for (const line of lines)
      expect(typeof line.result === 'string' && line.result.length > 0, JSON.stringify(line)).toBe(true);
    expect(problems).toEqual([]);
  });
});
