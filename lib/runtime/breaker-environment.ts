/**
 * The environment contract between the CDK stack and the breaker function (handlers/breaker.ts):
 * the builder the stack calls and the reader the function calls, together so they cannot drift.
 *
 * Lambda allows 4 KB of environment in all, and a stack may hold dozens of stages: each stage is one
 * `"warehouse/stage": ["<mapping UUID>", maxConcurrency, settings index]` entry, the distinct breaker
 * settings are listed once (one in the default topology), and alarm names are derived from one
 * prefix. A topology whose breakers would not fit is refused at synth (lib/infra/breaker.ts).
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

/** `CONVEYOR_BREAKERS`: the distinct breaker settings, and per stage its mapping UUID, maximum concurrency and settings. */
interface BreakersVariable {
  readonly settings: BreakerSettings[];
  readonly stages: Record<string, [mappingUuid: string, maxConcurrency: number, settings: number]>;
}

function breakersVariable(topology: Topology, mappingUuid: (stageKey: string) => string): BreakersVariable {
  const settings: BreakerSettings[] = [];
  const stages: BreakersVariable['stages'] = {};
  for (const stage of topology.pipelines.flatMap((p) => p.stages)) {
    let index = settings.findIndex((known) => JSON.stringify(known) === JSON.stringify(stage.breaker));
    if (index < 0) index = settings.push(stage.breaker) - 1;
    stages[stage.key] = [mappingUuid(stage.key), stage.maxConcurrency, index];
  }
  return { settings, stages };
}

/**
 * The breaker function's environment.
 * @param toJson how to serialise; the CDK stack passes `stack.toJsonString` so the UUID tokens resolve.
 */
export function breakerEnvironment(
  topology: Topology,
  resources: BreakerResources,
  toJson: (value: unknown) => string = JSON.stringify,
): Record<string, string> {
  const breakers = breakersVariable(topology, (key) => {
    const uuid = resources.mappingUuids[key];
    if (uuid === undefined) throw new Error(`no event source mapping for stage ${key}`);
    return uuid;
  });
  return {
    CONVEYOR_STATUS_TABLE: resources.tableName,
    CONVEYOR_ALARM_TOPIC_ARN: resources.topicArn,
    CONVEYOR_STACK_NAME: resources.stackName,
    CONVEYOR_BREAKER_ALARM_PREFIX: breakerAlarmPrefix(resources.namePrefix),
    CONVEYOR_BREAKERS: toJson(breakers),
    POWERTOOLS_SERVICE_NAME: resources.serviceName ?? DEFAULT_SERVICE_NAME,
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
  };
}

/** Lambda's limit on a function's environment variables, all together. */
export const LAMBDA_ENVIRONMENT_BYTES = 4_096;
/**
 * Kept for the other variables at their longest: a table name (255) and a topic ARN (~320) as
 * CloudFormation may generate them, the stack name three times (128 each), names and punctuation.
 */
const OTHER_VARIABLES_BYTES = 1_200;
/** What `CONVEYOR_BREAKERS` may take of Lambda's 4 KB. */
export const BREAKERS_VARIABLE_BUDGET_BYTES = LAMBDA_ENVIRONMENT_BYTES - OTHER_VARIABLES_BYTES;
/** A Lambda event source mapping's UUID. */
const UUID_LENGTH = 36;

/** The size `CONVEYOR_BREAKERS` will have once deployed (mapping UUIDs are 36 characters), for the stack's check at synth. */
export function breakersVariableBytes(topology: Topology): number {
  return Buffer.byteLength(JSON.stringify(breakersVariable(topology, () => '0'.repeat(UUID_LENGTH))));
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
const BreakersVariableSchema = z.object({
  settings: z
    .array(
      z.object({
        enabled: z.boolean(),
        failureRatePercent: whole(1),
        minimumRecords: whole(1),
        windowSeconds: whole(60),
        openSeconds: whole(1),
        probeRecords: whole(1),
      }),
    )
    .check(z.minLength(1)),
  stages: z.record(z.string().check(z.regex(/^[^/]+\/[^/]+$/)), z.tuple([text, whole(2), whole(0)])),
});
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
  const parsed2 = z.safeParse(BreakersVariableSchema, raw);
  const breakers = parsed2.success ? parsed2.data : undefined;
  if (!breakers || Object.values(breakers.stages).some(([, , index]) => breakers.settings[index] === undefined)) {
    throw new ConfigurationError(
      'the breaker function is misconfigured: CONVEYOR_BREAKERS must list every stage with its event source mapping, maximum concurrency and breaker settings',
    );
  }
  const stages = Object.entries(breakers.stages).map(([key, [mappingUuid, maxConcurrency, index]]) => {
    const [pipelineId, stage] = key.split('/') as [string, string];
    return {
      key,
      pipelineId,
      stage,
      mappingUuid,
      alarmName: alarmNameAfter(e.CONVEYOR_BREAKER_ALARM_PREFIX, pipelineId, stage),
      maxConcurrency,
      settings: breakers.settings[index]!,
    };
  });
  return {
    tableName: e.CONVEYOR_STATUS_TABLE,
    topicArn: e.CONVEYOR_ALARM_TOPIC_ARN,
    stackName: e.CONVEYOR_STACK_NAME,
    alarmPrefix: e.CONVEYOR_BREAKER_ALARM_PREFIX,
    metrics: {
      namespace: env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
      service: env.POWERTOOLS_SERVICE_NAME ?? DEFAULT_SERVICE_NAME,
    },
    stages,
  };
}
