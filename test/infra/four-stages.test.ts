/**
 * Stages are data, in the cloud: `npx cdk synth -c conveyor="$(cat examples/four-stages.json)"` builds
 * wh-2's four stages and wh-1's three — a work queue and a DLQ per stage (7 + 7), the stages chained
 * in each warehouse's order, an alarm of every kind and a dashboard row per stage, and the manifest
 * the CLI reads listing each chain. Expectations come from the example file and the topology.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { readTopologyManifest, STAGE_ALARM_KINDS, StackOutput } from '../../lib/contract/index.ts';
import { stageAlarmName } from '../../lib/infra/alarms.ts';
import { allStages, loadTopology } from '../../lib/topology/index.ts';
import { cleanupAssemblies, resolveCfn, resourcesOf, stagesInTemplate, synthConveyor } from '../support/cdk-app.ts';

const example = JSON.parse(readFileSync(new URL('../../examples/four-stages.json', import.meta.url), 'utf8'));
const topology = loadTopology(example);
const { json, stack } = synthConveyor(example);
afterAll(cleanupAssemblies);

describe('examples/four-stages.json at synth', () => {
  const stages = allStages(topology);

  it('has a work queue and a dead-letter queue per stage: 4 in wh-2, 3 in wh-1', () => {
    expect(stages).toHaveLength(7);
    const inTemplate = stagesInTemplate(json);
    expect(inTemplate.map((s) => `${s.pipelineId}/${s.stage}`).sort()).toEqual(stages.map((s) => s.key).sort());
    expect(new Set(inTemplate.map((s) => s.queueId)).size).toBe(7);
    expect(new Set(inTemplate.map((s) => s.deadLetterQueueId)).size).toBe(7);
    expect(resourcesOf(json, 'AWS::SQS::Queue')).toHaveLength(14);
  });

  it('chains each warehouse in its own order', () => {
    const inTemplate = stagesInTemplate(json);
    for (const pipeline of topology.pipelines) {
      const chain = pipeline.stages.map(
        (s) => inTemplate.find((t) => t.pipelineId === pipeline.id && t.stage === s.name)!,
      );
      chain.forEach((s, i) => expect(s.nextQueueId, `${pipeline.id}/${s.stage}`).toBe(chain[i + 1]?.queueId));
    }
    expect(topology.pipelines.find((p) => p.id === 'wh-2')!.stages.map((s) => s.name)).toEqual(
      example.pipelines['wh-2'].chain,
    );
  });

  it('alarms on every kind for every stage, and gives every stage a row on the dashboard', () => {
    const alarmNames = new Set(
      resourcesOf(json, 'AWS::CloudWatch::Alarm').map(([, a]) =>
        resolveCfn(a.Properties.AlarmName, () => stack.stackName),
      ),
    );
    for (const stage of stages)
      for (const kind of STAGE_ALARM_KINDS)
        expect(alarmNames, `${stage.key} ${kind}`).toContain(stageAlarmName(stack.stackName, stage, kind));
    const dashboards = resourcesOf(json, 'AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(1);
    const body = resolveCfn(dashboards[0]![1].Properties.DashboardBody, () => 'x');
    for (const stage of stages) expect(body, stage.key).toContain(stage.key);
  });

  it('publishes each chain in the topology manifest', () => {
    const read = readTopologyManifest(
      resolveCfn(json.Outputs[StackOutput.topology]!.Value, ({ logicalId }) => logicalId),
    );
    if (!read.ok) throw new Error(read.problem);
    expect(read.manifest.pipelines.map((p) => [p.id, p.stages.map((s) => s.name)])).toEqual(
      topology.pipelines.map((p) => [p.id, p.stages.map((s) => s.name)]),
    );
  });
});

describe('examples/four-stages.json as a file', () => {
  it('is one line of JSON: the CDK CLI keeps only the first line of a -c value, so `-c conveyor="$(cat …)"` needs one', () => {
    const text = readFileSync(new URL('../../examples/four-stages.json', import.meta.url), 'utf8');
    expect(text.trimEnd().split('\n')).toHaveLength(1);
    expect(loadTopology(text.split('\n')[0])).toEqual(topology);
  });
});
