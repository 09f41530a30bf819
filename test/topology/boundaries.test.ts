/**
 * Every topology rule at its boundary: the last value accepted and the first refused, on both
 * sides, for every setting — so a `>` written as `>=`, or a limit off by one, fails a test. The
 * limits are AWS's (Lambda, SQS, CloudWatch, API Gateway) or the shared contract's, as cited.
 */
import { describe, expect, it } from 'vitest';
import {
  API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS,
  MAX_CONCURRENCY_RANGE,
  MAX_WAREHOUSES_PER_STACK,
} from '../../lib/contract/index.ts';
import {
  findStage,
  loadTopology,
  MIN_DEAD_LETTER_DAYS,
  SQS_MAX_VISIBILITY_SECONDS,
  VISIBILITY_LIMIT_MARGIN_SECONDS,
} from '../../lib/topology/index.ts';
import { issuesOf } from '../support/topology-issues.ts';

/** `{a: {b: value}}` from `a.b`. */
function at(path: string, value: unknown): Record<string, unknown> {
  return path
    .split('.')
    .reverse()
    .reduce<unknown>((inner, key) => ({ [key]: inner }), value) as Record<string, unknown>;
}

interface Range {
  readonly path: string;
  readonly min: number;
  readonly max: number;
  /** What else the setting needs to be valid on its own (e.g. a batching window for a big batch). */
  readonly with?: Record<string, unknown>;
  /** Whole numbers only. @default true */
  readonly integer?: boolean;
  /** The smallest step above/below the bounds. @default 1 */
  readonly step?: number;
}

const DAY = 86_400;
const HELD_LEAST = { timeoutSeconds: 1, maxBatchingWindowSeconds: 0, batchSize: 10 };
const LONGEST_BACKOFF =
  SQS_MAX_VISIBILITY_SECONDS -
  VISIBILITY_LIMIT_MARGIN_SECONDS -
  HELD_LEAST.timeoutSeconds -
  HELD_LEAST.maxBatchingWindowSeconds;

// Lambda: SQS event source batch 1–10,000, window 0–300 s, max concurrency 2–1,000; memory 128–10,240 MB;
// timeout 1–900 s. SQS: maxReceiveCount 1–1,000, visibility ≤ 12 h, retention 1 min–14 days. API Gateway:
// integrations time out at 29 s; stage throttles as the topology documents. CloudWatch: periods of 60 s
// multiples up to a day; evaluation periods ≤ 100 (× period ≤ a day, checked at synth).
const RANGES: Range[] = [
  {
    path: 'stages.picking.batchSize',
    min: 1,
    max: 10_000,
    with: { stages: { picking: { maxBatchingWindowSeconds: 1 } } },
  },
  {
    path: 'stages.picking.maxBatchingWindowSeconds',
    min: 0,
    max: 300,
    with: { stages: { picking: { batchSize: 10 } } },
  },
  { path: 'stages.picking.maxConcurrency', min: MAX_CONCURRENCY_RANGE.min, max: MAX_CONCURRENCY_RANGE.max },
  { path: 'stages.picking.memoryMb', min: 128, max: 10_240 },
  // A 12-hour visibility timeout takes one receive to fit half the queue's retention (limits.test.ts).
  {
    path: 'stages.picking.timeoutSeconds',
    min: 1,
    max: 900,
    with: { stages: { picking: { visibilityTimeoutSeconds: SQS_MAX_VISIBILITY_SECONDS, maxReceiveCount: 1 } } },
  },
  // A thousand receives take a long retention (limits.test.ts: retries within half of it).
  {
    path: 'stages.picking.maxReceiveCount',
    min: 1,
    max: 1_000,
    with: { retention: { queueDays: 13, deadLetterDays: 14 } },
  },
  // SQS's 12 hours less what a record is held at the least (a 1 s timeout, no window) and the margin.
  {
    path: 'stages.picking.backoff.baseSeconds',
    min: 1,
    max: LONGEST_BACKOFF,
    with: { stages: { picking: { ...HELD_LEAST, maxReceiveCount: 2, backoff: { capSeconds: LONGEST_BACKOFF } } } },
  },
  {
    path: 'stages.picking.backoff.capSeconds',
    min: 1,
    max: LONGEST_BACKOFF,
    with: { stages: { picking: { ...HELD_LEAST, backoff: { baseSeconds: 1 } } } },
  },
  { path: 'stages.picking.alarms.maxAgeOfOldestMessageSeconds', min: 60, max: 14 * DAY },
  { path: 'stages.picking.alarms.maxThrottles', min: 0, max: 1_000_000 },
  { path: 'stages.picking.alarms.evaluationPeriods', min: 1, max: 100 },
  { path: 'stages.picking.alarms.periodSeconds', min: 60, max: DAY, step: 60 },
  { path: 'api.throttleRateLimit', min: 1, max: 10_000 },
  { path: 'api.throttleBurstLimit', min: 1, max: 5_000 },
  { path: 'intake.memoryMb', min: 128, max: 10_240 },
  { path: 'intake.timeoutSeconds', min: 1, max: API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS },
  // Dead letters outlive queued work (strictly), and SQS keeps nothing longer than 14 days.
  { path: 'retention.queueDays', min: 1, max: 13, with: { retention: { deadLetterDays: 14 } } },
  { path: 'retention.deadLetterDays', min: MIN_DEAD_LETTER_DAYS, max: 14, with: { retention: { queueDays: 1 } } },
];

/** Deep merge of plain objects (later wins). */
function merge(...parts: Array<Record<string, unknown> | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const part of parts) {
    for (const [key, value] of Object.entries(part ?? {})) {
      const existing = out[key];
      out[key] =
        existing && typeof existing === 'object' && value && typeof value === 'object'
          ? merge(existing as Record<string, unknown>, value as Record<string, unknown>)
          : value;
    }
  }
  return out;
}

describe('numeric settings: the last value accepted and the first refused, at both ends', () => {
  it.each(RANGES.map((r) => [r.path, r] as const))('%s', (path, range) => {
    const step = range.step ?? 1;
    const input = (value: number) => merge(range.with, at(path, value));
    expect(issuesOf(input(range.min)), `${path} = ${range.min}`).toEqual([]);
    expect(issuesOf(input(range.max)), `${path} = ${range.max}`).toEqual([]);
    for (const outside of [range.min - step, range.max + step]) {
      const issues = issuesOf(input(outside));
      expect(issues, `${path} = ${outside}`).toHaveLength(1);
      expect(issues[0]).toMatch(new RegExp(`^${path.replaceAll('.', '\\.')}: `));
    }
    if (range.integer ?? true) expect(issuesOf(input(range.min + 0.5)).length, `${path} = ${range.min + 0.5}`).toBe(1);
  });

  it('maxErrorRatePercent: any share above 0 up to 100', () => {
    const rate = (v: number) => at('stages.picking.alarms.maxErrorRatePercent', v);
    expect(issuesOf(rate(0.01))).toEqual([]);
    expect(issuesOf(rate(100))).toEqual([]);
    expect(issuesOf(rate(0))).toHaveLength(1);
    expect(issuesOf(rate(100.01))).toHaveLength(1);
  });

  it('visibilityTimeoutSeconds: at most SQS’s 12 hours (its lower bound is the rule across settings below)', () => {
    // Twelve hours of visibility per receive: one receive fits half the queue's retention.
    const visibility = (v: number) =>
      merge(at('stages.picking.visibilityTimeoutSeconds', v), at('stages.picking.maxReceiveCount', 1));
    expect(issuesOf(visibility(SQS_MAX_VISIBILITY_SECONDS))).toEqual([]);
    expect(issuesOf(visibility(SQS_MAX_VISIBILITY_SECONDS + 1))[0]).toMatch(
      /^stages\.picking\.visibilityTimeoutSeconds: /,
    );
  });

  it('periodSeconds: multiples of 60 only', () => {
    expect(issuesOf(at('stages.picking.alarms.periodSeconds', 120))).toEqual([]);
    expect(issuesOf(at('stages.picking.alarms.periodSeconds', 121))).toEqual([
      'stages.picking.alarms.periodSeconds: must be a multiple of 60',
    ]);
  });
});

describe('rules across settings, at their boundary, shared and per warehouse', () => {
  const where = ['stages.packing', 'pipelines.wh-2.stages.packing'] as const;

  it.each(where)('%s: a batch above 10 needs a batching window of at least 1 s', (base) => {
    expect(issuesOf(at(base, { batchSize: 10, maxBatchingWindowSeconds: 0 }))).toEqual([]);
    expect(issuesOf(at(base, { batchSize: 11, maxBatchingWindowSeconds: 1 }))).toEqual([]);
    const issues = issuesOf(at(base, { batchSize: 11, maxBatchingWindowSeconds: 0 }));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(
      new RegExp(`^${base.replaceAll('.', '\\.')}\\.batchSize 11 needs maxBatchingWindowSeconds ≥ 1`),
    );
  });

  it.each(where)('%s: the visibility timeout is at least 6 × timeout + batching window', (base) => {
    const minimum = 6 * 40 + 3;
    expect(
      issuesOf(at(base, { timeoutSeconds: 40, maxBatchingWindowSeconds: 3, visibilityTimeoutSeconds: minimum })),
    ).toEqual([]);
    const issues = issuesOf(
      at(base, { timeoutSeconds: 40, maxBatchingWindowSeconds: 3, visibilityTimeoutSeconds: minimum - 1 }),
    );
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(
      new RegExp(`^${base.replaceAll('.', '\\.')}\\.visibilityTimeoutSeconds ${minimum - 1} must be ≥ .* = ${minimum}`),
    );
    // Left out, it is derived at exactly that minimum.
    const derived = loadTopology(at(base, { timeoutSeconds: 40, maxBatchingWindowSeconds: 3 }));
    expect(findStage(derived, 'wh-2', 'packing')!.visibilityTimeoutSeconds).toBe(minimum);
  });

  it.each(where)('%s: the backoff cap is at least its base', (base) => {
    expect(issuesOf(at(base, { backoff: { baseSeconds: 30, capSeconds: 30 } }))).toEqual([]);
    const issues = issuesOf(at(base, { backoff: { baseSeconds: 30, capSeconds: 29 } }));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(
      new RegExp(`^${base.replaceAll('.', '\\.')}\\.backoff\\.capSeconds 29 must be ≥ backoff\\.baseSeconds 30`),
    );
  });

  it('dead letters are kept longer than queued work', () => {
    expect(issuesOf({ retention: { queueDays: 8, deadLetterDays: 9 } })).toEqual([]);
    const issues = issuesOf({ retention: { queueDays: 9, deadLetterDays: 9 } });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^retention\.deadLetterDays 9 must be longer than retention\.queueDays 9/);
  });
});

describe('warehouses', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `wh-${i + 1}`);

  it('from one to as many as fit one stack (limits.test.ts proves that many fit)', () => {
    expect(issuesOf({ warehouses: ids(1) })).toEqual([]);
    expect(issuesOf({ warehouses: ids(MAX_WAREHOUSES_PER_STACK) })).toEqual([]);
    expect(issuesOf({ warehouses: [] })).toEqual(['warehouses: needs at least one warehouse']);
    expect(issuesOf({ warehouses: ids(MAX_WAREHOUSES_PER_STACK + 1) })[0]).toMatch(
      new RegExp(`^warehouses: supports at most ${MAX_WAREHOUSES_PER_STACK} warehouses per stack`),
    );
  });

  it('ids of 1–20 lowercase letters, digits and dashes, not starting or ending with a dash', () => {
    for (const ok of ['a', '0', 'a-b', 'x'.repeat(20), 'a1-b2']) expect(issuesOf({ warehouses: [ok] }), ok).toEqual([]);
    for (const bad of ['', 'x'.repeat(21), '-a', 'a-', 'A', 'a_b', 'a b'])
      expect(issuesOf({ warehouses: [bad] }), JSON.stringify(bad)).toHaveLength(1);
  });
});
