/**
 * The environment contract between the deployer (CDK stack or local runtime) and the handlers.
 * Builders and readers live together so the two sides cannot drift apart.
 */
import * as z from 'zod/mini';
import { API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS, LOCAL_SERVICE_NAME, METRICS_NAMESPACE } from '../contract/index.ts';
import { sdkTimeouts, UNBUDGETED, type SdkTimeouts } from '../aws/clients.ts';
import { NO_CHAOS, parseChaos, type ChaosEffects } from './chaos.ts';
import {
  STAGE_NAME_PATTERN,
  TRACKING_LEVELS,
  type Stage,
  type Topology,
  type TrackingLevel,
  type StageName,
} from '../topology/model.ts';

/** Thrown at handler start-up when its environment is missing or malformed. */
export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

/** The service name of a deployment unless told otherwise: logs' `service` key and metrics' `service` dimension. */
export const DEFAULT_SERVICE_NAME = LOCAL_SERVICE_NAME;

/**
 * Seconds within which a function must answer its caller — the intake's timeout, under API
 * Gateway's 29 s — so its SDK clients size every call to fit (lib/aws/clients.ts).
 */
export const ANSWER_WITHIN_VARIABLE = 'CONVEYOR_ANSWER_WITHIN_SECONDS';

/** Environment shared by every Conveyor function. */
function commonEnvironment(
  topology: Topology,
  tableName: string,
  serviceName = DEFAULT_SERVICE_NAME,
): Record<string, string> {
  return {
    CONVEYOR_STATUS_TABLE: tableName,
    CONVEYOR_TRACKING: topology.tracking,
    // One per deployment (the stack name in the cloud), so deployments never mix their metrics.
    POWERTOOLS_SERVICE_NAME: serviceName,
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
  };
}

export interface StageResources {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  /** Absent for the last stage of a pipeline. */
  readonly nextQueueUrl?: string;
  readonly tableName: string;
  /** The deployment's service name (metrics dimension, log key). */
  readonly serviceName?: string;
}

/** The environment of one stage function. */
export function stageEnvironment(topology: Topology, stage: Stage, resources: StageResources): Record<string, string> {
  return {
    ...commonEnvironment(topology, resources.tableName, resources.serviceName),
    CONVEYOR_PIPELINE: stage.pipelineId,
    CONVEYOR_STAGE: stage.name,
    // The handler module the stage runs: a module deployed with another stage's configuration refuses to start.
    CONVEYOR_HANDLER: stage.handler,
    // Positions number a pipeline's stages from 1 (the intake is 0): the ledger orders facts by them.
    CONVEYOR_STAGE_POSITION: String(stage.index + 1),
    ...(stage.next ? { CONVEYOR_NEXT_STAGE: stage.next } : {}),
    CONVEYOR_BATCHING_WINDOW_SECONDS: String(stage.maxBatchingWindowSeconds),
    CONVEYOR_QUEUE_URL: resources.queueUrl,
    CONVEYOR_DLQ_URL: resources.deadLetterQueueUrl,
    ...(resources.nextQueueUrl ? { CONVEYOR_NEXT_QUEUE_URL: resources.nextQueueUrl } : {}),
    CONVEYOR_MAX_RECEIVE_COUNT: String(stage.maxReceiveCount),
    CONVEYOR_BACKOFF_BASE_SECONDS: String(stage.backoff.baseSeconds),
    CONVEYOR_BACKOFF_CAP_SECONDS: String(stage.backoff.capSeconds),
  };
}

export interface IntakeResources {
  readonly tableName: string;
  /** The deployment's service name (metrics dimension, log key). */
  readonly serviceName?: string;
  /** First-stage queue URL per warehouse id. */
  readonly entryQueueUrls: Readonly<Record<string, string>>;
}

/**
 * The environment of the intake function.
 * @param toJson how to serialise the queue map; the CDK stack passes `stack.toJsonString` so tokens resolve.
 */
export function intakeEnvironment(
  topology: Topology,
  resources: IntakeResources,
  toJson: (value: unknown) => string = JSON.stringify,
): Record<string, string> {
  return {
    ...commonEnvironment(topology, resources.tableName, resources.serviceName),
    [ANSWER_WITHIN_VARIABLE]: String(Math.min(topology.intake.timeoutSeconds, API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS)),
    CONVEYOR_ENTRY_QUEUES: toJson(resources.entryQueueUrls),
    CONVEYOR_ENTRY_STAGES: JSON.stringify(Object.fromEntries(topology.pipelines.map((p) => [p.id, p.stages[0]?.name]))),
  };
}

export interface AuditorResources {
  readonly tableName: string;
  readonly serviceName?: string;
  /** Dead-letter queue URL per stage key (`wh-1/picking`). */
  readonly deadLetterQueueUrls: Readonly<Record<string, string>>;
}

/**
 * The environment of the dead-letter auditor: every stage's DLQ with what the auditor must know of it.
 * @param toJson how to serialise; the CDK stack passes `stack.toJsonString` so queue URL tokens resolve.
 */
export function auditorEnvironment(
  topology: Topology,
  resources: AuditorResources,
  toJson: (value: unknown) => string = JSON.stringify,
): Record<string, string> {
  const queues = topology.pipelines.flatMap((p) =>
    p.stages.map((s) => ({
      pipelineId: p.id,
      stage: s.name,
      position: s.index + 1,
      maxReceiveCount: s.maxReceiveCount,
      deadLetterQueueUrl: resources.deadLetterQueueUrls[s.key],
    })),
  );
  return {
    ...commonEnvironment(topology, resources.tableName, resources.serviceName),
    CONVEYOR_DEAD_LETTER_QUEUES: toJson(queues),
  };
}

const text = z.string().check(z.minLength(1, { error: 'must not be empty' }));
const count = z.coerce
  .number()
  .check(z.int({ error: 'must be a whole number ≥ 1' }), z.minimum(1, { error: 'must be a whole number ≥ 1' }));
const seconds = z.coerce
  .number()
  .check(z.int({ error: 'must be a whole number ≥ 0' }), z.minimum(0, { error: 'must be a whole number ≥ 0' }));
const tracking = z.enum(TRACKING_LEVELS, { error: `must be one of ${TRACKING_LEVELS.join(', ')}` });

const StageEnv = z.object({
  CONVEYOR_PIPELINE: text,
  CONVEYOR_STAGE: z
    .string()
    .check(z.regex(STAGE_NAME_PATTERN, { error: 'must be a stage name (lowercase letters, digits, dashes)' })),
  CONVEYOR_HANDLER: text,
  CONVEYOR_STAGE_POSITION: count,
  CONVEYOR_NEXT_STAGE: z.optional(text),
  CONVEYOR_BATCHING_WINDOW_SECONDS: seconds,
  CONVEYOR_QUEUE_URL: z.url({ error: 'must be a queue URL' }),
  CONVEYOR_DLQ_URL: z.url({ error: 'must be a queue URL' }),
  CONVEYOR_NEXT_QUEUE_URL: z.optional(z.url({ error: 'must be a queue URL' })),
  CONVEYOR_STATUS_TABLE: text,
  CONVEYOR_TRACKING: tracking,
  CONVEYOR_MAX_RECEIVE_COUNT: count,
  CONVEYOR_BACKOFF_BASE_SECONDS: count,
  CONVEYOR_BACKOFF_CAP_SECONDS: count,
});

const IntakeEnv = z.object({
  CONVEYOR_STATUS_TABLE: text,
  CONVEYOR_TRACKING: tracking,
  CONVEYOR_ENTRY_QUEUES: text,
  CONVEYOR_ENTRY_STAGES: text,
});

/** A stage function's configuration, read from its environment. */
export interface StageConfig {
  readonly pipelineId: string;
  readonly stage: StageName;
  /** The stage's place in its pipeline, from 1. */
  readonly position: number;
  /** The stage it forwards to; absent for the last stage. */
  readonly nextStage?: string;
  /** How long the event source may hold a record before invoking (part of its time since the receive). */
  readonly batchingWindowSeconds: number;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly nextQueueUrl?: string;
  readonly tableName: string;
  readonly tracking: TrackingLevel;
  readonly maxReceiveCount: number;
  readonly backoff: { readonly baseSeconds: number; readonly capSeconds: number };
  /** Injected faults (CONVEYOR_CHAOS); none unless set. */
  readonly chaos: ChaosEffects;
}

export interface IntakeConfig {
  readonly tableName: string;
  readonly tracking: TrackingLevel;
  readonly entryQueueUrls: ReadonlyMap<string, string>;
  /** First stage per warehouse id (where an accepted order waits). */
  readonly entryStages: ReadonlyMap<string, string>;
}

function parseEnv<S extends z.ZodMiniType>(schema: S, env: NodeJS.ProcessEnv, who: string): z.infer<S> {
  const parsed = z.safeParse(schema, env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map(
    (i) => `${i.path.join('.')} ${i.code === 'invalid_type' && i.input === undefined ? 'is not set' : i.message}`,
  );
  throw new ConfigurationError(`${who} is misconfigured: environment variable ${problems.join('; ')}`);
}

/** Reads a stage function's configuration; throws ConfigurationError naming each bad variable. */
export function readStageConfig(expectedStage: StageName, env: NodeJS.ProcessEnv = process.env): StageConfig {
  const e = parseEnv(StageEnv, env, `the ${expectedStage} handler`);
  if (e.CONVEYOR_HANDLER !== expectedStage) {
    throw new ConfigurationError(
      `the ${expectedStage} handler is misconfigured: CONVEYOR_HANDLER is "${e.CONVEYOR_HANDLER}" (stage ${e.CONVEYOR_STAGE})`,
    );
  }
  // The last stage of its pipeline forwards nowhere: the next stage's name and queue come together, or not at all.
  if (Boolean(e.CONVEYOR_NEXT_QUEUE_URL) !== Boolean(e.CONVEYOR_NEXT_STAGE)) {
    const missing = e.CONVEYOR_NEXT_QUEUE_URL ? 'CONVEYOR_NEXT_STAGE' : 'CONVEYOR_NEXT_QUEUE_URL';
    throw new ConfigurationError(
      `the ${expectedStage} handler is misconfigured: environment variable ${missing} is not set (CONVEYOR_NEXT_QUEUE_URL and CONVEYOR_NEXT_STAGE come together; neither for a pipeline's last stage)`,
    );
  }
  let chaos: ChaosEffects;
  try {
    chaos = parseChaos(env.CONVEYOR_CHAOS).get(e.CONVEYOR_STAGE) ?? NO_CHAOS;
  } catch (error) {
    throw new ConfigurationError(`the ${expectedStage} handler is misconfigured: ${(error as Error).message}`);
  }
  if (e.CONVEYOR_BACKOFF_CAP_SECONDS < e.CONVEYOR_BACKOFF_BASE_SECONDS) {
    throw new ConfigurationError(
      `the ${expectedStage} handler is misconfigured: CONVEYOR_BACKOFF_CAP_SECONDS is below CONVEYOR_BACKOFF_BASE_SECONDS`,
    );
  }
  return {
    pipelineId: e.CONVEYOR_PIPELINE,
    stage: e.CONVEYOR_STAGE,
    position: e.CONVEYOR_STAGE_POSITION,
    ...(e.CONVEYOR_NEXT_STAGE ? { nextStage: e.CONVEYOR_NEXT_STAGE } : {}),
    batchingWindowSeconds: e.CONVEYOR_BATCHING_WINDOW_SECONDS,
    queueUrl: e.CONVEYOR_QUEUE_URL,
    deadLetterQueueUrl: e.CONVEYOR_DLQ_URL,
    ...(e.CONVEYOR_NEXT_QUEUE_URL ? { nextQueueUrl: e.CONVEYOR_NEXT_QUEUE_URL } : {}),
    tableName: e.CONVEYOR_STATUS_TABLE,
    tracking: e.CONVEYOR_TRACKING,
    maxReceiveCount: e.CONVEYOR_MAX_RECEIVE_COUNT,
    backoff: { baseSeconds: e.CONVEYOR_BACKOFF_BASE_SECONDS, capSeconds: e.CONVEYOR_BACKOFF_CAP_SECONDS },
    chaos,
  };
}

export interface AuditorConfig {
  readonly tableName: string;
  readonly queues: readonly {
    pipelineId: string;
    stage: string;
    position: number;
    maxReceiveCount: number;
    deadLetterQueueUrl: string;
  }[];
}

const AuditedQueues = z.array(
  z.object({
    pipelineId: text,
    stage: text,
    position: count,
    maxReceiveCount: count,
    deadLetterQueueUrl: z.url({ error: 'must be a queue URL' }),
  }),
);

/** Reads the dead-letter auditor's configuration; throws ConfigurationError naming what is wrong. */
export function readAuditorConfig(env: NodeJS.ProcessEnv = process.env): AuditorConfig {
  const e = parseEnv(
    z.object({ CONVEYOR_STATUS_TABLE: text, CONVEYOR_DEAD_LETTER_QUEUES: text }),
    env,
    'the dead-letter auditor',
  );
  let queues: unknown;
  try {
    queues = JSON.parse(e.CONVEYOR_DEAD_LETTER_QUEUES);
  } catch {
    throw new ConfigurationError('the dead-letter auditor is misconfigured: CONVEYOR_DEAD_LETTER_QUEUES is not JSON');
  }
  const parsed = z.safeParse(AuditedQueues, queues);
  if (!parsed.success || parsed.data.length === 0) {
    throw new ConfigurationError(
      'the dead-letter auditor is misconfigured: CONVEYOR_DEAD_LETTER_QUEUES must list every stage with its dead-letter queue URL',
    );
  }
  return { tableName: e.CONVEYOR_STATUS_TABLE, queues: parsed.data };
}

/** Reads the intake function's configuration; throws ConfigurationError naming each bad variable. */
export function readIntakeConfig(env: NodeJS.ProcessEnv = process.env): IntakeConfig {
  const e = parseEnv(IntakeEnv, env, 'the intake handler');
  let queues: unknown;
  try {
    queues = JSON.parse(e.CONVEYOR_ENTRY_QUEUES);
  } catch {
    throw new ConfigurationError('the intake handler is misconfigured: CONVEYOR_ENTRY_QUEUES is not JSON');
  }
  const parsed = z.safeParse(z.record(z.string(), z.url()), queues);
  if (!parsed.success || Object.keys(parsed.data).length === 0) {
    throw new ConfigurationError(
      'the intake handler is misconfigured: CONVEYOR_ENTRY_QUEUES must map each warehouse id to its first queue URL',
    );
  }
  let stages: unknown;
  try {
    stages = JSON.parse(e.CONVEYOR_ENTRY_STAGES);
  } catch {
    throw new ConfigurationError('the intake handler is misconfigured: CONVEYOR_ENTRY_STAGES is not JSON');
  }
  const entryStages = z.safeParse(z.record(z.string(), text), stages);
  if (!entryStages.success || Object.keys(parsed.data).some((id) => !(id in entryStages.data))) {
    throw new ConfigurationError(
      'the intake handler is misconfigured: CONVEYOR_ENTRY_STAGES must map each warehouse id to its first stage',
    );
  }
  return {
    tableName: e.CONVEYOR_STATUS_TABLE,
    tracking: e.CONVEYOR_TRACKING,
    entryQueueUrls: new Map(Object.entries(parsed.data)),
    entryStages: new Map(Object.entries(entryStages.data)),
  };
}

/**
 * The SDK timeouts of this function: sized by `sdkTimeouts` when its deployer set the time it must
 * answer within (ANSWER_WITHIN_VARIABLE: the intake behind API Gateway), the unbudgeted ones otherwise.
 * @throws ConfigurationError when the variable is set but not a whole number of seconds ≥ 1.
 */
export function sdkTimeoutsOf(env: NodeJS.ProcessEnv = process.env): SdkTimeouts {
  const raw = env[ANSWER_WITHIN_VARIABLE];
  if (raw === undefined) return UNBUDGETED;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 1) {
    throw new ConfigurationError(
      `the function is misconfigured: ${ANSWER_WITHIN_VARIABLE} must be a whole number of seconds ≥ 1, got ${JSON.stringify(raw)}`,
    );
  }
  return sdkTimeouts(seconds);
}
