/**
 * Topology overrides (cdk.json context `conveyor`) reach the template: nothing about a queue, a
 * stage or a limit is written twice.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Match } from 'aws-cdk-lib/assertions';
import { ConveyorStack } from '../../lib/infra/conveyor-stack.ts';
import { StackOutput } from '../../lib/contract/index.ts';
import { loadTopology, TopologyError } from '../../lib/topology/index.ts';
import {
  cleanupAssemblies,
  logicalId,
  onlyResourceOf,
  referencedId,
  resolveCfn,
  resourcesOf,
  stagesInTemplate,
  synthConveyor,
  testApp,
} from '../support/cdk-app.ts';

const WEB_ACL = 'arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/conveyor/0f1e2d3c';
const DAY = 86_400;

afterAll(cleanupAssemblies);

describe('a tuned topology', () => {
  const { stack, template, json } = synthConveyor({
    warehouses: ['wh-1', 'wh-2'],
    tracking: 'terminal',
    stages: { packing: { batchSize: 50, maxBatchingWindowSeconds: 2, maxConcurrency: 7 } },
    pipelines: { 'wh-2': { stages: { delivery: { timeoutSeconds: 60, memoryMb: 512, maxReceiveCount: 3 } } } },
    api: { authorization: 'api-key', throttleRateLimit: 50, throttleBurstLimit: 100, wafWebAclArn: WEB_ACL },
    retention: { queueDays: 2, deadLetterDays: 7, logDays: 14 },
  });
  const stages = stagesInTemplate(json);
  const stage = (pipelineId: string, name: string) =>
    stages.find((s) => s.pipelineId === pipelineId && s.stage === name)!;

  it('batches packing by 50 with a 2 s window and at most 7 concurrent invocations, in every warehouse', () => {
    for (const pipelineId of ['wh-1', 'wh-2']) {
      const packing = stage(pipelineId, 'packing');
      expect(packing.mapping.Properties).toMatchObject({
        BatchSize: 50,
        MaximumBatchingWindowInSeconds: 2,
        ScalingConfig: { MaximumConcurrency: 7 },
      });
      // The derived visibility timeout follows: 6 × 30 s + 2 s.
      expect(packing.queue.Properties.VisibilityTimeout).toBe(182);
      expect(stage(pipelineId, 'picking').mapping.Properties).toMatchObject({
        BatchSize: 100,
        MaximumBatchingWindowInSeconds: 1,
        ScalingConfig: { MaximumConcurrency: 2 },
      });
    }
  });

  it('applies a per-warehouse override to that warehouse only', () => {
    const tuned = stage('wh-2', 'delivery');
    expect(tuned.function.Properties).toMatchObject({ Timeout: 60, MemorySize: 512 });
    expect(tuned.queue.Properties.VisibilityTimeout).toBe(361);
    expect(tuned.queue.Properties.RedrivePolicy.maxReceiveCount).toBe(3);
    expect(tuned.function.Properties.Environment.Variables.CONVEYOR_MAX_RECEIVE_COUNT).toBe('3');
    const untouched = stage('wh-1', 'delivery');
    expect(untouched.function.Properties).toMatchObject({ Timeout: 30, MemorySize: 256 });
    expect(untouched.queue.Properties.RedrivePolicy.maxReceiveCount).toBe(10);
  });

  it('tells every function that records orders the tracking level', () => {
    // The circuit breakers' function records no order (it writes only its own partition of the table).
    for (const [id, fn] of resourcesOf(json, 'AWS::Lambda::Function').filter(
      ([, f]) => f.Properties.Environment.Variables.CONVEYOR_BREAKERS === undefined,
    )) {
      expect(fn.Properties.Environment.Variables.CONVEYOR_TRACKING, id).toBe('terminal');
    }
  });

  it('applies retention to queues, dead letters and logs', () => {
    for (const s of stages) {
      expect(s.queue.Properties.MessageRetentionPeriod).toBe(2 * DAY);
      expect(json.Resources[s.deadLetterQueueId]!.Properties.MessageRetentionPeriod).toBe(7 * DAY);
    }
    for (const [id, group] of resourcesOf(json, 'AWS::Logs::LogGroup'))
      expect(group.Properties.RetentionInDays, id).toBe(14);
  });

  it('requires an API key on every method (cancel included), throttled by a usage plan, and publishes the key id', () => {
    const methods = resourcesOf(json, 'AWS::ApiGateway::Method');
    expect(methods.map(([id]) => id)).toEqual(expect.arrayContaining(stack.orderApi.methods.map((m) => logicalId(m))));
    expect(methods.map(([, m]) => m.Properties.HttpMethod)).toContain('DELETE');
    for (const [, method] of methods) {
      expect(method.Properties).toMatchObject({ AuthorizationType: 'NONE', ApiKeyRequired: true });
    }
    const [planId, plan] = onlyResourceOf(json, 'AWS::ApiGateway::UsagePlan');
    expect(plan.Properties.Throttle).toEqual({ RateLimit: 50, BurstLimit: 100 });
    expect(plan.Properties.ApiStages).toEqual([
      expect.objectContaining({
        ApiId: { Ref: logicalId(stack.orderApi.api) },
        Stage: { Ref: logicalId(stack.orderApi.api.deploymentStage) },
      }),
    ]);
    const [keyId] = onlyResourceOf(json, 'AWS::ApiGateway::ApiKey');
    template.hasResourceProperties('AWS::ApiGateway::UsagePlanKey', {
      KeyId: { Ref: keyId },
      UsagePlanId: { Ref: planId },
      KeyType: 'API_KEY',
    });
    expect(referencedId(json.Outputs.ApiKeyId!.Value)).toBe(keyId);
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 })],
    });
  });

  it('associates the WAF web ACL with the API stage', () => {
    const [, association] = onlyResourceOf(json, 'AWS::WAFv2::WebACLAssociation');
    expect(association.Properties.WebACLArn).toBe(WEB_ACL);
    expect(JSON.stringify(association.Properties.ResourceArn)).toContain(logicalId(stack.orderApi.api.deploymentStage));
  });
});

describe('a single warehouse, with the account log role managed elsewhere', () => {
  const { json } = synthConveyor({ warehouses: ['north-1'] }, { manageApiGatewayAccountLogRole: false });

  it('builds one pipeline and lists it in the topology manifest', () => {
    expect(stagesInTemplate(json)).toHaveLength(3);
    const manifest = JSON.parse(resolveCfn(json.Outputs[StackOutput.topology]!.Value, ({ logicalId }) => logicalId));
    expect(manifest.pipelines.map((p: { id: string }) => p.id)).toEqual(['north-1']);
  });

  it('leaves the account’s API Gateway logging role alone', () => {
    expect(resourcesOf(json, 'AWS::ApiGateway::Account')).toEqual([]);
    // The functions' own roles only: three stages, the intake, the dead-letter auditor, the circuit breakers'.
    expect(resourcesOf(json, 'AWS::IAM::Role')).toHaveLength(6);
  });
});

describe('invalid names', () => {
  it('rejects warehouses whose output names would collide, with a topology error', () => {
    const build = () =>
      new ConveyorStack(testApp(), 'Conveyor', { topology: loadTopology({ warehouses: ['wh-1', 'wh1'] }) });
    expect(build).toThrow(TopologyError);
    expect(build).toThrow(/"wh-1" and "wh1" both become "Wh1"/);
  });
});
