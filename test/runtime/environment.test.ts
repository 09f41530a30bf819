import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  intakeEnvironment,
  readIntakeConfig,
  readStageConfig,
  stageEnvironment,
} from '../../lib/runtime/environment.ts';
import { findStage, loadTopology } from '../../lib/topology/index.ts';

const topology = loadTopology({
  tracking: 'terminal',
  stages: { packing: { maxReceiveCount: 4, backoff: { baseSeconds: 3, capSeconds: 90 } } },
});
const packing = findStage(topology, 'wh-2', 'packing')!;
const delivery = findStage(topology, 'wh-2', 'delivery')!;
const urls = {
  queueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/q',
  deadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/dlq',
  tableName: 'orders',
};

describe('handler environment', () => {
  it('round-trips a stage configuration from the topology through environment variables', () => {
    const env = stageEnvironment(topology, packing, {
      ...urls,
      nextQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/next',
    });
    expect(readStageConfig('packing', env)).toEqual({
      pipelineId: 'wh-2',
      stage: 'packing',
      position: packing.index + 1,
      nextStage: packing.next,
      batchingWindowSeconds: packing.maxBatchingWindowSeconds,
      queueUrl: urls.queueUrl,
      deadLetterQueueUrl: urls.deadLetterQueueUrl,
      nextQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/next',
      tableName: 'orders',
      tracking: 'terminal',
      maxReceiveCount: 4,
      backoff: { baseSeconds: 3, capSeconds: 90 },
      chaos: { fail: 0, stall: 0, delay: { probability: 0, ms: 0 } },
    });
  });

  it('names each missing or malformed variable', () => {
    const env = stageEnvironment(topology, packing, { ...urls, nextQueueUrl: 'https://x/next' });
    const broken = { ...env, CONVEYOR_QUEUE_URL: 'not a url', CONVEYOR_MAX_RECEIVE_COUNT: 'many' } as Record<
      string,
      string | undefined
    >;
    delete broken.CONVEYOR_STATUS_TABLE;
    expect(() => readStageConfig('packing', broken)).toThrow(ConfigurationError);
    expect(() => readStageConfig('packing', broken)).toThrow(
      /CONVEYOR_QUEUE_URL must be a queue URL.*CONVEYOR_STATUS_TABLE is not set.*CONVEYOR_MAX_RECEIVE_COUNT/s,
    );
  });

  it('refuses a stage module deployed with another stage configuration', () => {
    const env = stageEnvironment(topology, packing, { ...urls, nextQueueUrl: 'https://x/next' });
    expect(() => readStageConfig('picking', env)).toThrow(
      `the picking handler is misconfigured: CONVEYOR_HANDLER is "${packing.handler}" (stage ${packing.name})`,
    );
  });

  it('requires a next queue for every stage but the last, and refuses one on the last', () => {
    expect(() => readStageConfig('packing', stageEnvironment(topology, packing, urls))).toThrow(
      /CONVEYOR_NEXT_QUEUE_URL is not set/,
    );
    // A last stage (no next stage named) given a next queue anyway.
    expect(() =>
      readStageConfig('delivery', stageEnvironment(topology, delivery, { ...urls, nextQueueUrl: 'https://x/loop' })),
    ).toThrow(/CONVEYOR_NEXT_STAGE is not set .*neither for a pipeline's last stage/);
    expect(readStageConfig('delivery', stageEnvironment(topology, delivery, urls)).nextQueueUrl).toBeUndefined();
  });

  it('reads the chaos probability of its own stage, and names a bad specification', () => {
    const env = stageEnvironment(topology, packing, { ...urls, nextQueueUrl: 'https://x/next' });
    expect(readStageConfig('packing', { ...env, CONVEYOR_CHAOS: 'picking:1, packing:0.25' }).chaos).toEqual({
      fail: 0.25,
      stall: 0,
      delay: { probability: 0, ms: 0 },
    });
    expect(readStageConfig('packing', { ...env, CONVEYOR_CHAOS: 'picking:1' }).chaos).toEqual({
      fail: 0,
      stall: 0,
      delay: { probability: 0, ms: 0 },
    });
    expect(
      readStageConfig('packing', { ...env, CONVEYOR_CHAOS: 'packing:0.3,packing:0.05:stall,packing:1:delay=1500' })
        .chaos,
    ).toEqual({ fail: 0.3, stall: 0.05, delay: { probability: 1, ms: 1500 } });
    expect(() => readStageConfig('packing', { ...env, CONVEYOR_CHAOS: 'packing:0.1:explode' })).toThrow(
      /unknown effect "explode"; effects are fail, stall, delay=<ms>/,
    );
    expect(() => readStageConfig('packing', { ...env, CONVEYOR_CHAOS: 'packing:2' })).toThrow(
      'CONVEYOR_CHAOS: "packing:2": probability must be a number from 0 to 1',
    );
    // Other stages' effects are theirs (the runtime checks every name against the topology at start).
    expect(readStageConfig('packing', { ...env, CONVEYOR_CHAOS: 'boxing:0.1' }).chaos).toEqual({
      fail: 0,
      stall: 0,
      delay: { probability: 0, ms: 0 },
    });
    expect(() => readStageConfig('packing', { ...env, CONVEYOR_CHAOS: 'Boxing!:0.1' })).toThrow(
      /"Boxing!" is not a stage name/,
    );
  });

  it('round-trips the intake configuration, and rejects a broken queue map', () => {
    const env = intakeEnvironment(topology, {
      tableName: 'orders',
      entryQueueUrls: { 'wh-1': 'https://x/1', 'wh-2': 'https://x/2' },
    });
    expect([...readIntakeConfig(env).entryQueueUrls]).toEqual([
      ['wh-1', 'https://x/1'],
      ['wh-2', 'https://x/2'],
    ]);
    expect(() => readIntakeConfig({ ...env, CONVEYOR_ENTRY_QUEUES: '{"wh-1": 7}' })).toThrow(
      /CONVEYOR_ENTRY_QUEUES must map each warehouse/,
    );
    expect(() => readIntakeConfig({ ...env, CONVEYOR_ENTRY_QUEUES: '[' })).toThrow(/CONVEYOR_ENTRY_QUEUES is not JSON/);
  });
});
