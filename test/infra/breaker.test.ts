/**
 * The circuit breakers at synth, read from the template by following references: a failure-rate
 * alarm per stage whose breaker is on, with the topology's threshold, minimum and window; one rule on
 * those alarms and one schedule, both invoking the breaker function; the function configured with
 * every stage's mapping and alarm, allowed exactly those mappings, alarms, its own table partition,
 * the topic and its key; its environment within Lambda's 4 KB for the largest topology; the manifest
 * naming it. Every expectation comes from the topology, the contract or the template.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BREAKER_METRICS,
  MAX_WAREHOUSES_PER_STACK,
  readTopologyManifest,
  RUNBOOK,
  stageMetricDimensions,
  StackOutput,
} from '../../lib/contract/index.ts';
import { STATUS_TABLE_ACTIONS } from '../../lib/infra/permissions.ts';
import { BREAKER_PARTITION } from '../../lib/operations/breaker-store.ts';
import {
  BREAKERS_VARIABLE_BUDGET_BYTES,
  breakersVariableBytes,
  LAMBDA_ENVIRONMENT_BYTES,
  readBreakerConfig,
} from '../../lib/runtime/breaker-environment.ts';
import { DEFAULT_CHAIN } from '../../lib/topology/defaults.ts';
import { allStages, findStage, loadTopology, TopologyError, type Topology } from '../../lib/topology/index.ts';
import {
  asList,
  cleanupAssemblies,
  fakeDeployedValue,
  grantsOf,
  logicalId,
  onlyResourceOf,
  referencedId,
  referencesIn,
  resolveCfn,
  resourcesOf,
  stagesInTemplate,
  synthConveyor,
  type CfnResource,
  type CfnTemplate,
} from '../support/cdk-app.ts';

afterAll(cleanupAssemblies);

const ALARM = 'AWS::CloudWatch::Alarm';

/** The breaker alarm of a stage: the metric-math alarm reading its Records (BREAKER_METRICS) with its dimensions. */
function breakerAlarmsOf(
  json: CfnTemplate,
  service: string,
  pipelineId: string,
  stage: string,
): [string, CfnResource][] {
  const dims = stageMetricDimensions(service, pipelineId, stage);
  return resourcesOf(json, ALARM).filter(([, alarm]) =>
    asList<Record<string, any>>(alarm.Properties.Metrics).some((m) => {
      const metric = m.MetricStat?.Metric;
      if (metric?.MetricName !== BREAKER_METRICS.records) return false;
      const found = Object.fromEntries(
        (metric.Dimensions as { Name: string; Value: string }[]).map((d) => [d.Name, d.Value]),
      );
      return (
        Object.keys(dims).length === Object.keys(found).length &&
        Object.entries(dims).every(([name, value]) => found[name] === value)
      );
    }),
  );
}

/** Evaluates the alarm's expression on one window's sums (CloudWatch's IF and FILL; a missing value is undefined). */
function evaluate(expression: string, values: Record<string, number | undefined>): number {
  const js = expression.replaceAll('IF(', '__if(').replaceAll('FILL(', '__fill(');
  const ids = Object.keys(values);
  const fn = new Function('__if', '__fill', ...ids, `return (${js});`) as (...args: unknown[]) => number;
  return fn(
    (c: boolean, a: number, b: number) => (c ? a : b),
    (v: number | undefined, fill: number) => v ?? fill,
    ...ids.map((id) => values[id]),
  );
}

/** Whether the alarm would be in ALARM for one window with these sums. */
function alarms(alarm: CfnResource, sums: { records?: number; failed?: number }): boolean {
  const metrics = alarm.Properties.Metrics as Record<string, any>[];
  const idOf = (name: string) => metrics.find((m) => m.MetricStat?.Metric.MetricName === name)!.Id as string;
  const expression = metrics.find((m) => m.ReturnData !== false)!.Expression as string;
  const value = evaluate(expression, {
    [idOf(BREAKER_METRICS.records)]: sums.records,
    [idOf(BREAKER_METRICS.failed)]: sums.failed,
  });
  expect(alarm.Properties.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
  return value >= alarm.Properties.Threshold;
}

function breakerFunction(json: CfnTemplate, functionName: unknown): [string, CfnResource] {
  const id = referencedId(functionName);
  return [id, json.Resources[id]!];
}

describe('a topology with a tuned breaker and a disabled one', () => {
  const overrides = {
    stages: {
      packing: { breaker: { failureRatePercent: 35, minimumRecords: 40, windowSeconds: 120 } },
      delivery: { breaker: { enabled: false } },
    },
  };
  const topology: Topology = loadTopology(overrides);
  const { stack, json } = synthConveyor(overrides);
  const service = stack.stackName;
  const [functionId, fn] = breakerFunction(json, { Ref: logicalId(stack.breakers.function) });
  const resolve = (value: unknown) =>
    resolveCfn(value, (reference) => fakeDeployedValue(json, stack.stackName, reference));

  it('gives every stage with its breaker on one failure-rate alarm with the topology’s threshold, minimum and window — and none to a disabled one', () => {
    for (const stage of allStages(topology)) {
      const found = breakerAlarmsOf(json, service, stage.pipelineId, stage.name);
      if (!stage.breaker.enabled) {
        expect(found, stage.key).toEqual([]);
        continue;
      }
      expect(found, stage.key).toHaveLength(1);
      const [, alarm] = found[0]!;
      const { failureRatePercent, minimumRecords, windowSeconds } = stage.breaker;
      expect(alarm.Properties).toMatchObject({
        Threshold: failureRatePercent,
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        TreatMissingData: 'notBreaching',
      });
      for (const m of (alarm.Properties.Metrics as Record<string, any>[]).filter((x) => x.MetricStat)) {
        expect(m.MetricStat, stage.key).toMatchObject({ Period: windowSeconds, Stat: 'Sum' });
        expect([BREAKER_METRICS.records, BREAKER_METRICS.failed]).toContain(m.MetricStat.Metric.MetricName);
      }
      // The rule of lib/contract/breaker.ts at its boundaries: the threshold with the minimum opens; one failure less, or one record less, does not.
      const atThreshold = (minimumRecords * failureRatePercent) / 100;
      expect(alarms(alarm, { records: minimumRecords, failed: Math.ceil(atThreshold) }), stage.key).toBe(true);
      expect(alarms(alarm, { records: minimumRecords, failed: Math.ceil(atThreshold) - 1 }), stage.key).toBe(false);
      expect(alarms(alarm, { records: minimumRecords - 1, failed: minimumRecords - 1 }), stage.key).toBe(false);
      expect(alarms(alarm, { records: minimumRecords, failed: undefined }), stage.key).toBe(false);
      expect(alarm.Properties.AlarmActions ?? [], stage.key).toEqual([]);
      expect(alarm.Properties.AlarmDescription, stage.key).toContain(`README '${RUNBOOK.circuitBreaker}'`);
    }
    expect(findStage(topology, 'wh-1', 'packing')!.breaker).toMatchObject(overrides.stages.packing.breaker);
    expect(readFileSync(new URL('../../README.md', import.meta.url), 'utf8')).toContain(
      `\n### ${RUNBOOK.circuitBreaker}\n`,
    );
  });

  it('wakes the function when a breaker alarm — and only a breaker alarm — goes to ALARM, and every minute', () => {
    const rules = resourcesOf(json, 'AWS::Events::Rule').filter(([, r]) =>
      asList<Record<string, any>>(r.Properties.Targets).some((t) => referencedId(t.Arn, 'Arn') === functionId),
    );
    const onAlarm = rules.filter(([, r]) => r.Properties.EventPattern);
    const scheduled = rules.filter(([, r]) => r.Properties.ScheduleExpression);
    expect(onAlarm).toHaveLength(1);
    expect(scheduled.map(([, r]) => r.Properties.ScheduleExpression)).toEqual(['rate(1 minute)']);
    const pattern = onAlarm[0]![1].Properties.EventPattern;
    expect(pattern).toMatchObject({
      source: ['aws.cloudwatch'],
      'detail-type': ['CloudWatch Alarm State Change'],
      detail: { state: { value: ['ALARM'] } },
    });
    const prefix = resolve(pattern.detail.alarmName[0].prefix);
    const breakerAlarmIds = new Set([...stack.breakers.alarms.values()].map((a) => logicalId(a)));
    for (const [id, alarm] of resourcesOf(json, ALARM))
      expect(resolve(alarm.Properties.AlarmName).startsWith(prefix), id).toBe(breakerAlarmIds.has(id));
    // EventBridge may invoke it: one permission per rule, for that rule.
    const permissions = resourcesOf(json, 'AWS::Lambda::Permission').filter(
      ([, p]) => referencedId(p.Properties.FunctionName, 'Arn') === functionId,
    );
    expect(permissions.map(([, p]) => p.Properties.Principal)).toEqual(rules.map(() => 'events.amazonaws.com'));
    expect(new Set(permissions.map(([, p]) => referencedId(p.Properties.SourceArn, 'Arn')))).toEqual(
      new Set(rules.map(([id]) => id)),
    );
  });

  it('configures the function with every stage’s mapping, alarm name and breaker settings, as its own reader reads them', () => {
    const env = Object.fromEntries(
      Object.entries(fn.Properties.Environment.Variables as Record<string, unknown>).map(([k, v]) => [k, resolve(v)]),
    );
    const config = readBreakerConfig(env);
    const inTemplate = stagesInTemplate(json);
    expect(config.stages.map((s) => s.key).sort()).toEqual(
      allStages(topology)
        .map((s) => s.key)
        .sort(),
    );
    for (const s of config.stages) {
      const stage = findStage(topology, s.pipelineId, s.stage)!;
      const mappingId = inTemplate.find((t) => t.pipelineId === s.pipelineId && t.stage === s.stage)!.mappingId;
      expect(s.mappingUuid).toBe(fakeDeployedValue(json, stack.stackName, { logicalId: mappingId }));
      expect(s.settings).toEqual(stage.breaker);
      expect(s.maxConcurrency).toBe(stage.maxConcurrency);
      const alarm = breakerAlarmsOf(json, service, s.pipelineId, s.stage)[0];
      if (alarm) expect(s.alarmName).toBe(resolve(alarm[1].Properties.AlarmName));
    }
    expect(config.metrics.service).toBe(service);
    expect(config.tableName).toBe(resolve({ Ref: onlyResourceOf(json, 'AWS::DynamoDB::Table')[0] }));
    expect(config.topicArn).toBe(resolve({ Ref: onlyResourceOf(json, 'AWS::SNS::Topic')[0] }));
  });

  it('lets the function switch exactly the stages’ mappings, find exactly the breaker alarms, keep its own partition, and notify the topic', () => {
    const grants = grantsOf(json, functionId);
    const role = json.Resources[referencedId(fn.Properties.Role, 'Arn')]!;
    const statements = asList<Record<string, any>>(role.Properties.Policies).flatMap((p) =>
      asList<Record<string, any>>(p.PolicyDocument.Statement),
    );
    const onResources = (action: string) =>
      statements.filter((st) => asList(st.Action).includes(action)).flatMap((st) => asList<unknown>(st.Resource));

    const mappingIds = stagesInTemplate(json)
      .map((s) => s.mappingId)
      .sort();
    for (const action of ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping']) {
      const arns = onResources(action);
      expect(arns.flatMap((arn) => [...referencesIn(arn)]).sort(), action).toEqual(mappingIds);
      for (const arn of arns) expect(resolve(arn)).toMatch(/^arn:aws:lambda:[a-z0-9-]+:\d{12}:event-source-mapping:/);
    }
    expect(
      onResources('cloudwatch:DescribeAlarms')
        .map((arn) => referencedId(arn, 'Arn'))
        .sort(),
    ).toEqual([...stack.breakers.alarms.values()].map((a) => logicalId(a)).sort());

    const tableId = onlyResourceOf(json, 'AWS::DynamoDB::Table')[0];
    const tableStatements = statements.filter((st) => asList<string>(st.Action).some((a) => a.startsWith('dynamodb:')));
    expect(tableStatements).toHaveLength(1);
    expect(asList(tableStatements[0]!.Action).sort()).toEqual([...STATUS_TABLE_ACTIONS.breaker].sort());
    expect(asList(tableStatements[0]!.Resource).map((r) => referencedId(r, 'Arn'))).toEqual([tableId]);
    expect(tableStatements[0]!.Condition).toEqual({
      'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [BREAKER_PARTITION] },
    });

    const [topicId] = onlyResourceOf(json, 'AWS::SNS::Topic');
    expect(onResources('sns:Publish')).toEqual([{ Ref: topicId }]);
    const keyId = referencedId(json.Resources[topicId]!.Properties.KmsMasterKeyId, 'Arn');
    for (const action of ['kms:GenerateDataKey', 'kms:Decrypt'])
      expect(
        onResources(action).map((r) => referencedId(r, 'Arn')),
        action,
      ).toEqual([keyId]);

    // Wildcards only where the service has no resource-level permissions.
    expect(
      grants
        .filter((g) => g.resource === '*')
        .map((g) => g.action)
        .sort(),
    ).toEqual(['cloudwatch:GetMetricData', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });

  it('names the function in the topology manifest the CLI reads', () => {
    const read = readTopologyManifest(resolve(json.Outputs[StackOutput.topology]!.Value));
    if (!read.ok) throw new Error(read.problem);
    expect(read.manifest.breakerFunctionName).toBe(fakeDeployedValue(json, stack.stackName, { logicalId: functionId }));
  });
});

describe('examples/four-stages.json', () => {
  const example = JSON.parse(readFileSync(new URL('../../examples/four-stages.json', import.meta.url), 'utf8'));
  const topology = loadTopology(example);
  const { stack, json } = synthConveyor(example);

  it('has a breaker alarm for each of its stages, and the function knows them all', () => {
    const stages = allStages(topology);
    for (const stage of stages)
      expect(breakerAlarmsOf(json, stack.stackName, stage.pipelineId, stage.name), stage.key).toHaveLength(1);
    expect(stack.breakers.alarms.size).toBe(stages.length);
    const fn = json.Resources[logicalId(stack.breakers.function)]!;
    const env = Object.fromEntries(
      Object.entries(fn.Properties.Environment.Variables as Record<string, unknown>).map(([k, v]) => [
        k,
        resolveCfn(v, (r) => fakeDeployedValue(json, stack.stackName, r)),
      ]),
    );
    expect(
      readBreakerConfig(env)
        .stages.map((s) => s.key)
        .sort(),
    ).toEqual(stages.map((s) => s.key).sort());
  });
});

describe('the largest topology the loader accepts', () => {
  const LONGEST_STACK_NAME = `C${'x'.repeat(127)}`;
  // Warehouse ids as long as the loader allows (20 characters).
  const warehouses = Array.from(
    { length: MAX_WAREHOUSES_PER_STACK },
    (_, i) => `w${'x'.repeat(16)}-${String(i + 1).padStart(2, '0')}`,
  );
  const { json, stack } = synthConveyor({ warehouses }, { stackName: LONGEST_STACK_NAME });

  it('keeps the breaker function’s environment within Lambda’s 4 KB, with names as long as AWS makes them', () => {
    // Lambda's quota: 4 KB for all environment variables of a function. Physical names at their longest:
    // a mapping UUID is 36 characters; a table or topic name CloudFormation generates may reach 255 / 256.
    const longest = ({ logicalId: id, attribute }: { logicalId: string; attribute?: string }): string => {
      const type = json.Resources[id]?.Type;
      if (type === 'AWS::Lambda::EventSourceMapping') return '0'.repeat(36);
      if (type === 'AWS::DynamoDB::Table') return 't'.repeat(255);
      if (type === 'AWS::SNS::Topic') return `arn:aws-us-gov:sns:us-gov-west-1:123456789012:${'n'.repeat(256)}`;
      return fakeDeployedValue(json, stack.stackName, { logicalId: id, ...(attribute ? { attribute } : {}) });
    };
    const fn = json.Resources[logicalId(stack.breakers.function)]!;
    const env = Object.fromEntries(
      Object.entries(fn.Properties.Environment.Variables as Record<string, unknown>).map(([k, v]) => [
        k,
        resolveCfn(v, longest),
      ]),
    );
    expect(readBreakerConfig(env).stages).toHaveLength(allStages(loadTopology({ warehouses })).length);
    expect(Buffer.byteLength(JSON.stringify(env))).toBeLessThanOrEqual(LAMBDA_ENVIRONMENT_BYTES);
  });

  it('is refused at synth when its stages have so many different breaker settings that they would not fit, saying what to do', () => {
    const pipelines = Object.fromEntries(
      warehouses.map((id, w) => [
        id,
        {
          stages: Object.fromEntries(
            DEFAULT_CHAIN.map((name, i) => [name, { breaker: { openSeconds: 60 + w * DEFAULT_CHAIN.length + i } }]),
          ),
        },
      ]),
    );
    const crowded = { warehouses, pipelines };
    expect(breakersVariableBytes(loadTopology(crowded))).toBeGreaterThan(BREAKERS_VARIABLE_BUDGET_BYTES);
    expect(() => synthConveyor(crowded)).toThrow(TopologyError);
    expect(() => synthConveyor(crowded)).toThrow(
      /different breaker settings need \d+ bytes of the breaker function's environment, but \d+ fit in Lambda's 4 KB; give more stages the same breaker settings/,
    );
    expect(breakersVariableBytes(loadTopology({ warehouses }))).toBeLessThanOrEqual(BREAKERS_VARIABLE_BUDGET_BYTES);
  });
});
