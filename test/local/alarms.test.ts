/**
 * The local alarm evaluator on synthetic sample sequences: each rule firing and clearing, the
 * consecutive-period logic, missing and insufficient data, and the pipeline composite.
 */
import { describe, expect, it } from 'vitest';
import { RETENTION_WARNING_SHARE } from '../../lib/contract/index.ts';
import { AlarmEvaluator, formatSeconds, type StageSample } from '../../lib/local/alarms.ts';
import type { StageView, StatsSnapshot } from '../../lib/local/stats.ts';
import { allStages, findStage, loadTopology } from '../../lib/topology/index.ts';

// Defaults: every rule over 3 consecutive periods of 60 s; DLQ > 0, age > 600 s, error rate > 5 %, throttles > 0.
const topology = loadTopology();
/** The same thresholds, judged on one period. */
const onePeriod = (alarms: Record<string, number> = {}) =>
  loadTopology({
    stages: Object.fromEntries(
      ['picking', 'packing', 'delivery'].map((name) => [name, { alarms: { evaluationPeriods: 1, ...alarms } }]),
    ),
  });
const T0 = Date.parse('2026-01-01T00:00:00Z');
const s = (seconds: number) => T0 + seconds * 1000;
const idle: StageSample = { dlq: 0, oldestMessageAgeSeconds: 0, batches: 0, failedBatches: 0, throttles: 0 };

/** A sample where every stage is idle except those given. */
function sample(overrides: Record<string, Partial<StageSample>> = {}): Map<string, StageSample> {
  return new Map(allStages(topology).map((stage) => [stage.key, { ...idle, ...overrides[stage.key] }]));
}

/** Feeds `evaluator` one sample every `step` seconds from `from` to `to` (inclusive). */
function feed(
  evaluator: AlarmEvaluator,
  from: number,
  to: number,
  step: number,
  at: (second: number) => Record<string, Partial<StageSample>>,
): void {
  for (let t = from; t <= to; t += step) evaluator.observeSample(s(t), sample(at(t)));
}

describe('AlarmEvaluator', () => {
  it('has insufficient data before any sample, then OK everywhere on an idle pipeline', () => {
    const evaluator = new AlarmEvaluator(topology);
    const empty = evaluator.evaluate(s(0));
    expect(empty.state).toBe('INSUFFICIENT_DATA');
    expect(empty.pipelines['wh-1']?.composite.state).toBe('INSUFFICIENT_DATA');
    expect(empty.pipelines['wh-1']?.stages.picking?.['dead-letters']).toMatchObject({
      state: 'INSUFFICIENT_DATA',
      value: null,
      threshold: 0,
    });

    evaluator.observeSample(s(0), sample());
    const one = evaluator.evaluate(s(0));
    // One sample judges levels (DLQ, age) but not rates: errors need two samples.
    expect(one.pipelines['wh-1']?.stages.picking).toMatchObject({
      'dead-letters': { state: 'OK' },
      backlog: { state: 'OK', threshold: 600, periodSeconds: 60, evaluationPeriods: 3 },
      'error-rate': { state: 'INSUFFICIENT_DATA', reason: expect.stringContaining('two samples') },
      throttles: { state: 'OK', value: 0, reason: expect.stringContaining('no reserved concurrency') },
    });
    expect(one.state).toBe('OK');

    feed(evaluator, 5, 60, 5, () => ({}));
    const report = evaluator.evaluate(s(60));
    expect(report.state).toBe('OK');
    expect(report.alarming).toEqual([]);
    for (const pipeline of ['wh-1', 'wh-2']) {
      for (const stage of ['picking', 'packing', 'delivery']) {
        for (const rule of ['dead-letters', 'backlog', 'error-rate', 'throttles'] as const) {
          expect(report.pipelines[pipeline]?.stages[stage]?.[rule].state, `${pipeline}/${stage} ${rule}`).toBe('OK');
        }
      }
    }
  });

  it('fires the DLQ alarm on the first dead letter, within a minute whatever the stage’s evaluation periods, and clears a period after the DLQ is emptied', () => {
    const evaluator = new AlarmEvaluator(topology);
    expect(findStage(topology, 'wh-2', 'packing')!.alarms.evaluationPeriods).toBeGreaterThan(1);
    feed(evaluator, 0, 20, 5, () => ({}));
    expect(evaluator.evaluate(s(20)).pipelines['wh-2']?.stages.packing?.['dead-letters'].state).toBe('OK');

    // A dead letter at 25 s: ALARM at once, on one period of a minute.
    feed(evaluator, 25, 140, 5, () => ({ 'wh-2/packing': { dlq: 3 } }));
    const firing = evaluator.evaluate(s(25));
    expect(firing.pipelines['wh-2']?.stages.packing?.['dead-letters']).toMatchObject({
      state: 'ALARM',
      value: 3,
      evaluationPeriods: 1,
      periodSeconds: 60,
      reason: '3 messages in the dead-letter queue (threshold: more than 0) for the last 1 min',
    });
    expect(firing.pipelines['wh-2']?.composite).toMatchObject({ state: 'ALARM', alarming: ['packing dead-letters'] });
    expect(firing.pipelines['wh-1']?.composite.state).toBe('OK');
    expect(firing).toMatchObject({ state: 'ALARM', alarming: ['wh-2/packing dead-letters'] });

    // Still in ALARM later: `since` stays at the transition.
    expect(evaluator.evaluate(s(140)).pipelines['wh-2']?.stages.packing?.['dead-letters'].since).toBe(
      new Date(s(25)).toISOString(),
    );

    // Redriven at 145 s: the period's maximum keeps the alarm until a whole period is clean.
    feed(evaluator, 145, 205, 5, () => ({}));
    expect(evaluator.evaluate(s(195)).pipelines['wh-2']?.stages.packing?.['dead-letters'].state).toBe('ALARM');
    const cleared = evaluator.evaluate(s(205));
    expect(cleared.pipelines['wh-2']?.stages.packing?.['dead-letters']).toMatchObject({
      state: 'OK',
      value: 0,
      since: new Date(s(205)).toISOString(),
    });
    expect(cleared.state).toBe('OK');
  });

  it('fires the DLQ alarm on the first dead letter with one evaluation period', () => {
    const evaluator = new AlarmEvaluator(onePeriod());
    feed(evaluator, 0, 20, 5, () => ({}));
    evaluator.observeSample(s(25), sample({ 'wh-1/delivery': { dlq: 1 } }));
    expect(evaluator.evaluate(s(25)).pipelines['wh-1']?.stages.delivery?.['dead-letters']).toMatchObject({
      state: 'ALARM',
      value: 1,
      evaluationPeriods: 1,
      reason: '1 message in the dead-letter queue (threshold: more than 0) for the last 1 min',
    });
  });

  it('fires the age alarm only after 3 consecutive breaching periods, and clears on the first good one', () => {
    const evaluator = new AlarmEvaluator(topology);
    // Healthy for 3 minutes, then a backlog whose oldest message is 700 s old (a restart with old messages, say).
    feed(evaluator, 0, 180, 5, () => ({}));
    feed(evaluator, 185, 240, 5, () => ({ 'wh-1/delivery': { oldestMessageAgeSeconds: 700 } }));
    const one = evaluator.evaluate(s(240)).pipelines['wh-1']?.stages.delivery?.backlog;
    expect(one).toMatchObject({ state: 'OK', value: 700, reason: expect.stringContaining('1 of 3 periods') });

    feed(evaluator, 245, 300, 5, (t) => ({ 'wh-1/delivery': { oldestMessageAgeSeconds: 700 + t - 240 } }));
    expect(evaluator.evaluate(s(300)).pipelines['wh-1']?.stages.delivery?.backlog).toMatchObject({
      state: 'OK',
      reason: expect.stringContaining('2 of 3 periods'),
    });

    feed(evaluator, 305, 360, 5, (t) => ({ 'wh-1/delivery': { oldestMessageAgeSeconds: 700 + t - 240 } }));
    const firing = evaluator.evaluate(s(360));
    expect(firing.pipelines['wh-1']?.stages.delivery?.backlog).toMatchObject({
      state: 'ALARM',
      value: 820,
      reason: expect.stringMatching(/13 min 40 s old .*threshold 10 min.* 3 consecutive periods of 1 min/),
    });
    expect(firing.pipelines['wh-1']?.composite).toMatchObject({ state: 'ALARM', alarming: ['delivery backlog'] });

    // A period's maximum counts: one good sample inside a breaching period does not clear it…
    evaluator.observeSample(s(365), sample({ 'wh-1/delivery': { oldestMessageAgeSeconds: 3 } }));
    expect(evaluator.evaluate(s(365)).pipelines['wh-1']?.stages.delivery?.backlog.state).toBe('ALARM');
    // …a whole good period does.
    feed(evaluator, 370, 425, 5, () => ({ 'wh-1/delivery': { oldestMessageAgeSeconds: 3 } }));
    const cleared = evaluator.evaluate(s(425));
    expect(cleared.pipelines['wh-1']?.stages.delivery?.backlog).toMatchObject({ state: 'OK', value: 3 });
    expect(cleared.state).toBe('OK');
  });

  it('needs breaching periods to be consecutive', () => {
    const evaluator = new AlarmEvaluator(topology);
    const age = (t: number) => (t <= 60 || t > 120 ? 900 : 10); // breach, good, breach, breach
    feed(evaluator, 0, 240, 5, (t) => ({ 'wh-2/picking': { oldestMessageAgeSeconds: age(t) } }));
    expect(evaluator.evaluate(s(240)).pipelines['wh-2']?.stages.picking?.backlog).toMatchObject({
      state: 'OK',
      reason: expect.stringContaining('2 of 3 periods'),
    });
    feed(evaluator, 245, 300, 5, () => ({ 'wh-2/picking': { oldestMessageAgeSeconds: 900 } }));
    expect(evaluator.evaluate(s(300)).pipelines['wh-2']?.stages.picking?.backlog.state).toBe('ALARM');
  });

  it('counts periods without data as not breaching, like the cloud alarms (treatMissingData: notBreaching)', () => {
    const evaluator = new AlarmEvaluator(topology);
    // Started 90 s ago on a queue that already held old messages: 2 periods of data, both breaching, one missing.
    feed(evaluator, 0, 90, 5, () => ({ 'wh-1/picking': { oldestMessageAgeSeconds: 5000 } }));
    expect(evaluator.evaluate(s(90)).pipelines['wh-1']?.stages.picking?.backlog).toMatchObject({
      state: 'OK',
      value: 5000,
      reason: expect.stringContaining('2 of 3 periods so far'),
    });
    feed(evaluator, 95, 150, 5, () => ({ 'wh-1/picking': { oldestMessageAgeSeconds: 5000 } }));
    expect(evaluator.evaluate(s(150)).pipelines['wh-1']?.stages.picking?.backlog.state).toBe('ALARM');
    // Sampling stopped (say the emulators were restarting): the newest period has no data.
    expect(evaluator.evaluate(s(215)).pipelines['wh-1']?.stages.picking?.backlog).toMatchObject({
      state: 'OK',
      value: null,
      reason: expect.stringContaining('missing data does not breach'),
    });
  });

  it("fires the error-rate alarm above 5 % of a period's invocations, and clears when a period is clean", () => {
    const evaluator = new AlarmEvaluator(onePeriod());
    // 10 invocations every 5 s; from 60 s on, 1 of every 10 fails as a whole (10 % > 5 %).
    const counters = (t: number) => ({
      'wh-1/packing': { batches: 2 * t, failedBatches: t > 60 ? Math.floor((t - 60) / 5) : 0 },
    });
    feed(evaluator, 0, 60, 5, counters);
    expect(evaluator.evaluate(s(60)).pipelines['wh-1']?.stages.packing?.['error-rate']).toMatchObject({
      state: 'OK',
      value: 0,
      reason: expect.stringContaining('0 failed invocations of 120'),
    });

    feed(evaluator, 65, 90, 5, counters);
    // Half the period bad: 6 of 120 = 5 %, not above the threshold.
    expect(evaluator.evaluate(s(90)).pipelines['wh-1']?.stages.packing?.['error-rate']).toMatchObject({
      state: 'OK',
      value: 5,
    });

    feed(evaluator, 95, 120, 5, counters);
    const firing = evaluator.evaluate(s(120)).pipelines['wh-1']?.stages.packing?.['error-rate'];
    expect(firing).toMatchObject({
      state: 'ALARM',
      value: 10,
      threshold: 5,
      evaluationPeriods: 1,
      reason: expect.stringContaining('12 failed invocations of 120'),
    });

    // Healthy again: failures stop; one clean period later the alarm clears.
    const stopped = counters(120)['wh-1/packing'].failedBatches;
    feed(evaluator, 125, 180, 5, (t) => ({ 'wh-1/packing': { batches: 2 * t, failedBatches: stopped } }));
    expect(evaluator.evaluate(s(180)).pipelines['wh-1']?.stages.packing?.['error-rate']).toMatchObject({
      state: 'OK',
      value: 0,
    });
  });

  it('needs the error rate above the threshold in 3 consecutive periods by default', () => {
    const evaluator = new AlarmEvaluator(topology);
    // 1 failed invocation of every 4 from the start: 25 % in every period.
    const counters = (t: number) => ({ 'wh-2/picking': { batches: 4 * (t / 5), failedBatches: t / 5 } });
    feed(evaluator, 0, 120, 5, counters);
    expect(evaluator.evaluate(s(120)).pipelines['wh-2']?.stages.picking?.['error-rate']).toMatchObject({
      state: 'OK',
      value: 25,
      reason: expect.stringContaining('2 of 3 periods'),
    });
    feed(evaluator, 125, 180, 5, counters);
    expect(evaluator.evaluate(s(180)).pipelines['wh-2']?.stages.picking?.['error-rate']).toMatchObject({
      state: 'ALARM',
      value: 25,
    });
  });

  it('does not treat a period without invocations as failing', () => {
    const evaluator = new AlarmEvaluator(topology);
    feed(evaluator, 0, 30, 5, () => ({ 'wh-1/picking': { batches: 4, failedBatches: 4 } }));
    expect(evaluator.evaluate(s(30)).pipelines['wh-1']?.stages.picking?.['error-rate']).toMatchObject({
      state: 'OK',
      value: 0,
      reason: expect.stringContaining('no invocations'),
    });
  });

  it('measures the first period from the first sample, when history is shorter than a period', () => {
    const evaluator = new AlarmEvaluator(onePeriod());
    evaluator.observeSample(s(0), sample());
    evaluator.observeSample(s(10), sample({ 'wh-2/delivery': { batches: 4, failedBatches: 2 } }));
    expect(evaluator.evaluate(s(10)).pipelines['wh-2']?.stages.delivery?.['error-rate']).toMatchObject({
      state: 'ALARM',
      value: 50,
    });
  });

  it('fires the throttle alarm above maxThrottles (fed synthetically: the local runtime never throttles)', () => {
    const evaluator = new AlarmEvaluator(onePeriod({ maxThrottles: 2 }));
    feed(evaluator, 0, 60, 5, (t) => ({ 'wh-1/picking': { throttles: t >= 30 ? 2 : 0 } }));
    expect(evaluator.evaluate(s(60)).pipelines['wh-1']?.stages.picking?.throttles).toMatchObject({
      state: 'OK',
      value: 2,
      threshold: 2,
    });
    feed(evaluator, 65, 90, 5, (t) => ({ 'wh-1/picking': { throttles: t >= 90 ? 5 : 2 } }));
    expect(evaluator.evaluate(s(90)).pipelines['wh-1']?.stages.picking?.throttles).toMatchObject({
      state: 'ALARM',
      value: 3,
    });
    feed(evaluator, 95, 150, 5, () => ({ 'wh-1/picking': { throttles: 5 } }));
    expect(evaluator.evaluate(s(150)).pipelines['wh-1']?.stages.picking?.throttles).toMatchObject({
      state: 'OK',
      value: 0,
    });
  });

  it('warns when the oldest message nears the queue’s retention (three quarters of it), on one period', () => {
    const evaluator = new AlarmEvaluator(topology);
    const mark = topology.retention.queueDays * 86_400 * RETENTION_WARNING_SHARE;
    evaluator.observeSample(s(0), sample({ 'wh-1/packing': { oldestMessageAgeSeconds: mark } }));
    expect(evaluator.evaluate(s(0)).pipelines['wh-1']?.stages.packing?.['queue-retention']).toMatchObject({
      state: 'OK',
      threshold: mark,
      evaluationPeriods: 1,
    });
    evaluator.observeSample(s(5), sample({ 'wh-1/packing': { oldestMessageAgeSeconds: mark + 5 } }));
    const firing = evaluator.evaluate(s(5));
    expect(firing.pipelines['wh-1']?.stages.packing?.['queue-retention']).toMatchObject({
      state: 'ALARM',
      value: mark + 5,
    });
    expect(firing.pipelines['wh-1']?.composite.alarming).toContain('packing queue-retention');
  });

  it('judges the dead letters’ retention once the stats report their age, and says so until then', () => {
    const evaluator = new AlarmEvaluator(topology);
    evaluator.observeSample(s(0), sample({ 'wh-2/delivery': { dlq: 1 } }));
    expect(evaluator.evaluate(s(0)).pipelines['wh-2']?.stages.delivery?.['dead-letter-retention']).toMatchObject({
      state: 'INSUFFICIENT_DATA',
      reason: expect.stringContaining('do not report'),
    });
    const mark = topology.retention.deadLetterDays * 86_400 * RETENTION_WARNING_SHARE;
    evaluator.observeSample(s(5), sample({ 'wh-2/delivery': { dlq: 1, oldestDeadLetterAgeSeconds: mark + 1 } }));
    expect(evaluator.evaluate(s(5)).pipelines['wh-2']?.stages.delivery?.['dead-letter-retention']).toMatchObject({
      state: 'ALARM',
      threshold: mark,
    });
  });

  it('uses each stage’s own thresholds from the topology', () => {
    const evaluator = new AlarmEvaluator(
      loadTopology({
        pipelines: {
          'wh-2': {
            stages: {
              delivery: { alarms: { maxAgeOfOldestMessageSeconds: 60, periodSeconds: 60, evaluationPeriods: 1 } },
            },
          },
        },
      }),
    );
    feed(evaluator, 0, 60, 5, () => ({
      'wh-1/delivery': { oldestMessageAgeSeconds: 90 },
      'wh-2/delivery': { oldestMessageAgeSeconds: 90 },
    }));
    const report = evaluator.evaluate(s(60));
    expect(report.pipelines['wh-1']?.stages.delivery?.backlog).toMatchObject({
      state: 'OK',
      threshold: 600,
      evaluationPeriods: 3,
    });
    expect(report.pipelines['wh-2']?.stages.delivery?.backlog).toMatchObject({
      state: 'ALARM',
      threshold: 60,
      evaluationPeriods: 1,
    });
    expect(report.pipelines['wh-2']?.stages.picking?.backlog.threshold).toBe(600);
  });

  it('composes: a pipeline is in ALARM when any of its stage alarms is, and names them', () => {
    const evaluator = new AlarmEvaluator(onePeriod());
    feed(evaluator, 0, 10, 5, () => ({ 'wh-1/picking': { dlq: 1 }, 'wh-1/delivery': { dlq: 2 } }));
    const report = evaluator.evaluate(s(10));
    expect(report.pipelines['wh-1']?.composite).toMatchObject({
      state: 'ALARM',
      alarming: ['picking dead-letters', 'delivery dead-letters'],
      reason: '2 stage alarms in ALARM: picking dead-letters, delivery dead-letters',
    });
    expect(report.pipelines['wh-2']?.composite.state).toBe('OK');
    expect(report).toMatchObject({
      state: 'ALARM',
      alarming: ['wh-1/picking dead-letters', 'wh-1/delivery dead-letters'],
    });
  });

  it('keeps only the history its longest window needs, however often it is fed', () => {
    const evaluator = new AlarmEvaluator(topology);
    for (let ms = 0; ms <= 3_600_000; ms += 250) evaluator.observeSample(T0 + ms, sample());
    // 3 periods of 60 s plus one for the baseline, at most one sample a second.
    expect(evaluator.samples).toBeLessThanOrEqual(242);
    expect(evaluator.samples).toBeGreaterThan(200);
    expect(evaluator.evaluate().historySeconds).toBeLessThanOrEqual(241);
  });

  it('takes its samples from stats snapshots', () => {
    const evaluator = new AlarmEvaluator(onePeriod());
    const view = (dlq: number): StageView => ({
      ready: 0,
      inFlight: 0,
      delayed: 0,
      dlq,
      oldestMessageAgeSeconds: 0,
      retentionSeconds: 345_600,
      nearsRetention: false,
      oldestDeadLetterAgeSeconds: 0,
      deadLetterRetentionSeconds: 1_209_600,
      deadLettersNearRetention: false,
      succeeded: 0,
      failed: 0,
      retried: 0,
      deadLettered: 0,
      duplicates: 0,
      perSecond: 0,
      incomingPerSecond: 0,
      failedPerSecond: 0,
      batches: 0,
      averageBatchSize: 0,
      maxBatchSize: 0,
      failedBatches: 0,
      concurrency: { inUse: 0, max: 5 },
      paused: false,
      breaker: 'closed',
      breakerReason: '',
    });
    const snapshot: StatsSnapshot = {
      at: new Date(s(0)).toISOString(),
      uptimeSeconds: 1,
      tracking: 'full',
      totals: { accepted: 0, delivered: 0, deadLettered: 0, cancelled: 0, purged: 0, inFlight: 0 },
      latencyMs: { p50: null, p99: null, samples: 0 },
      pipelines: {
        'wh-1': { picking: view(1), packing: view(0), delivery: view(0) },
        'wh-2': { picking: view(0), packing: view(0), delivery: view(0) },
      },
      history: { accepted: [], delivered: [], failed: [] },
    };
    evaluator.observe(snapshot);
    expect(evaluator.evaluate()).toMatchObject({
      state: 'ALARM',
      alarming: ['wh-1/picking dead-letters'],
      at: snapshot.at,
    });
  });

  it('formats durations for reasons', () => {
    expect([45, 60, 90, 600, 3600, 5400].map(formatSeconds)).toEqual([
      '45 s',
      '1 min',
      '1 min 30 s',
      '10 min',
      '1 h',
      '1 h 30 min',
    ]);
  });
});
