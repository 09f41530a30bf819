/**
 * Setup of the `unit` test project (vitest.config.mts): a unit test runs in milliseconds on in-memory
 * fakes, so here every way of starting something heavy fails at once with what to do instead — an
 * emulator, a child process (the runtime, the CLI, npx), a worker thread (a local function), a CDK
 * synthesis. A test that needs one belongs to the `integration` project: add its file to
 * INTEGRATION_TESTS in vitest.config.mts.
 */
import { vi } from 'vitest';

function refuse(what: string): never {
  throw new Error(
    `unit tier: this test ${what}. Unit tests use the in-memory fakes (test/support/memory-*.ts); ` +
      'if it needs the real thing, add its file to INTEGRATION_TESTS in vitest.config.mts.',
  );
}

vi.mock('node:child_process', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:child_process')>();
  const refused = () => refuse('starts a child process');
  return {
    ...original,
    default: original,
    spawn: refused,
    fork: refused,
    exec: refused,
    execFile: refused,
    spawnSync: refused,
    execFileSync: refused,
    execSync: refused,
  };
});

vi.mock('node:worker_threads', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:worker_threads')>();
  return {
    ...original,
    Worker: class {
      constructor() {
        refuse('starts a worker thread (a local function)');
      }
    },
  };
});

vi.mock('../../lib/local/emulators.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../lib/local/emulators.ts')>();
  return {
    ...original,
    startSqsEmulator: () => refuse('starts the SQS emulator'),
    startDynamoEmulator: () => refuse('starts the DynamoDB emulator'),
  };
});

vi.mock('aws-cdk-lib/assertions', async (importOriginal) => {
  const original = await importOriginal<typeof import('aws-cdk-lib/assertions')>();
  return {
    ...original,
    Template: {
      ...original.Template,
      fromStack: () => refuse('synthesizes a CDK stack'),
    },
  };
});
