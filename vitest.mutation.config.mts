import { defineConfig } from 'vitest/config';
import { common, unitTier } from './vitest.config.mts';

/** The unit tier alone, for StrykerJS (stryker.config.mjs): every mutant is tested by unit tests only. */
export default defineConfig({ test: { ...common, ...unitTier } });
