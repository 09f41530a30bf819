/**
 * The environment contract between the CDK stack and the breaker function (handlers/breaker.ts):
 * the builder the stack calls and the reader the function calls, together so they cannot drift.
 *
 * Lambda allows 4 KB of environment in all, and a stack may hold dozens of stages: stages are grouped
 * by their breaker settings and maximum concurrency (one group in the default topology), each stage
 * is one `"warehouse/stage": "<mapping UUID>"` pair, and alarm names are derived from one prefix.
 */
import * as z from 'zod/mini';
import { METRICS_NAMESPACE } from '../contract/metrics.ts';
import type { BreakerStage } from '../operations/circuit-breakers.ts';
import type { BreakerSettings, Stage, Topology } from '../topology/model.ts';
import { ConfigurationError, DEFAULT_SERVICE_NAME } from './environment.ts';

/**
 * The breaker alarms' names start with this: the stack's name prefix (alarm names are unique per
 * account and region) and `-breaker-`, so one EventBridge pattern finds them all.
 */
export function breakerAlarmPrefix(namePrefix: string): string {
  return `${namePrefix}-breaker-`;
}

/** `Conveyor-breaker-wh-1-packing`: a stage's failure-rate alarm. */
export function breakerAlarmName(namePrefix: string, stage: Pick<Stage, 'pipelineId' | 'name'>): string {
  return alarmNameAfter(breakerAlarmPrefix(namePrefix), stage.pipelineId, stage.name);
}

function alarmNameAfter(alarmPrefix: string, pipelineId: string, stage: string): string {
  return `${alarmPrefix}${pipelineId}-${stage}`;
}

export interface BreakerResources {
  readonly tableName: string;
  /** The SNS topic state changes are published to. */
  readonly topicArn: string;
  /** The stack's name (named in notifications and in the commands they suggest). */
  readonly stackName: string;
  /** The prefix of alarm names (the stack name unless monitoring was given another). */
  readonly namePrefix: string;
  /** The deployment's service name: the `service` dimension of the stage metrics the breakers read. */
  readonly serviceName?: string;
  /** The event source mapping UUID of every stage, by stage key. */
  readonly mappingUuids: Readonly<Record<string, string>>;
}

interface BreakerGroup {
  readonly settings: BreakerSettings;
  readonly maxConcurrency: number;
  /** Stage key → mapping UUID. */
  readonly stages: Record<string, string>;
}

/**
 * The breaker function's environment.
 * @param toJson how to serialise; the CDK stack passes `stack.toJsonString` so the UUID tokens resolve.
 */
export function breakerEnvironment(topology: Topology, resources: BreakerResources, toJson: (value: unknown) => string = JSON.stringify): Record<string, string> {
  const groups = new Map<string, BreakerGroup>();
  for (const stage of topology.pipelines.flatMap((p) => p.stages)) {
    const id = JSON.stringify([stage.breaker, stage.maxConcurrency]);
    const group = groups.get(id) ?? { settings: stage.breaker, maxConcurrency: stage.maxConcurrency, stages: {} };
    const uuid = resources.mappingUuids[stage.key];
    if (uuid === undefined) throw new Error(`no event source mapping for stage ${stage.key}`);
    group.stages[stage.key] = uuid;
    groups.set(id, group);
  }
  return {
    CONVEYOR_STATUS_TABLE: resources.tableName,
    CONVEYOR_ALARM_TOPIC_ARN: resources.topicArn,
    CONVEYOR_STACK_NAME: resources.stackName,
    CONVEYOR_BREAKER_ALARM_PREFIX: breakerAlarmPrefix(resources.namePrefix),
    CONVEYOR_BREAKERS: toJson([...groups.values()]),
    POWERTOOLS_SERVICE_NAME: resources.serviceName ?? DEFAULT_SERVICE_NAME,
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
  };
}

export interface BreakerConfig {
  readonly tableName: string;
  readonly topicArn: string;
  readonly stackName: string;
  readonly alarmPrefix: string;
  /** Where the stage metrics are: namespace and `service` dimension. */
  readonly metrics: { readonly namespace: string; readonly service: string };
  readonly stages: readonly BreakerStage[];
}

const text = z.string().check(z.minLength(1, { error: 'must not be empty' }));
const whole = (min: number) => z.number().check(z.int(), z.minimum(min));
const Groups = z
  .array(
    z.object({
      settings: z.object({
        enabled: z.boolean(),
        failureRatePercent: whole(1),
        minimumRecords: whole(1),
        windowSeconds: whole(60),
        openSeconds: whole(1),
        probeRecords: whole(1),
      }),
      maxConcurrency: whole(2),
      stages: z.record(z.string().check(z.regex(/^[^/]+\/[^/]+$/)), text),
    }),
  )
  .check(z.minLength(1));
const Env = z.object({
  CONVEYOR_STATUS_TABLE: text,
  CONVEYOR_ALARM_TOPIC_ARN: text,
  CONVEYOR_STACK_NAME: text,
  CONVEYOR_BREAKER_ALARM_PREFIX: text,
  CONVEYOR_BREAKERS: text,
});

/** Reads the breaker function's configuration; throws ConfigurationError naming what is wrong. */
export function readBreakerConfig(env: NodeJS.ProcessEnv = process.env): BreakerConfig {
  const parsed = z.safeParse(Env, env);
  if (!parsed.success) {
    const missing = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
    throw new ConfigurationError(`the breaker function is misconfigured: environment variable ${missing} is not set`);
  }
  const e = parsed.data;
  let raw: unknown;
  try {
    raw = JSON.parse(e.CONVEYOR_BREAKERS);
  } catch {
    throw new ConfigurationError('the breaker function is misconfigured: CONVEYOR_BREAKERS is not JSON');
  }
  const groups = z.safeParse(Groups, raw);
  if (!groups.success) {
    throw new ConfigurationError('the breaker function is misconfigured: CONVEYOR_BREAKERS must list every stage with its event source mapping and breaker settings');
  }
  const stages = groups.data.flatMap((group) =>
    Object.entries(group.stages).map(([key, mappingUuid]) => {
      const [pipelineId, stage] = key.split('/') as [string, string];
      return { key, pipelineId, stage, mappingUuid, alarmName: alarmNameAfter(e.CONVEYOR_BREAKER_ALARM_PREFIX, pipelineId, stage), maxConcurrency: group.maxConcurrency, settings: group.settings };
    }),
  );
  return {
    tableName: e.CONVEYOR_STATUS_TABLE,
    topicArn: e.CONVEYOR_ALARM_TOPIC_ARN,
    stackName: e.CONVEYOR_STACK_NAME,
    alarmPrefix: e.CONVEYOR_BREAKER_ALARM_PREFIX,
    metrics: { namespace: env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE, service: env.POWERTOOLS_SERVICE_NAME ?? DEFAULT_SERVICE_NAME },
    stages,
  };
}
