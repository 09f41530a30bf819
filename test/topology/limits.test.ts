/**
 * The time limits a topology must respect (issue 10, items 4 and 5), each at its boundary: retries
 * well inside the queue's retention, dead letters kept longer than the queue's messages (and a week
 * at least), backoff caps SQS can honour. Expectations come from the limits' own formulas applied to
 * the numbers, and from SQS's 12-hour limit — not from the loader's output.
 */
import { describe, expect, it } from 'vitest';
import { loadTopology, TopologyError } from '../../lib/topology/index.ts';
import {
  backoffCeilingSeconds,
  largestBackoffCapSeconds,
  MIN_DEAD_LETTER_DAYS,
  nearsRetention,
  RETENTION_WARNING_SHARE,
  RETRY_BUDGET_SHARE_OF_RETENTION,
  retryBudgetSeconds,
  VISIBILITY_LIMIT_MARGIN_SECONDS,
} from '../../lib/topology/limits.ts';
import { SQS_MAX_VISIBILITY_SECONDS } from '../../lib/topology/model.ts';
import { backoffSeconds, longestBackoffSeconds } from '../../lib/runtime/backoff.ts';

const issuesOf = (input: unknown): readonly string[] => {
  try {
    loadTopology(input, 'test');
    return [];
  } catch (error) {
    if (error instanceof TopologyError) return error.issues;
    throw error;
  }
};

describe('the retry budget', () => {
  it('adds, per failed receive, the longer of its backoff ceiling and the visibility timeout, and one visibility timeout after the last', () => {
    const stage = { maxReceiveCount: 4, backoff: { baseSeconds: 100, capSeconds: 250 }, visibilityTimeoutSeconds: 150 };
    // receives 1..3 fail: ceilings 100, 200, 250 → max with 150: 150, 200, 250; then 150.
    expect(retryBudgetSeconds(stage)).toBe(150 + 200 + 250 + 150);
    expect([1, 2, 3, 4].map((n) => backoffCeilingSeconds(stage.backoff, n))).toEqual([100, 200, 250, 250]);
  });

  it('must fit in half the queue retention: refused one receive past it, accepted at it', () => {
    const queueDays = 1;
    const allowed = queueDays * 86_400 * RETRY_BUDGET_SHARE_OF_RETENTION;
    const stage = { timeoutSeconds: 30, maxBatchingWindowSeconds: 1, backoff: { baseSeconds: 600, capSeconds: 600 } };
    const visibilityTimeoutSeconds = 6 * stage.timeoutSeconds + stage.maxBatchingWindowSeconds;
    // The most receives whose budget fits.
    let fits = 1;
    while (retryBudgetSeconds({ ...stage, maxReceiveCount: fits + 1, visibilityTimeoutSeconds }) <= allowed) fits++;
    const at = (maxReceiveCount: number) => ({
      retention: { queueDays, deadLetterDays: 7 },
      stages: { picking: { ...stage, maxReceiveCount } },
    });
    expect(issuesOf(at(fits))).toEqual([]);
    const refused = issuesOf(at(fits + 1));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatch(
      /^stages\.picking: its retries can take .* more than 50 % of retention\.queueDays 1 .*lower maxReceiveCount or backoff\.capSeconds, or raise retention\.queueDays$/,
    );
  });

  it('holds for the defaults', () => {
    expect(issuesOf({})).toEqual([]);
  });
});

describe('dead-letter retention', () => {
  it(`must be longer than the queue's, and at least ${MIN_DEAD_LETTER_DAYS} days`, () => {
    expect(issuesOf({ retention: { queueDays: 9, deadLetterDays: 9 } })[0]).toMatch(
      /^retention\.deadLetterDays 9 must be longer than retention\.queueDays 9/,
    );
    expect(issuesOf({ retention: { queueDays: 1, deadLetterDays: MIN_DEAD_LETTER_DAYS - 1 } })).toEqual([
      `retention.deadLetterDays: must be from ${MIN_DEAD_LETTER_DAYS} to 14, got ${MIN_DEAD_LETTER_DAYS - 1}`,
    ]);
    expect(issuesOf({ retention: { queueDays: 1, deadLetterDays: MIN_DEAD_LETTER_DAYS } })).toEqual([]);
    expect(
      issuesOf({ retention: { queueDays: MIN_DEAD_LETTER_DAYS, deadLetterDays: MIN_DEAD_LETTER_DAYS + 1 } }),
    ).toEqual([]);
    // SQS keeps messages 14 days at most: the queue's retention stops a day short of it.
    expect(issuesOf({ retention: { queueDays: 14 } })).toEqual(['retention.queueDays: must be from 1 to 13, got 14']);
  });
});

describe('backoff within SQS’s 12-hour limit (issue 10, item 6)', () => {
  const stage = { timeoutSeconds: 30, maxBatchingWindowSeconds: 5 };
  const largest =
    SQS_MAX_VISIBILITY_SECONDS -
    VISIBILITY_LIMIT_MARGIN_SECONDS -
    stage.timeoutSeconds -
    stage.maxBatchingWindowSeconds;

  it('refuses a cap SQS could not honour, naming the largest one it can', () => {
    expect(largestBackoffCapSeconds(stage)).toBe(largest);
    // A retention long enough that only the cap rule speaks.
    const topology = (capSeconds: number) => ({
      retention: { queueDays: 13, deadLetterDays: 14 },
      stages: { packing: { ...stage, maxReceiveCount: 2, backoff: { baseSeconds: 1, capSeconds } } },
    });
    expect(issuesOf(topology(largest))).toEqual([]);
    const refused = issuesOf(topology(largest + 1));
    expect(
      refused.some(
        (i) =>
          i.startsWith(`stages.packing.backoff.capSeconds ${largest + 1} cannot be honoured`) &&
          i.endsWith(`use at most ${largest}`),
      ),
    ).toBe(true);
    expect(issuesOf(topology(SQS_MAX_VISIBILITY_SECONDS)).length).toBeGreaterThan(0);
  });

  it('clamps a backoff so the time since the receive stays under 12 hours', () => {
    const policy = { baseSeconds: 40_000, capSeconds: 43_000 };
    const always = () => 1; // the ceiling itself
    expect(backoffSeconds(1, policy, always, 0)).toBe(
      Math.min(40_000, SQS_MAX_VISIBILITY_SECONDS - VISIBILITY_LIMIT_MARGIN_SECONDS),
    );
    expect(backoffSeconds(2, policy, always, 600)).toBe(
      SQS_MAX_VISIBILITY_SECONDS - VISIBILITY_LIMIT_MARGIN_SECONDS - 600,
    );
    expect(backoffSeconds(2, policy, always, 600) + 600).toBeLessThan(SQS_MAX_VISIBILITY_SECONDS);
    expect(longestBackoffSeconds(SQS_MAX_VISIBILITY_SECONDS)).toBe(1);
  });
});

describe('nearing retention', () => {
  const retention = 4 * 86_400;
  const warnAt = retention * RETENTION_WARNING_SHARE;

  it('warns from the warning share of the retention on, not a second before', () => {
    expect(nearsRetention(warnAt - 1, retention)).toBe(false);
    expect(nearsRetention(warnAt, retention)).toBe(true);
    expect(nearsRetention(retention, retention)).toBe(true);
  });

  it('never warns of a fresh message, and scales with the retention', () => {
    expect(nearsRetention(0, retention)).toBe(false);
    expect(nearsRetention(warnAt, retention * 2)).toBe(false);
  });
});
