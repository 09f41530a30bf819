/**
 * Builds the `Topology` from defaults plus user overrides (cdk.json context `conveyor`),
 * validating everything with zod. Errors name the field and the rule, e.g.
 * `stages.packing.batchSize 50 needs maxBatchingWindowSeconds ≥ 1`.
 */
import * as z from 'zod';
import {
  DEFAULT_API,
  DEFAULT_INTAKE,
  DEFAULT_RETENTION,
  DEFAULT_CHAIN,
  defaultStage,
  DEFAULT_TRACKING,
  DEFAULT_WAREHOUSES,
  type StageDefaults,
} from './defaults.ts';
import {
  API_AUTHORIZATIONS,
  STAGE_NAME_PATTERN,
  TRACKING_LEVELS,
  type Pipeline,
  type Stage,
  type Topology,
  SQS_MAX_VISIBILITY_SECONDS,
} from './model.ts';
import {
  largestBackoffCapSeconds,
  MAX_STAGES_PER_STACK,
  MAX_WAREHOUSES_PER_STACK,
  MIN_DEAD_LETTER_DAYS,
  RETRY_BUDGET_SHARE_OF_RETENTION,
  retryBudgetSeconds,
  VISIBILITY_LIMIT_MARGIN_SECONDS,
} from './limits.ts';

/** Thrown when the topology configuration is invalid; `issues` lists each problem with its field path. */
export class TopologyError extends Error {
  readonly issues: readonly string[];
  constructor(source: string, issues: readonly string[]) {
    super(`Invalid Conveyor topology (${source}):\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'TopologyError';
    this.issues = issues;
  }
}

/** SQS's longest message retention. */
const MAX_RETENTION_DAYS = 14;
const LONGEST_BACKOFF_SECONDS = largestBackoffCapSeconds({ timeoutSeconds: 1, maxBatchingWindowSeconds: 0 });

const CLOUDWATCH_LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** A warehouse id becomes part of queue and resource names: lowercase, digits and dashes. */
export const WAREHOUSE_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,18}[a-z0-9])?$/;

const int = (min: number, max: number) =>
  z
    .number({ error: (iss) => `must be a number, got ${describe(iss.input)}` })
    .int({ error: (iss) => `must be a whole number, got ${describe(iss.input)}` })
    .min(min, { error: (iss) => `must be from ${min} to ${max}, got ${describe(iss.input)}` })
    .max(max, { error: (iss) => `must be from ${min} to ${max}, got ${describe(iss.input)}` });

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : typeof value;
}

/** A strict object whose unknown keys are reported together with the keys it knows. */
function strictObject<S extends z.ZodRawShape>(shape: S) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys')
        return `unknown setting ${iss.keys.map((k) => `"${k}"`).join(', ')}; known settings: ${known}`;
      if (iss.code === 'invalid_type') return `must be an object, got ${describe(iss.input)}`;
      return undefined;
    },
  });
}

function oneOf<T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: (iss) => `must be one of ${values.join(', ')}, got ${describe(iss.input)}` });
}

const StageOverride = strictObject({
  handler: z
    .string()
    .regex(/^[a-z][a-z0-9-]*$/, { error: 'must name a module in handlers/ (lowercase letters, digits, dashes)' }),
  batchSize: int(1, 10_000),
  maxBatchingWindowSeconds: int(0, 300),
  maxConcurrency: int(2, 1000),
  memoryMb: int(128, 10_240),
  timeoutSeconds: int(1, 900),
  maxReceiveCount: int(1, 1000),
  // SQS's 12 hours, less the margin and the shortest time a record is held (a 1 s timeout): the most any
  // stage could honour. The rule across settings narrows it to what this stage can (largestBackoffCapSeconds).
  backoff: strictObject({
    baseSeconds: int(1, LONGEST_BACKOFF_SECONDS),
    capSeconds: int(1, LONGEST_BACKOFF_SECONDS),
  }).partial(),
  visibilityTimeoutSeconds: int(0, SQS_MAX_VISIBILITY_SECONDS),
  alarms: strictObject({
    maxAgeOfOldestMessageSeconds: int(60, 1_209_600),
    maxErrorRatePercent: z
      .number({ error: (iss) => `must be a number, got ${describe(iss.input)}` })
      .gt(0, { error: 'must be above 0 (a percentage of invocations)' })
      .max(100, { error: 'must be at most 100 (a percentage of invocations)' }),
    maxThrottles: int(0, 1_000_000),
    // CloudWatch standard-resolution alarm periods: 60 s and its multiples.
    periodSeconds: int(60, 86_400).refine((p) => p % 60 === 0, { error: 'must be a multiple of 60' }),
    evaluationPeriods: int(1, 100),
  }).partial(),
  breaker: strictObject({
    enabled: z.boolean({ error: (iss) => `must be true or false, got ${describe(iss.input)}` }),
    failureRatePercent: int(1, 100),
    minimumRecords: int(1, 10_000),
    // The failure-rate alarm's period in the cloud: a CloudWatch standard period.
    windowSeconds: int(60, 3_600).refine((p) => p % 60 === 0, { error: 'must be a multiple of 60' }),
    openSeconds: int(10, 86_400),
    probeRecords: int(1, 10_000),
  }).partial(),
}).partial();
type StageOverride = z.infer<typeof StageOverride>;

const StageNameSchema = z.string().regex(STAGE_NAME_PATTERN, {
  error: (iss) =>
    `stage name ${describe(iss.input)} must be 2–20 lowercase letters, digits or dashes, starting with a letter and not ending with a dash`,
});

/** Settings by stage name; which names exist is decided by the chains (checked after parsing). */
const StagesOverride = z.record(StageNameSchema, StageOverride, {
  // A badly formed key is reported with the stage-name rule (zod would otherwise give the record's type error).
  error: (iss) =>
    iss.code === 'invalid_key'
      ? iss.issues[0]?.message
      : `must be an object keyed by stage name, got ${describe(iss.input)}`,
});

/** An ordered chain of stage names: the stages an order of the pipeline passes through. */
const Chain = z
  .array(StageNameSchema, {
    error: (iss) => `must be a list of stage names, in the order orders pass them, got ${describe(iss.input)}`,
  })
  .min(1, { error: 'needs at least one stage' })
  .refine((chain) => new Set(chain).size === chain.length, {
    error: (iss) =>
      `lists a stage twice (${repeated(iss.input as string[]).join(', ')}); a stage comes once per pipeline`,
  });

const WarehouseId = z.string().regex(WAREHOUSE_ID_PATTERN, {
  error: (iss) =>
    `warehouse id ${describe(iss.input)} must be 1–20 lowercase letters, digits or dashes, not starting or ending with a dash`,
});

const TopologyInput = strictObject({
  warehouses: z
    .array(WarehouseId, { error: (iss) => `must be a list of warehouse ids, got ${describe(iss.input)}` })
    .min(1, { error: 'needs at least one warehouse' })
    // What truly fits one CloudFormation stack (test/infra/limits.test.ts synthesizes it with validation on).
    .max(MAX_WAREHOUSES_PER_STACK, {
      error:
        `supports at most ${MAX_WAREHOUSES_PER_STACK} warehouses per stack (every warehouse adds its queues, functions, roles and alarms to the 500 resources one CloudFormation stack holds); ` +
        `deploy the others as a second stack: npx cdk deploy -c stackName=Conveyor-2 -c conveyor='{"warehouses": [...]}'`,
    }),
  tracking: oneOf(TRACKING_LEVELS),
  alarms: strictObject({
    email: z.email({ error: 'must be an email address, e.g. "oncall@example.com"' }),
  }).partial(),
  chain: Chain,
  stages: StagesOverride,
  pipelines: z.record(z.string(), strictObject({ chain: Chain, stages: StagesOverride }).partial(), {
    error: (iss) => `must be an object keyed by warehouse id, got ${describe(iss.input)}`,
  }),
  api: strictObject({
    authorization: oneOf(API_AUTHORIZATIONS),
    throttleRateLimit: int(1, 10_000),
    throttleBurstLimit: int(1, 5_000),
    wafWebAclArn: z.string().regex(/^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional\/webacl\/.+$/, {
      error: 'must be the ARN of a regional WAFv2 web ACL (arn:aws:wafv2:<region>:<account>:regional/webacl/...)',
    }),
  }).partial(),
  intake: strictObject({ memoryMb: int(128, 10_240), timeoutSeconds: int(1, 29) }).partial(),
  retention: strictObject({
    // SQS keeps messages 1 minute to 14 days; dead letters must outlive queued work, a week at least.
    queueDays: int(1, MAX_RETENTION_DAYS - 1),
    deadLetterDays: int(MIN_DEAD_LETTER_DAYS, MAX_RETENTION_DAYS),
    logDays: z.number().refine((d) => (CLOUDWATCH_LOG_RETENTION_DAYS as readonly number[]).includes(d), {
      error: `must be one of CloudWatch's retention periods: ${CLOUDWATCH_LOG_RETENTION_DAYS.join(', ')}`,
    }),
  }).partial(),
}).partial();
export type TopologyInput = z.infer<typeof TopologyInput>;

function mergeStage(base: StageDefaults, override: StageOverride | undefined): StageDefaults {
  if (!override) return base;
  const { backoff, alarms, breaker, ...rest } = override;
  return {
    ...base,
    ...rest,
    backoff: { ...base.backoff, ...backoff },
    alarms: { ...base.alarms, ...alarms },
    breaker: { ...base.breaker, ...breaker },
  };
}

/** The visibility timeout AWS recommends for an SQS event source: 6 × function timeout + batching window. */
export function minimumVisibilitySeconds(
  s: Pick<StageDefaults, 'timeoutSeconds' | 'maxBatchingWindowSeconds'>,
): number {
  return 6 * s.timeoutSeconds + s.maxBatchingWindowSeconds;
}

/** Cross-field rules of one stage's effective settings; `at` is where the user configures it. */
function stageRuleViolations(at: string, s: StageDefaults, retention: { readonly queueDays: number }): string[] {
  const issues: string[] = [];
  if (s.batchSize > 10 && s.maxBatchingWindowSeconds < 1) {
    issues.push(
      `${at}.batchSize ${s.batchSize} needs maxBatchingWindowSeconds ≥ 1 (SQS event sources allow batches above 10 only with a batching window)`,
    );
  }
  if (s.backoff.capSeconds < s.backoff.baseSeconds) {
    issues.push(
      `${at}.backoff.capSeconds ${s.backoff.capSeconds} must be ≥ backoff.baseSeconds ${s.backoff.baseSeconds}`,
    );
  }
  const minimum = minimumVisibilitySeconds(s);
  if (s.visibilityTimeoutSeconds !== undefined && s.visibilityTimeoutSeconds < minimum) {
    issues.push(
      `${at}.visibilityTimeoutSeconds ${s.visibilityTimeoutSeconds} must be ≥ 6 × timeoutSeconds + maxBatchingWindowSeconds = ${minimum}, or a slow batch is delivered twice`,
    );
  }
  const largestCap = largestBackoffCapSeconds(s);
  if (s.backoff.capSeconds > largestCap) {
    issues.push(
      `${at}.backoff.capSeconds ${s.backoff.capSeconds} cannot be honoured: SQS keeps a message invisible at most 12 hours (${SQS_MAX_VISIBILITY_SECONDS} s) from its receive, ` +
        `and a record may be held timeoutSeconds + maxBatchingWindowSeconds + ${VISIBILITY_LIMIT_MARGIN_SECONDS} s before its backoff is set; use at most ${largestCap}`,
    );
  }
  const budget = retryBudgetSeconds({ ...s, visibilityTimeoutSeconds: s.visibilityTimeoutSeconds ?? minimum });
  const allowed = retention.queueDays * DAY_SECONDS * RETRY_BUDGET_SHARE_OF_RETENTION;
  if (budget > allowed) {
    issues.push(
      `${at}: its retries can take ${formatDuration(budget)} (${s.maxReceiveCount} receives, backoff up to ${s.backoff.capSeconds} s, visibility ${s.visibilityTimeoutSeconds ?? minimum} s), ` +
        `more than ${RETRY_BUDGET_SHARE_OF_RETENTION * 100} % of retention.queueDays ${retention.queueDays} (${formatDuration(allowed)}): SQS would delete messages still being retried; ` +
        'lower maxReceiveCount or backoff.capSeconds, or raise retention.queueDays',
    );
  }
  return issues;
}

const DAY_SECONDS = 86_400;

/** A retry budget or the share of retention it must fit in: half a day at the least (queueDays ≥ 1). */
function formatDuration(seconds: number): string {
  if (seconds < 2 * DAY_SECONDS) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / DAY_SECONDS).toFixed(1)} days`;
}

function repeated(values: readonly string[]): string[] {
  return [...new Set(values.filter((v, i) => values.indexOf(v) !== i))];
}

function formatZodIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
}

/**
 * Builds and validates the topology.
 *
 * @param input overrides: an object, or a JSON string (as `cdk synth -c conveyor='{...}'` passes it); undefined for the defaults.
 * @param source where the input came from, for error messages.
 * @throws TopologyError listing every problem with its field path.
 * @example
 * const topology = loadTopology({ stages: { packing: { batchSize: 50 } } });
 * topology.pipelines[0].stages[1].batchSize; // 50
 */
export function loadTopology(input?: unknown, source = 'cdk.json context "conveyor"'): Topology {
  const config = parseInput(input, source);
  const issues: string[] = [];
  const warehouses = config.warehouses ?? [...DEFAULT_WAREHOUSES];
  issues.push(...warehouseIssues(config, warehouses));
  const retention = { ...DEFAULT_RETENTION, ...config.retention };
  if (retention.deadLetterDays <= retention.queueDays) {
    issues.push(
      `retention.deadLetterDays ${retention.deadLetterDays} must be longer than retention.queueDays ${retention.queueDays}: ` +
        'a message moved by the redrive policy keeps its original enqueue time, so a shorter DLQ retention can delete it at once',
    );
  }
  const pipelines = buildPipelines(config, warehouses, retention, issues);
  if (issues.length > 0) throw new TopologyError(source, issues);
  return {
    tracking: config.tracking ?? DEFAULT_TRACKING,
    alarms: { ...config.alarms },
    pipelines,
    api: { ...DEFAULT_API, ...config.api },
    intake: { ...DEFAULT_INTAKE, ...config.intake },
    retention,
  };
}

/** The input, parsed (a JSON string too) and checked field by field. */
function parseInput(input: unknown, source: string): TopologyInput {
  let raw: unknown = input ?? {};
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw);
    } catch (e) {
      throw new TopologyError(source, [`is not valid JSON: ${(e as Error).message}`]);
    }
  }
  const parsed = TopologyInput.safeParse(raw);
  if (!parsed.success) throw new TopologyError(source, formatZodIssues(parsed.error));
  return parsed.data;
}

function warehouseIssues(config: TopologyInput, warehouses: readonly string[]): string[] {
  const issues: string[] = [];
  const duplicates = repeated(warehouses);
  if (duplicates.length > 0) issues.push(`warehouses: ${duplicates.join(', ')} listed more than once`);
  for (const id of Object.keys(config.pipelines ?? {})) {
    if (!warehouses.includes(id))
      issues.push(`pipelines.${id}: not a warehouse; warehouses are ${warehouses.join(', ')}`);
  }
  return issues;
}

/**
 * Each warehouse's chain of stages with their settings: defaults, then shared `stages`, then the
 * pipeline's own — every level checked against the rules across settings where it is written.
 */
function buildPipelines(
  config: TopologyInput,
  warehouses: readonly string[],
  retention: { readonly queueDays: number },
  issues: string[],
): Pipeline[] {
  const defaultChain = config.chain ?? [...DEFAULT_CHAIN];
  const chainOf = (id: string): readonly string[] => config.pipelines?.[id]?.chain ?? defaultChain;
  const everyStage = new Set(warehouses.flatMap((id) => chainOf(id)));
  for (const name of Object.keys(config.stages ?? {})) {
    if (!everyStage.has(name))
      issues.push(
        `stages.${name}: not a stage of any pipeline; stages are ${[...everyStage].join(', ')} (a stage joins a pipeline through chain)`,
      );
  }
  const shared = new Map(
    [...everyStage].map((name) => [name, mergeStage(defaultStage(name), config.stages?.[name])] as const),
  );
  for (const [name, settings] of shared) issues.push(...stageRuleViolations(`stages.${name}`, settings, retention));
  const pipelines = warehouses.map((id): Pipeline => {
    const chain = chainOf(id);
    const overrides = config.pipelines?.[id]?.stages ?? {};
    for (const name of Object.keys(overrides)) {
      if (!chain.includes(name))
        issues.push(`pipelines.${id}.stages.${name}: not a stage of ${id}; its chain is ${chain.join(' → ')}`);
    }
    const stages = chain.map((name, index) => {
      const settings = mergeStage(shared.get(name) as StageDefaults, overrides[name]);
      if (overrides[name]) issues.push(...stageRuleViolations(`pipelines.${id}.stages.${name}`, settings, retention));
      return resolveStage(id, name, index, chain[index + 1], settings);
    });
    return { id, stages };
  });
  const stageCount = pipelines.reduce((n, p) => n + p.stages.length, 0);
  if (stageCount > MAX_STAGES_PER_STACK) {
    issues.push(
      `chain: ${stageCount} stages in all (every warehouse × its chain), but one stack holds at most ${MAX_STAGES_PER_STACK} (each stage adds its queues, function, role and alarms to the 500 resources of a CloudFormation stack); ` +
        `deploy some warehouses as a second stack: npx cdk deploy -c stackName=Conveyor-2 -c conveyor='{"warehouses": [...]}'`,
    );
  }
  return pipelines;
}

function resolveStage(
  pipelineId: string,
  name: string,
  index: number,
  next: string | undefined,
  settings: StageDefaults,
): Stage {
  return {
    ...settings,
    visibilityTimeoutSeconds: settings.visibilityTimeoutSeconds ?? minimumVisibilitySeconds(settings),
    key: `${pipelineId}/${name}`,
    pipelineId,
    name,
    index,
    ...(next ? { next } : {}),
  };
}
