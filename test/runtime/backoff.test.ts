import { describe, expect, it } from 'vitest';
import { SQS_MAX_VISIBILITY_SECONDS } from '../../lib/topology/model.ts';
import { VISIBILITY_LIMIT_MARGIN_SECONDS } from '../../lib/topology/limits.ts';
import { backoffSeconds } from '../../lib/runtime/backoff.ts';

const policy = { baseSeconds: 2, capSeconds: 300 };

describe('backoffSeconds', () => {
  it('stays within [1, min(cap, base · 2^(n−1))] for every receive count', () => {
    for (let n = 1; n <= 30; n++) {
      const ceiling = Math.min(300, 2 * 2 ** (n - 1));
      for (const r of [0, 1e-9, 0.25, 0.5, 0.999999]) {
        const s = backoffSeconds(n, policy, () => r);
        expect(s).toBeGreaterThanOrEqual(1);
        expect(s).toBeLessThanOrEqual(ceiling);
        expect(Number.isInteger(s)).toBe(true);
      }
    }
  });

  it('is never 0, even when the jitter draws 0', () => {
    expect(backoffSeconds(1, { baseSeconds: 1, capSeconds: 1 }, () => 0)).toBe(1);
    expect(backoffSeconds(5, policy, () => 0)).toBe(1);
  });

  it('grows exponentially until the cap', () => {
    const top = (n: number) => backoffSeconds(n, policy, () => 0.9999999);
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(top)).toEqual([2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    expect(top(10_000)).toBe(300);
  });

  it('never exceeds the 12-hour SQS visibility limit, less the margin kept for the time a record was held', () => {
    expect(backoffSeconds(60, { baseSeconds: 40_000, capSeconds: 43_200 }, () => 0.9999999)).toBe(
      SQS_MAX_VISIBILITY_SECONDS - VISIBILITY_LIMIT_MARGIN_SECONDS,
    );
  });

  it('treats a missing or nonsense receive count as the first receive', () => {
    expect(backoffSeconds(0, policy, () => 0.9999999)).toBe(2);
    expect(backoffSeconds(-3, policy, () => 0.9999999)).toBe(2);
  });

  it('spreads retries over the whole window (full jitter), not in lockstep', () => {
    const samples = Array.from({ length: 20_000 }, () => backoffSeconds(8, policy));
    // Window is [1, 256]: uniform draws cover it and average near the middle.
    const distinct = new Set(samples).size;
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    const lowQuarter = samples.filter((s) => s <= 64).length / samples.length;
    expect(distinct).toBeGreaterThan(240);
    expect(Math.min(...samples)).toBe(1);
    expect(Math.max(...samples)).toBe(256);
    expect(mean).toBeGreaterThan(120);
    expect(mean).toBeLessThan(137);
    expect(lowQuarter).toBeGreaterThan(0.22);
    expect(lowQuarter).toBeLessThan(0.28);
  });
});
