/**
 * The stack's outputs: a few stack-wide values and the topology manifest (lib/contract/manifest.ts)
 * — one JSON output listing every pipeline and stage with the resources `npx conveyor … --target
 * aws` acts on, and where the handlers' metrics are. One output however many warehouses, so the
 * outputs never near CloudFormation's 200.
 */
import { CfnOutput, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import {
  MANIFEST_VERSION,
  METRICS_NAMESPACE,
  StackOutput,
  type StageResourceKind,
  type TopologyManifest,
} from '../contract/index.ts';
import type { Topology } from '../topology/index.ts';
import type { PipelineStage } from './stage.ts';

export { StackOutput } from '../contract/index.ts';

/** `wh-1` → `Wh1`, `picking` → `Picking`: construct ids and logical ids are alphanumeric. */
export function pascalCase(id: string): string {
  return id
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}

/** The resources of one built stage, as the manifest lists them (tokens until deploy). */
function stageResources(built: PipelineStage): Record<StageResourceKind, string> {
  return {
    queueUrl: built.queue.queueUrl,
    queueArn: built.queue.queueArn,
    dlqUrl: built.deadLetterQueue.queueUrl,
    dlqArn: built.deadLetterQueue.queueArn,
    functionName: built.function.functionName,
    eventSourceMappingUuid: built.eventSourceMapping.eventSourceMappingId,
  };
}

/**
 * The manifest of a stack: every pipeline of the topology with its stages in flow order.
 * @param metricsService the `service` dimension the stack's functions emit their metrics under.
 * @param logGroups the log groups of the intake and the dead-letter auditor (log group names).
 * @param functions the stack-wide functions the CLI invokes (the circuit breakers').
 */
export function topologyManifest(
  topology: Topology,
  stages: ReadonlyMap<string, PipelineStage>,
  metricsService: string,
  logGroups: NonNullable<TopologyManifest['logGroups']>,
  functions: { breakerFunctionName?: string } = {},
): TopologyManifest {
  return {
    v: MANIFEST_VERSION,
    ...(functions.breakerFunctionName !== undefined ? { breakerFunctionName: functions.breakerFunctionName } : {}),
    metrics: { namespace: METRICS_NAMESPACE, service: metricsService },
    pipelines: topology.pipelines.map((pipeline) => ({
      id: pipeline.id,
      stages: pipeline.stages.map((stage) => {
        const built = stages.get(stage.key);
        if (!built) throw new Error(`stage ${stage.key} was not built`);
        return { name: stage.name, ...stageResources(built), logGroup: built.worker.logGroup.logGroupName };
      }),
    })),
    logGroups,
  };
}

/** Publishes the manifest as the `Topology` output (JSON, resolved at deploy). */
export function addTopologyManifestOutput(scope: Construct, manifest: TopologyManifest): CfnOutput {
  return new CfnOutput(scope, StackOutput.topology, {
    value: Stack.of(scope).toJsonString(manifest),
    description: 'Conveyor topology manifest: pipelines, stages and their resources, for `npx conveyor … --target aws`',
  });
}
