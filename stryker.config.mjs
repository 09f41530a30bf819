// @ts-check
/**
 * Mutation testing of the unit-tested core: `npm run test:mutation` (not part of npm test; ~15 min on
 * 2 cores, 97.73 % on 2026-12-01). The report is written to reports/mutation/ (HTML) and summarised on the
 * console; the surviving mutants judged equivalent are listed in docs/RELIABILITY.md.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.mts', related: true },
  // The core the issue names: the stage plan, the ledger, intake validation, the topology's rules.
  mutate: [
    'lib/runtime/batch.ts',
    'lib/ledger/ledger.ts',
    'lib/ledger/records.ts',
    'lib/ledger/table.ts',
    'lib/api/admission.ts',
    'lib/domain/order.ts',
    'lib/topology/load.ts',
    'lib/topology/limits.ts',
  ],
  coverageAnalysis: 'perTest',
  concurrency: 2,
  timeoutMS: 30_000,
  reporters: ['clear-text', 'progress', 'html'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  thresholds: { high: 90, low: 80, break: 80 },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
