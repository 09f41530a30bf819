/**
 * The dead-letter workbench end to end: the CLI's commands against the local runtime (`npm start` in
 * its own process), the redrive that is killed as a child process, as a user runs it: orders that always fail and poison
 * input share a DLQ; peek tells them apart by kind; a dry run moves nothing; a filtered redrive —
 * killed with SIGKILL halfway, then run again — leaves exactly the matching dead letters in the stage
 * queue, each once, and the others in the DLQ; exported dead letters go back in with `send --file`;
 * the runtime's log has an audit line for each redrive and export; pause says what the queue keeps.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duration } from '../../lib/cli/format.ts';
import { OperatorAction } from '../../lib/operations/operator-audit.ts';
import { allStages, loadTopology, queueSettings } from '../../lib/topology/index.ts';
import {
  getJson,
  startRuntime,
  tempDir,
  waitFor,
  withTimeout,
  type RuntimeProcess,
} from '../support/runtime-process.ts';
import { CLI, lines, NODE, ROOT, runInProcess, type CliRun } from './support.ts';

// Picking fails every order at once (one receive, no backoff) — each ends in its DLQ as `exhausted`.
const TOPOLOGY = JSON.stringify({ stages: { picking: { maxReceiveCount: 1 } } });
const ORDERS = 12;
const POISON = 4;
const data = tempDir('conveyor-cli-workbench-');
let runtime: RuntimeProcess;

beforeAll(async () => {
  runtime = await startRuntime({
    env: { CONVEYOR_DATA_DIR: data.path, CONVEYOR_TOPOLOGY: TOPOLOGY, CONVEYOR_CHAOS: 'picking:1' },
  });
});
afterAll(async () => {
  await runtime?.stop();
  data.remove();
});

/** `conveyor …args` in this process (the same code; the one redrive that is killed runs as a child process). */
async function conveyor(args: string[], expectCode = 0): Promise<CliRun> {
  const run = await runInProcess([...args, '--url', runtime.url], {
    env: { USER: 'ana' },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
  expect(run.code, `conveyor ${args.join(' ')}\n${run.stdout}${run.stderr}`).toBe(expectCode);
  return run;
}

async function picking(): Promise<{ ready: number; dlq: number }> {
  return (await getJson(`${runtime.url}/api/stats`)).body.pipelines['wh-1'].picking;
}

/** What the wh-1 picking queue holds right now, read from the emulator without receiving anything. */
async function pickingQueueOrders(): Promise<string[]> {
  const { body: topology } = await getJson(`${runtime.url}/api/topology`);
  const name = String(topology.pipelines[0].stages[0].queueUrl).split('/').at(-1);
  const { body } = await getJson(`${topology.endpoints.sqs}/_fauxqs/queues/${name}`);
  const all = [
    ...body.messages.ready,
    ...body.messages.delayed,
    ...body.messages.inflight.map((m: { message: unknown }) => m.message),
  ];
  return all.map((m: { body: string }) => (JSON.parse(m.body) as { order: { orderId: string } }).order.orderId);
}

/** Audit lines the runtime printed (JSON log lines). */
function auditLines(message: string): Array<Record<string, unknown>> {
  return runtime
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes(message))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.message === message);
}

describe('the dead-letter workbench on the local runtime', () => {
  let orderIds: string[];
  const exported = `${data.path}/dead.jsonl`;

  it('dead letters of two kinds; peek filters by kind; pause says how long the queue keeps messages', async () => {
    const sent = await conveyor(['send', '--count', String(ORDERS), '--warehouse', 'wh-1']);
    expect(sent.stdout).toMatch(new RegExp(`^ {2}accepted\\s+${ORDERS}$`, 'm'));
    // Poison: what no stage can read, put straight on the queue.
    const { body: topology } = await getJson(`${runtime.url}/api/topology`);
    const stage = topology.pipelines[0].stages[0];
    const sqs = new SQSClient({
      endpoint: topology.endpoints.sqs,
      region: String(stage.queueArn).split(':')[3],
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: stage.queueUrl,
        Entries: Array.from({ length: POISON }, (_, i) => ({ Id: String(i), MessageBody: `not json ${i}` })),
      }),
    );
    sqs.destroy();
    await waitFor(
      async () => ((await picking()).dlq === ORDERS + POISON ? true : undefined),
      30_000,
      'every order and the poison in the picking DLQ',
    );

    const paused = await conveyor(['pause', '--stage', 'picking', '--warehouse', 'wh-1']);
    const retention = queueSettings(
      loadTopology(JSON.parse(TOPOLOGY), 'test'),
      allStages(loadTopology(JSON.parse(TOPOLOGY), 'test'))[0]!,
    ).messageRetentionSeconds;
    expect(lines(paused.stdout)[1]).toMatch(
      new RegExp(
        `^ {2}its queue keeps messages ${duration(retention)} \\((it is empty|the oldest is \\w+ old)\\): resume before SQS deletes them$`,
      ),
    );

    const poison = JSON.parse(
      (
        await conveyor([
          'dlq',
          'peek',
          '--stage',
          'picking',
          '--warehouse',
          'wh-1',
          '--kind',
          'poison',
          '--limit',
          '100',
          '--json',
        ])
      ).stdout,
    );
    expect(poison[0].messages).toHaveLength(POISON);
    expect(poison[0].scanned).toBe(ORDERS + POISON);
    const exhausted = JSON.parse(
      (
        await conveyor([
          'dlq',
          'peek',
          '--stage',
          'picking',
          '--warehouse',
          'wh-1',
          '--grep',
          'CONVEYOR_CHAOS',
          '--limit',
          '100',
          '--json',
        ])
      ).stdout,
    );
    orderIds = exhausted[0].messages.map((m: { orderId: string }) => m.orderId).sort();
    expect(orderIds).toHaveLength(ORDERS);
    expect((await picking()).dlq).toBe(ORDERS + POISON);
  });

  it('dlq export writes them as lines to send again, and logs who did it', async () => {
    const run = await conveyor([
      'dlq',
      'export',
      '--stage',
      'picking',
      '--warehouse',
      'wh-1',
      '--grep',
      'CONVEYOR_CHAOS',
      '--out',
      exported,
    ]);
    expect(lines(run.stdout)[0]).toBe(
      `wrote ${ORDERS} dead letters to ${exported} (filter: reason contains "CONVEYOR_CHAOS"; wh-1/picking ${ORDERS}); nothing was consumed`,
    );
    const written = readFileSync(exported, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(written.map((l) => l.deadLetter.orderId).sort()).toEqual(orderIds);
    expect(written.every((l) => l.order.orderId === `${l.deadLetter.orderId}.r1` && l.order.items.length > 0)).toBe(
      true,
    );
    await waitFor(
      async () => (auditLines(OperatorAction.exported).length > 0 ? true : undefined),
      5_000,
      'the export audit line',
    );
    expect(auditLines(OperatorAction.exported)).toEqual([
      expect.objectContaining({
        who: expect.stringMatching(/^ana@/),
        pipeline: 'wh-1',
        stage: 'picking',
        exported: ORDERS,
        filter: 'reason contains "CONVEYOR_CHAOS"',
      }),
    ]);
  });

  it('redrive --grep --dry-run lists the matching ones and moves nothing', async () => {
    const run = await conveyor([
      'dlq',
      'redrive',
      '--stage',
      'picking',
      '--warehouse',
      'wh-1',
      '--grep',
      'CONVEYOR_CHAOS',
      '--dry-run',
    ]);
    expect(lines(run.stdout)[0]).toMatch(
      new RegExp(
        `^wh-1/picking: dry run — ${ORDERS} dead letters would move back to the picking queue \\(filter: reason contains "CONVEYOR_CHAOS"; ${ORDERS + POISON} dead letters read\\); nothing moved$`,
      ),
    );
    expect(
      lines(run.stdout)
        .filter((l) => /^load-/.test(l))
        .map((l) => l.split(/\s+/)[0])
        .sort(),
    ).toEqual(orderIds);
    expect(await picking()).toMatchObject({ dlq: ORDERS + POISON, ready: 0 });
    expect(await pickingQueueOrders()).toEqual([]);
  });

  it('a filtered redrive killed with SIGKILL halfway, then run again: exactly the matching ones in the queue, each once; the poison stays', async () => {
    const child = spawn(
      NODE,
      [
        CLI,
        'dlq',
        'redrive',
        '--stage',
        'picking',
        '--warehouse',
        'wh-1',
        '--grep',
        'CONVEYOR_CHAOS',
        '--rate',
        '2',
        '--url',
        runtime.url,
      ],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', USER: 'ana' }, stdio: 'ignore' },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await waitFor(
      async () => ((await picking()).dlq <= ORDERS + POISON - 2 ? true : undefined),
      20_000,
      'the redrive to be under way',
    );
    child.kill('SIGKILL');
    await withTimeout(exited, 5_000, 'the CLI to die');

    // The runtime stops with the CLI (after the batch in hand): the move does not go on without it.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const stopped = await picking();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await picking()).toMatchObject({ dlq: stopped.dlq });
    const movedBefore = ORDERS + POISON - stopped.dlq;
    expect(movedBefore).toBeGreaterThanOrEqual(2);
    expect(movedBefore).toBeLessThan(ORDERS);

    const again = await conveyor([
      'dlq',
      'redrive',
      '--stage',
      'picking',
      '--warehouse',
      'wh-1',
      '--grep',
      'CONVEYOR_CHAOS',
    ]);
    expect(lines(again.stdout)[0]).toBe(
      `wh-1/picking: moved ${ORDERS - movedBefore} dead letters back to the picking queue (filter: reason contains "CONVEYOR_CHAOS") — ${POISON} others stay in the DLQ`,
    );

    expect((await pickingQueueOrders()).sort()).toEqual(orderIds);
    expect(await picking()).toMatchObject({ dlq: POISON, ready: ORDERS });
    const left = JSON.parse(
      (await conveyor(['dlq', 'peek', '--stage', 'picking', '--warehouse', 'wh-1', '--limit', '100', '--json'])).stdout,
    );
    expect(left[0].messages.map((m: { kind: string }) => m.kind)).toEqual(Array(POISON).fill('poison'));

    const audited = auditLines(OperatorAction.redriven);
    expect(audited.map((a) => a.moved).reduce((x, y) => Number(x) + Number(y), 0)).toBe(ORDERS);
    expect(audited.at(-1)).toMatchObject({
      who: expect.stringMatching(/^ana@/),
      pipeline: 'wh-1',
      stage: 'picking',
      filter: 'reason contains "CONVEYOR_CHAOS"',
      moved: ORDERS - movedBefore,
      matched: ORDERS - movedBefore,
    });
    expect(auditLines(OperatorAction.redriveDryRun)).toHaveLength(1);
  });

  it('the exported orders go back in with send --file; a line without an order is named by line and field', async () => {
    const run = await conveyor(['send', '--file', exported]);
    expect(run.stdout).toMatch(new RegExp(`^ {2}accepted\\s+${ORDERS}$`, 'm'));
    const resubmitted = await getJson(`${runtime.url}/orders/${orderIds[0]}.r1`);
    expect(resubmitted).toMatchObject({ status: 200, body: { status: 'accepted' } });

    const poisonFile = `${data.path}/poison.jsonl`;
    await conveyor([
      'dlq',
      'export',
      '--stage',
      'picking',
      '--warehouse',
      'wh-1',
      '--kind',
      'poison',
      '--out',
      poisonFile,
    ]);
    writeFileSync(poisonFile, `${readFileSync(exported, 'utf8').split('\n')[0]}\n${readFileSync(poisonFile, 'utf8')}`);
    const refused = await conveyor(['send', '--file', poisonFile], 2);
    expect(lines(refused.stderr).slice(0, POISON)).toEqual(
      Array.from(
        { length: POISON },
        (_, i) =>
          `${poisonFile}:${i + 2}: order: this dead letter held no readable order (see deadLetter.body); write the order here by hand, or drop the line`,
      ),
    );
  });

  it('orders cancel: one line per order, exit 1 when one was not cancelled', async () => {
    const run = await conveyor(['orders', 'cancel', orderIds[0] as string, 'no-such-order'], 1);
    expect(lines(run.stdout).find((l) => l.startsWith(orderIds[0] as string))).toMatch(/\scancelled(\s|$)/);
    expect(lines(run.stdout).find((l) => l.startsWith('no-such-order'))).toMatch(/\snot found \(404\)$/);
    expect((await getJson(`${runtime.url}/orders/${orderIds[0]}`)).body.status).toBe('cancelled');
  });
}, 180_000);
