/**
 * The circuit breaker's rules (lib/contract/breaker.ts), each at its boundary, and the local breaker
 * driving an event source mapping by them: open holds consumption, half-open probes at the least
 * concurrency, closed restores it; an operator's open holds until an operator's close.
 */
import { describe, expect, it } from 'vitest';
import { CLOSED, nextBreakerStatus, type BreakerStatus } from '../../lib/contract/breaker.ts';
import { MAX_CONCURRENCY_RANGE } from '../../lib/contract/limits.ts';
import { LocalBreaker, type SavedBreaker } from '../../lib/local/breaker.ts';
import type { LocalEventSourceMapping } from '../../lib/local/event-source-mapping.ts';
import { findStage, loadTopology } from '../../lib/topology/index.ts';

const stage = findStage(
  loadTopology({
    stages: {
      packing: {
        breaker: { failureRatePercent: 50, minimumRecords: 20, windowSeconds: 60, openSeconds: 30, probeRecords: 10 },
      },
    },
  }),
  'wh-1',
  'packing',
)!;
const settings = stage.breaker;

describe('the rules', () => {
  it('open a closed breaker at the threshold with the minimum of records, not below either', () => {
    const at = (records: number, failed: number) =>
      nextBreakerStatus(CLOSED, { records, failed }, 1_000, settings).state;
    expect(at(settings.minimumRecords, settings.minimumRecords * (settings.failureRatePercent / 100))).toBe('open');
    expect(at(settings.minimumRecords, settings.minimumRecords * (settings.failureRatePercent / 100) - 1)).toBe(
      'closed',
    );
    expect(at(settings.minimumRecords - 1, settings.minimumRecords - 1)).toBe('closed');
    expect(nextBreakerStatus(CLOSED, { records: 40, failed: 30 }, 1_000, settings).reason).toBe(
      `30 of 40 records failed in the last ${settings.windowSeconds} s (threshold ${settings.failureRatePercent} %)`,
    );
  });

  it('half-open an open breaker once openSeconds have passed', () => {
    const open: BreakerStatus = { state: 'open', since: 10_000, reason: '' };
    expect(
      nextBreakerStatus(open, { records: 0, failed: 0 }, 10_000 + settings.openSeconds * 1000 - 1, settings).state,
    ).toBe('open');
    expect(
      nextBreakerStatus(open, { records: 0, failed: 0 }, 10_000 + settings.openSeconds * 1000, settings).state,
    ).toBe('half-open');
  });

  it('decide a probe once it has seen probeRecords: close below the threshold, open again at it', () => {
    const half: BreakerStatus = { state: 'half-open', since: 0, reason: '' };
    const probed = (records: number, failed: number) =>
      nextBreakerStatus(half, { records, failed }, 5_000, settings).state;
    expect(probed(settings.probeRecords - 1, settings.probeRecords - 1)).toBe('half-open');
    expect(probed(settings.probeRecords, (settings.probeRecords * settings.failureRatePercent) / 100)).toBe('open');
    expect(probed(settings.probeRecords, (settings.probeRecords * settings.failureRatePercent) / 100 - 1)).toBe(
      'closed',
    );
  });

  it('leave an operator’s open breaker open, and a disabled breaker closed', () => {
    const held: BreakerStatus = { state: 'open', since: 0, reason: 'by an operator', manual: true };
    expect(nextBreakerStatus(held, { records: 0, failed: 0 }, 10 ** 9, settings)).toBe(held);
    expect(nextBreakerStatus(CLOSED, { records: 100, failed: 100 }, 1_000, { ...settings, enabled: false })).toBe(
      CLOSED,
    );
  });
});

/** An event source mapping as the breaker sees it: holds and concurrency. */
function fakeMapping(maxConcurrency = 7) {
  const holds = new Set<string>();
  const mapping = {
    maxConcurrency,
    hold: (reason: string) => void holds.add(reason),
    release: (reason: string) => void holds.delete(reason),
    scale: (n: number) => void (mapping.maxConcurrency = n),
  };
  return { mapping, holds, as: mapping as unknown as LocalEventSourceMapping };
}

describe('the local breaker', () => {
  it('holds the mapping while open, probes at the least concurrency, restores it when closed — and says so', () => {
    let now = 1_000_000;
    const saved: SavedBreaker[] = [];
    const notes: string[] = [];
    const { mapping, holds, as } = fakeMapping(7);
    const breaker = new LocalBreaker(stage, as, undefined, {
      save: (s) => saved.push(s),
      notify: (m) => notes.push(m),
      now: () => now,
    });

    breaker.observe(30, 30);
    breaker.tick();
    expect(breaker.state).toBe('open');
    expect(holds.has('breaker')).toBe(true);

    now += settings.openSeconds * 1000;
    breaker.tick();
    expect(breaker.state).toBe('half-open');
    expect(holds.size).toBe(0);
    expect(mapping.maxConcurrency).toBe(MAX_CONCURRENCY_RANGE.min);

    breaker.observe(settings.probeRecords, 0);
    breaker.tick();
    expect(breaker.state).toBe('closed');
    expect(mapping.maxConcurrency).toBe(7);
    expect(notes).toEqual(['circuit breaker open', 'circuit breaker half-open', 'circuit breaker closed']);
    expect(saved.at(-1)?.status.state).toBe('closed');
  });

  it('forgets failures older than its window', () => {
    let now = 2_000_000;
    const { as } = fakeMapping();
    const breaker = new LocalBreaker(stage, as, undefined, {
      save: () => undefined,
      notify: () => undefined,
      now: () => now,
    });
    breaker.observe(15, 15);
    now += (settings.windowSeconds + 1) * 1000;
    breaker.observe(15, 15);
    breaker.tick();
    expect(breaker.state).toBe('closed');
  });

  it('resumes where it was after a restart, and lets an operator hold it open and close it', () => {
    const { holds, as } = fakeMapping();
    const restored = new LocalBreaker(
      stage,
      as,
      { status: { state: 'open', since: Date.now(), reason: 'x' } },
      { save: () => undefined, notify: () => undefined },
    );
    expect(holds.has('breaker')).toBe(true);
    restored.override('closed', 'operator@test');
    expect(holds.size).toBe(0);
    const held = restored.override('open', 'operator@test');
    expect(held).toMatchObject({ state: 'open', manual: true, reason: 'opened by operator@test' });
    restored.tick();
    expect(restored.state).toBe('open');
  });
});
