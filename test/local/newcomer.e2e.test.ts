/**
 * A newcomer's first hour, scripted from README.md itself (issue 12, item 6): the commands of its
 * first section, then its configuration example written into cdk.json and a restart — the order
 * is still there with its history, new orders are delivered — and its "dead-letter path in 20
 * seconds" recipe. The commands are read from the README, so this breaks when the README drifts.
 * Everything runs on a copy of the project (a fresh clone, minus `npm ci`: node_modules is linked),
 * with the machine's npm as a user's shell has it; only the port differs (a free one, through
 * CONVEYOR_PORT, which the runtime and the CLI both read).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { delimiter } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTopology } from '../../lib/topology/index.ts';
import { copyProject, type ProjectCopy } from '../support/project-copy.ts';
import { codeBlocks, readmeConfigurationExample, readmeSection, shellCommands } from '../support/readme.ts';
import { freePort, getJson, tempDir, waitFor, withTimeout } from '../support/runtime-process.ts';

const README_PORT = 3000;
let copy: ProjectCopy;
const npmCache = tempDir('conveyor-newcomer-npm-');
let port: number;

beforeAll(async () => {
  copy = copyProject();
  port = await freePort();
});
afterAll(() => {
  copy?.remove();
  npmCache.remove();
});

/** A shell as a user has it: the machine's PATH (no node_modules/.bin), the copy as the working directory. */
function environment(extra: Record<string, string> = {}): Record<string, string> {
  const path = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => !dir.split(/[\\/]/).includes('node_modules'))
    .join(delimiter);
  return {
    PATH: path,
    HOME: process.env.HOME ?? npmCache.path,
    npm_config_cache: npmCache.path,
    npm_config_offline: 'true',
    npm_config_update_notifier: 'false',
    CONVEYOR_PORT: String(port),
    CONVEYOR_LOG_FORMAT: 'json',
    ...extra,
  };
}

/** A README command with the README's port replaced by this test's. */
function onOurPort(command: string): string {
  return command
    .replaceAll(`localhost:${README_PORT}`, `localhost:${port}`)
    .replaceAll(`127.0.0.1:${README_PORT}`, `127.0.0.1:${port}`);
}

async function sh(command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('sh', ['-c', onOurPort(command)], {
    cwd: copy.path,
    env: environment(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await withTimeout(
    new Promise<number | null>((resolve) => child.once('close', resolve)),
    60_000,
    `"${command}" did not finish`,
  ).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  return { code, stdout, stderr };
}

interface Started {
  readonly child: ChildProcess;
  output(): string;
  /** Ctrl-C, as a terminal sends it: SIGINT to the whole process group; resolves when the shell is gone. */
  interrupt(): Promise<unknown>;
}

/** Runs a long-lived README command (`npm start …`) in its own process group; resolves once the API answers. */
async function startInBackground(command: string): Promise<Started> {
  const child = spawn('sh', ['-c', onOurPort(command)], {
    cwd: copy.path,
    env: environment(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let printed = '';
  child.stdout?.on('data', (c: Buffer) => (printed += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (printed += c.toString()));
  const exited = new Promise<unknown>((resolve) => child.once('exit', resolve));
  const started: Started = {
    child,
    output: () => printed,
    async interrupt() {
      process.kill(-(child.pid as number), 'SIGINT');
      await withTimeout(exited, 30_000, `"${command}" did not stop on Ctrl-C:\n${printed}`);
      // The shell goes at once; the runtime finishes its shutdown (port, data dir lock) after it.
      await waitFor(
        async () => (groupAlive(child.pid as number) ? undefined : true),
        30_000,
        `every process of "${command}" to exit`,
        100,
      );
    },
  };
  try {
    await waitFor(
      async () => ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok ? true : undefined),
      60_000,
      `"${command}" to be ready`,
      200,
    );
  } catch (error) {
    process.kill(-(child.pid as number), 'SIGKILL');
    throw new Error(`${(error as Error).message}\n${printed}`);
  }
  return started;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function order(orderId: string): Promise<{ status: number; body: any }> {
  return getJson(`http://127.0.0.1:${port}/orders/${orderId}`);
}

describe('a newcomer following the README', () => {
  it('starts it, posts an order, changes the configuration as shown, restarts: the order is still there, new ones are delivered', async () => {
    const [install, run] = codeBlocks(readmeSection('The two commands'), 'sh');
    const start = shellCommands(install ?? '').find((c) => c.startsWith('npm start'));
    expect(start, 'the first section says how to start it').toBeDefined();
    const tryIt = shellCommands(run ?? '');
    const post = tryIt.find((c) => c.includes('-X POST') && c.includes('/orders'));
    const get = tryIt.find((c) => /curl -s \S+\/orders\/\S+$/.test(c));
    expect(post && get, 'the first section posts an order and reads it back').toBeTruthy();
    const orderId = /"orderId":"([^"]+)"/.exec(post as string)?.[1] as string;

    let runtime = await startInBackground(start as string);
    let before: unknown;
    try {
      for (const command of tryIt) {
        const result = await sh(command);
        expect(result.code, `${command}\n${result.stderr}`).toBe(0);
        expect(result.stderr, command).not.toMatch(/EBADENGINE|Error/);
      }
      await waitFor(
        async () => ((await order(orderId)).body.status === 'delivered' ? true : undefined),
        60_000,
        `${orderId} to be delivered`,
      );
      // What the README's GET prints: the order with its history.
      before = JSON.parse((await sh(get as string)).stdout);
      expect(before).toMatchObject({
        orderId,
        status: 'delivered',
        history: expect.arrayContaining([expect.objectContaining({ status: 'delivered' })]),
      });
    } finally {
      await runtime.interrupt();
    }

    // The configuration example, written where the README says it goes.
    const cdkJson = JSON.parse(readFileSync(copy.file('cdk.json'), 'utf8')) as { context: Record<string, unknown> };
    cdkJson.context.conveyor = readmeConfigurationExample();
    writeFileSync(copy.file('cdk.json'), `${JSON.stringify(cdkJson, null, 2)}\n`);

    runtime = await startInBackground(start as string);
    try {
      expect((await order(orderId)).body, 'the order and its history survive the change').toEqual(before);
      const { body: topology } = await getJson(`http://127.0.0.1:${port}/api/topology`);
      const want = loadTopology(readmeConfigurationExample());
      expect(
        topology.pipelines.map((p: { stages: Array<{ batchSize: number }> }) => p.stages.map((s) => s.batchSize)),
      ).toEqual(want.pipelines.map((p) => p.stages.map((s) => s.batchSize)));
      const next = `${orderId}-after-change`;
      const result = await sh((post as string).replace(`"orderId":"${orderId}"`, `"orderId":"${next}"`));
      expect(result.code, result.stderr).toBe(0);
      await waitFor(
        async () => ((await order(next)).body.status === 'delivered' ? true : undefined),
        60_000,
        `${next} to be delivered`,
      );
    } finally {
      await runtime.interrupt();
    }
  }, 240_000);

  it('shows the dead-letter path with the recipe: retries, then every order sent in the DLQ, dead-lettered with its reason', async () => {
    const section = readmeSection('Running it locally (`npm start`)');
    const recipe = codeBlocks(section, 'sh')
      .map(shellCommands)
      .find((commands) => commands.some((c) => c.includes('CONVEYOR_CHAOS')));
    expect(recipe, 'the local runtime section has the dead-letter recipe').toBeDefined();
    const [start, send, ...look] = recipe as string[];
    const count = Number(/--count (\d+)/.exec(send as string)?.[1]);
    const warehouse = /--warehouse (\S+)/.exec(send as string)?.[1] as string;
    const chaosStage = /CONVEYOR_CHAOS=(\w+):1/.exec(start as string)?.[1] as string;

    const typed = Date.now();
    const runtime = await startInBackground(start as string);
    try {
      const ready = Date.now();
      expect((await sh(send as string)).code).toBe(0);
      const sent = Date.now();
      const stats = await waitFor(
        async () => {
          const { body } = await getJson(`http://127.0.0.1:${port}/api/stats`);
          return body.pipelines[warehouse][chaosStage].dlq === count ? body : undefined;
        },
        60_000,
        `${count} dead letters in ${warehouse}/${chaosStage}`,
      );
      const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
      console.info(
        `[newcomer] the dead-letter recipe: ready ${s(ready - typed)} after npm start, send took ${s(sent - ready)}, ${count} dead letters ${s(Date.now() - sent)} after it (${s(Date.now() - typed)} in all)`,
      );
      expect(stats.pipelines[warehouse][chaosStage].retried).toBeGreaterThan(0);
      for (const command of look) {
        const result = await sh(command);
        expect(result.code, `${command}\n${result.stderr}`).toBe(0);
      }
      const peek = await sh(`npx conveyor dlq peek --stage ${chaosStage} --warehouse ${warehouse} --json`);
      const [entry] = JSON.parse(peek.stdout) as Array<{
        messages: Array<{ orderId: string; kind: string; reason: string }>;
      }>;
      expect(entry?.messages).toHaveLength(count);
      for (const letter of entry!.messages) {
        expect(letter.kind).toBe('exhausted');
        expect((await order(letter.orderId)).body).toMatchObject({ status: 'dead-lettered', reason: letter.reason });
      }
    } finally {
      await runtime.interrupt();
    }
  }, 180_000);

  it('the sample `status` output shows the default concurrency', () => {
    const sample =
      codeBlocks(readmeSection('Operating it'), 'console').find((b) => b.includes('npx conveyor status')) ?? '';
    // CONCURRENCY is `in use/max`, wherever the column stands (BREAKER follows it).
    const maxima = [...sample.matchAll(/\s\d+\/(\d+)(?=\s|$)/gm)].map((m) => Number(m[1]));
    expect(maxima.length).toBeGreaterThan(0);
    const defaults = new Set(loadTopology({}).pipelines.flatMap((p) => p.stages.map((s) => s.maxConcurrency)));
    for (const max of maxima) expect(defaults).toContain(max);
  });
});
