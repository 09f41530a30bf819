import { describe, expect, it } from 'vitest';
import { allStages, findStage, loadTopology, type TopologyError } from '../../lib/topology/index.ts';
import { issuesOf } from '../support/topology-issues.ts';

describe('topology', () => {
  it('defaults to two warehouses, each picking → packing → delivery', () => {
    const topology = loadTopology();
    expect(topology.pipelines.map((p) => p.id)).toEqual(['wh-1', 'wh-2']);
    for (const pipeline of topology.pipelines) {
      expect(pipeline.stages.map((s) => s.name)).toEqual(['picking', 'packing', 'delivery']);
      expect(pipeline.stages.map((s) => s.next)).toEqual(['packing', 'delivery', undefined]);
    }
    expect(allStages(topology).map((s) => s.key)).toEqual([
      'wh-1/picking',
      'wh-1/packing',
      'wh-1/delivery',
      'wh-2/picking',
      'wh-2/packing',
      'wh-2/delivery',
    ]);
    expect(topology.tracking).toBe('full');
  });

  it('derives each queue visibility timeout as 6 × function timeout + batching window', () => {
    for (const stage of allStages(
      loadTopology({ stages: { packing: { timeoutSeconds: 45, maxBatchingWindowSeconds: 5 } } }),
    )) {
      expect(stage.visibilityTimeoutSeconds).toBe(6 * stage.timeoutSeconds + stage.maxBatchingWindowSeconds);
    }
  });

  it('applies shared stage overrides to every pipeline and pipeline overrides to one', () => {
    const topology = loadTopology({
      warehouses: ['north', 'south'],
      stages: { packing: { batchSize: 50, maxBatchingWindowSeconds: 2, backoff: { capSeconds: 60 } } },
      pipelines: { south: { stages: { packing: { maxConcurrency: 7 } } } },
      tracking: 'terminal',
    });
    expect(findStage(topology, 'north', 'packing')).toMatchObject({
      batchSize: 50,
      maxConcurrency: 2,
      backoff: { baseSeconds: 2, capSeconds: 60 },
    });
    expect(findStage(topology, 'south', 'packing')).toMatchObject({ batchSize: 50, maxConcurrency: 7 });
    expect(findStage(topology, 'south', 'picking')?.batchSize).toBe(100);
    expect(topology.tracking).toBe('terminal');
  });

  it('carries alarm thresholds per stage (defaults, shared and per-pipeline overrides) and an optional email', () => {
    const topology = loadTopology({
      alarms: { email: 'oncall@example.com' },
      stages: { packing: { alarms: { maxAgeOfOldestMessageSeconds: 120 } } },
      pipelines: { 'wh-2': { stages: { packing: { alarms: { maxErrorRatePercent: 1.5 } } } } },
    });
    expect(topology.alarms.email).toBe('oncall@example.com');
    expect(findStage(topology, 'wh-1', 'picking')?.alarms).toEqual({
      maxAgeOfOldestMessageSeconds: 600,
      maxErrorRatePercent: 5,
      maxThrottles: 0,
      periodSeconds: 60,
      evaluationPeriods: 3,
    });
    expect(findStage(topology, 'wh-1', 'packing')?.alarms).toMatchObject({
      maxAgeOfOldestMessageSeconds: 120,
      maxErrorRatePercent: 5,
    });
    expect(findStage(topology, 'wh-2', 'packing')?.alarms).toMatchObject({
      maxAgeOfOldestMessageSeconds: 120,
      maxErrorRatePercent: 1.5,
    });
    expect(loadTopology().alarms).toEqual({});
    expect(issuesOf({ alarms: { email: 'nope' } })).toEqual([
      'alarms.email: must be an email address, e.g. "oncall@example.com"',
    ]);
    expect(issuesOf({ stages: { picking: { alarms: { periodSeconds: 90 } } } })).toEqual([
      'stages.picking.alarms.periodSeconds: must be a multiple of 60',
    ]);
    expect(issuesOf({ stages: { picking: { alarms: { maxErrorRatePercent: 0 } } } })[0]).toMatch(
      /^stages\.picking\.alarms\.maxErrorRatePercent: must be above 0/,
    );
  });

  it('accepts the JSON string that `cdk synth -c conveyor=…` passes', () => {
    expect(loadTopology('{"warehouses":["wh-9"]}').pipelines.map((p) => p.id)).toEqual(['wh-9']);
  });

  it('names the field and the rule in every error', () => {
    expect(issuesOf({ stages: { packing: { batchSize: 50, maxBatchingWindowSeconds: 0 } } })).toEqual([
      'stages.packing.batchSize 50 needs maxBatchingWindowSeconds ≥ 1 (SQS event sources allow batches above 10 only with a batching window)',
    ]);
    expect(
      issuesOf({ pipelines: { 'wh-2': { stages: { delivery: { batchSize: 11, maxBatchingWindowSeconds: 0 } } } } })[0],
    ).toMatch(/^pipelines\.wh-2\.stages\.delivery\.batchSize 11 needs/);
    expect(issuesOf({ stages: { picking: { timeoutSeconds: 60, visibilityTimeoutSeconds: 100 } } })[0]).toMatch(
      /^stages\.picking\.visibilityTimeoutSeconds 100 must be ≥ 6 × timeoutSeconds \+ maxBatchingWindowSeconds = 361/,
    );
    expect(issuesOf({ stages: { picking: { backoff: { baseSeconds: 10, capSeconds: 5 } } } })).toEqual([
      'stages.picking.backoff.capSeconds 5 must be ≥ backoff.baseSeconds 10',
    ]);
    expect(issuesOf({ stages: { picking: { maxConcurrency: 1 } } })).toEqual([
      'stages.picking.maxConcurrency: must be from 2 to 1000, got 1',
    ]);
    expect(issuesOf({ stages: { picking: { memoryMb: 'lots' } } })).toEqual([
      'stages.picking.memoryMb: must be a number, got "lots"',
    ]);
    expect(issuesOf({ stages: { qa: {} } })[0]).toBe(
      'stages.qa: not a stage of any pipeline; stages are picking, packing, delivery (a stage joins a pipeline through chain)',
    );
    expect(issuesOf({ stages: { picking: { batchsize: 5 } } })[0]).toMatch(
      /^stages\.picking: unknown setting "batchsize"; known settings: handler, batchSize/,
    );
    expect(issuesOf({ tracking: 'some' })).toEqual(['tracking: must be one of full, terminal, got "some"']);
    expect(issuesOf({ warehouses: ['wh-1', 'WH 2'] })[0]).toMatch(/^warehouses\.1: warehouse id "WH 2" must be/);
    expect(issuesOf({ warehouses: ['a', 'a'] })).toEqual(['warehouses: a listed more than once']);
    expect(issuesOf({ pipelines: { 'wh-9': {} } })).toEqual([
      'pipelines.wh-9: not a warehouse; warehouses are wh-1, wh-2',
    ]);
    expect(issuesOf({ retention: { queueDays: 10, deadLetterDays: 7 } })[0]).toMatch(
      /^retention\.deadLetterDays 7 must be longer than retention\.queueDays 10/,
    );
    expect(issuesOf({ retention: { logDays: 8 } })[0]).toMatch(
      /^retention\.logDays: must be one of CloudWatch's retention periods/,
    );
    expect(issuesOf('{nope')[0]).toMatch(/^is not valid JSON/);
    expect(issuesOf([1])).toEqual(['must be an object, got an array']);
  });

  it('reports every problem at once, with where the configuration came from', () => {
    try {
      loadTopology({ tracking: 'x', api: { throttleRateLimit: 0 } }, 'cdk.json context "conveyor"');
      expect.unreachable();
    } catch (error) {
      expect((error as TopologyError).issues).toHaveLength(2);
      expect((error as Error).message).toMatch(
        /^Invalid Conveyor topology \(cdk\.json context "conveyor"\):\n {2}- tracking/,
      );
    }
  });
});
