/** `npm start` refuses bad configuration with one clear line (no stack trace) and exit code 1. */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startFailing, tempDir } from '../support/runtime-process.ts';

const dir = tempDir();
afterAll(() => dir.remove());

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function expectOneCleanLine(output: string, pattern: RegExp): void {
  const lines = output.trim().split('\n');
  expect(lines, output).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(output).not.toMatch(/\n\s+at /);
}

describe('npm start refuses', () => {
  it('a port that is taken, naming the port and the fix', async () => {
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const { code, output } = await startFailing({ CONVEYOR_PORT: String(port) }, ['--in-memory']);
      expect(code).toBe(1);
      expectOneCleanLine(output, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use; set CONVEYOR_PORT`));
    } finally {
      blocker.close();
    }
  });

  it('a data directory inside a file, naming the file', async () => {
    const file = join(dir.path, 'a-file');
    writeFileSync(file, 'not a directory');
    const { code, output } = await startFailing({
      CONVEYOR_PORT: String(await freePort()),
      CONVEYOR_DATA_DIR: join(file, 'data'),
    });
    expect(code).toBe(1);
    expectOneCleanLine(
      output,
      new RegExp(
        `cannot use data dir ${escapeRegExp(join(file, 'data'))}: ${escapeRegExp(file)} is a file, not a directory; set CONVEYOR_DATA_DIR`,
      ),
    );
  });

  it('a data directory that is a file, saying so (not EEXIST)', async () => {
    const file = join(dir.path, 'data-file');
    writeFileSync(file, 'not a directory');
    const { code, output } = await startFailing({ CONVEYOR_PORT: String(await freePort()), CONVEYOR_DATA_DIR: file });
    expect(code).toBe(1);
    expectOneCleanLine(
      output,
      new RegExp(
        `cannot use data dir ${escapeRegExp(file)}: ${escapeRegExp(file)} is a file, not a directory; set CONVEYOR_DATA_DIR`,
      ),
    );
  });

  it.each([
    [{ CONVEYOR_PORT: 'eighty' }, [], /CONVEYOR_PORT must be a port number from 0 to 65535, got "eighty"/],
    [
      { CONVEYOR_CHAOS: 'picking:lots' },
      [],
      /CONVEYOR_CHAOS: "picking:lots": probability must be a number from 0 to 1/,
    ],
    [{ CONVEYOR_CHAOS: 'boxing:0.1' }, [], /unknown stage "boxing"/],
    [
      { CONVEYOR_TOPOLOGY: '{"stages":{"packing":{"batchSize":50,"maxBatchingWindowSeconds":0}}}' },
      [],
      /stages\.packing\.batchSize 50 needs maxBatchingWindowSeconds ≥ 1/,
    ],
    [{ CONVEYOR_TOPOLOGY: '{nope' }, [], /CONVEYOR_TOPOLOGY.*is not valid JSON/s],
    [{ CONVEYOR_LOG_LEVEL: 'loud' }, [], /CONVEYOR_LOG_LEVEL must be one of debug, info, warn, error, silent/],
    [{}, ['--in-memory', '--reset'], /choose one/],
  ])('%j %j', async (env, args, pattern) => {
    const { code, output } = await startFailing({ CONVEYOR_PORT: String(await freePort()), ...env }, args);
    expect(code).toBe(1);
    expect(output).toMatch(pattern);
    expect(output).not.toMatch(/\n\s+at /);
  });

  it('an unknown flag, with the usage (exit 2)', async () => {
    const { code, output } = await startFailing({}, ['--turbo']);
    expect(code).toBe(2);
    expect(output).toMatch(/Unknown option '--turbo'/);
    expect(output).toMatch(/Usage: npm start/);
  });
});
