/** Small lookups over a `Topology`, shared by the CDK stack, the local runtime and the CLI. */
import type { Pipeline, Stage, StageName, Topology } from './model.ts';

/** Every stage of every pipeline, pipeline by pipeline, in flow order. */
export function allStages(topology: Topology): Stage[] {
  return topology.pipelines.flatMap((p) => p.stages);
}

/** The stage, or undefined when the pipeline or stage does not exist. */
export function findStage(topology: Topology, pipelineId: string, stage: StageName | string): Stage | undefined {
  return topology.pipelines.find((p) => p.id === pipelineId)?.stages.find((s) => s.name === stage);
}

/** The stage where orders of this pipeline enter. */
export function firstStage(pipeline: Pipeline): Stage {
  const first = pipeline.stages[0];
  if (!first) throw new Error(`pipeline ${pipeline.id} has no stages`);
  return first;
}

/** The stage after `stage` in its pipeline, or undefined for the last one. */
export function nextStageOf(topology: Topology, stage: Stage): Stage | undefined {
  return stage.next ? findStage(topology, stage.pipelineId, stage.next) : undefined;
}
