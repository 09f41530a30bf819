/**
 * The README's commands as a user with the machine's own Node (20 here) types them (issue 12,
 * item 5): the benchmarks are npm scripts that run on the project's pinned Node, and `npx
 * conveyor` prints no EBADENGINE block. Each command runs with the machine's npm — PATH without
 * node_modules/.bin, as in a fresh shell — and a fresh npm cache, so npx installs its link to the
 * project as on a first run.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { codeBlocks, readmeSection } from '../support/readme.ts';
import { tempDir, withTimeout } from '../support/runtime-process.ts';
import { ROOT } from './support.ts';

const cache = tempDir('conveyor-npm-cache-');
afterAll(() => cache.remove());

/** PATH as a shell outside the project has it. */
const machinePath = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((dir) => !dir.split(/[\\/]/).includes('node_modules'))
  .join(delimiter);
const machineNode = machinePath
  .split(delimiter)
  .map((dir) => join(dir, 'node'))
  .find((file) => existsSync(file));

async function run(
  command: string,
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, {
    cwd: ROOT,
    // Offline: the first npx run links the project and needs no registry.
    env: {
      PATH: machinePath,
      HOME: process.env.HOME ?? cache.path,
      npm_config_cache: cache.path,
      npm_config_offline: 'true',
      npm_config_update_notifier: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await withTimeout(
    new Promise<number | null>((resolve) => child.once('close', resolve)),
    60_000,
    `${command} ${args.join(' ')} did not finish`,
  ).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  return { code, stdout, stderr };
}

const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
  .scripts;
const benchBlock = codeBlocks(readmeSection('Performance, cost and reliability'), 'sh').join('\n');

describe("the README's commands on the machine's Node", () => {
  it('runs with a machine Node and npm (the situation these tests are about)', () => {
    expect(machineNode, `no node on PATH outside node_modules: ${machinePath}`).toBeDefined();
  });

  it('lists every benchmark as an npm script, never as `node bench/…` (which needs the pinned Node)', () => {
    expect(benchBlock).not.toMatch(/^node /m);
    const named = [...benchBlock.matchAll(/^npm run ([\w:-]+)/gm)].map((m) => m[1] as string);
    expect(named).toEqual(expect.arrayContaining(['bench', 'bench:knobs', 'bench:soak', 'bench:celery']));
    for (const name of named) expect(scripts[name], name).toMatch(/^node bench\/\w+\.ts$/);
  });

  it.each(['bench:knobs', 'bench:soak', 'bench:celery'])(
    'npm run %s starts on the pinned Node (a bad flag: its own usage error, exit 2)',
    async (script) => {
      const result = await run('npm', ['run', '--silent', script, '--', '--no-such-flag']);
      expect(result.stderr).not.toMatch(/ERR_UNKNOWN_FILE_EXTENSION/);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(/^bench: /m);
    },
  );

  it('npm start -- --help prints the usage and no EBADENGINE block', async () => {
    const result = await run('npm', ['start', '--', '--help']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Usage: npm start/);
    expect(result.stderr).not.toMatch(/EBADENGINE/);
  });

  it('npx conveyor prints what was asked, and no EBADENGINE block — on its first run too', async () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    for (const attempt of ['first', 'second']) {
      const result = await run('npx', ['conveyor', '--version']);
      expect(result.code, `${attempt}: ${result.stderr}`).toBe(0);
      expect(result.stdout.trim()).toBe(version);
      expect(result.stderr, attempt).not.toMatch(/EBADENGINE/);
    }
  });
});
