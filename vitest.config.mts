import { defineConfig } from 'vitest/config';

/**
 * Two tiers. `unit` (the default for a new test file, `npm run test:unit`): in-memory fakes only,
 * the whole tier in seconds; test/support/unit-tier.ts fails a unit test that starts an emulator,
 * a process, a worker or a CDK synthesis, and says to list it here. `integration`: the files below,
 * against the embedded emulators, the real runtime and the synthesized stack. `npm test` runs both.
 */
const INTEGRATION_TESTS = [
  'test/**/*.e2e.test.ts',
  'test/infra/**/*.test.ts',
  'test/api/claims.test.ts',
  'test/api/fuzz.test.ts',
  'test/api/order-api.test.ts',
  'test/cli/errors.test.ts',
  'test/cli/help.test.ts',
  'test/cli/local-address.test.ts',
  'test/cli/npm-commands.test.ts',
  'test/contract/contract.test.ts',
  'test/contract/intake-budget.test.ts',
  'test/handlers/pipeline.test.ts',
  'test/ledger/listing.test.ts',
  'test/ledger/table.test.ts',
  'test/local/ledger-table.test.ts',
  'test/local/abandoned-poll.test.ts',
  'test/local/code-update.test.ts',
  'test/local/emulator-process.test.ts',
  'test/local/local-lambda.test.ts',
  'test/local/provision.test.ts',
  'test/local/sqs-fidelity.test.ts',
  'test/local/startup-errors.test.ts',
  'test/runtime/ledger-edges.test.ts',
  'test/runtime/stage-handler.test.ts',
];

const env = {
  // Handlers log and emit metrics to stdout; tests that check them capture them explicitly.
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
  // Never reach a real AWS endpoint: dummy credentials, no instance metadata lookups.
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
  CDK_DISABLE_VERSION_CHECK: '1',
};

/** The common settings of both tiers (and of the mutation run, vitest.mutation.config.mts). */
export const common = {
  // Emulator-backed and CDK tests are I/O- and CPU-heavy; two cores, two workers (three were no
  // faster: 12.2 min against 12.3, and a fault-suite run timed out).
  maxWorkers: 2,
  testTimeout: 60_000,
  hookTimeout: 60_000,
  env,
};

export const unitTier = {
  name: 'unit',
  include: ['test/**/*.test.ts'],
  exclude: INTEGRATION_TESTS,
  setupFiles: ['test/support/unit-tier.ts'],
};

export default defineConfig({
  test: {
    ...common,
    projects: [
      { extends: true, test: unitTier },
      {
        extends: true,
        test: { name: 'integration', include: INTEGRATION_TESTS },
      },
    ],
  },
});
