/**
 * How a deployed stack tells the CLI what it holds: a few stack-wide outputs and one topology
 * manifest — a JSON stack output listing every pipeline and stage with the resources an operator
 * acts on, and the metric namespace and service its handlers emit under. The CLI reads the
 * manifest instead of guessing from output names; one output, however many warehouses.
 */
import * as z from 'zod/mini';

/** Names of the stack's outputs. */
export const StackOutput = {
  apiUrl: 'ApiUrl',
  statusTable: 'StatusTableName',
  /** Present only with `api.authorization: "api-key"`; read the key with `aws apigateway get-api-key --include-value`. */
  apiKeyId: 'ApiKeyId',
  /** The SNS topic the composite and API alarms notify. */
  alarmTopic: 'AlarmTopicArn',
  dashboardName: 'DashboardName',
  dashboardUrl: 'DashboardUrl',
  /** The topology manifest (JSON, `TopologyManifest`). */
  topology: 'Topology',
} as const;

export const MANIFEST_VERSION = 1;

/** What the manifest holds per stage. */
export const STAGE_RESOURCE_KINDS = [
  'queueUrl',
  'queueArn',
  'dlqUrl',
  /** `StartMessageMoveTask` (DLQ redrive) takes ARNs, not URLs. */
  'dlqArn',
  'functionName',
  /** The UUID `UpdateEventSourceMapping` takes (pause/resume, max concurrency). */
  'eventSourceMappingUuid',
] as const;
export type StageResourceKind = (typeof STAGE_RESOURCE_KINDS)[number];

const text = z.string().check(z.minLength(1));
const StageManifest = z.object({
  name: text,
  ...(Object.fromEntries(STAGE_RESOURCE_KINDS.map((k) => [k, text])) as Record<StageResourceKind, typeof text>),
  /** The stage function's CloudWatch Logs group (`conveyor trace` queries it). Absent from stacks deployed before it was published. */
  logGroup: z.optional(text),
});

export const TopologyManifest = z.object({
  v: z.literal(MANIFEST_VERSION),
  /** Where the handlers' metrics are: namespace and `service` dimension. */
  metrics: z.object({ namespace: text, service: text }),
  /** The circuit breakers' function (`conveyor breaker`, the BREAKER column); absent in stacks deployed before it existed. */
  breakerFunctionName: z.optional(text),
  /** Every pipeline, its stages in flow order. */
  pipelines: z
    .array(z.object({ id: text, stages: z.array(StageManifest).check(z.minLength(1)) }))
    .check(z.minLength(1)),
  /** The log groups of the functions that are no stage's (`conveyor trace` queries them too). Absent from stacks deployed before. */
  logGroups: z.optional(z.object({ intake: text, deadLetterAuditor: text })),
});
export type TopologyManifest = z.infer<typeof TopologyManifest>;
export type StageManifest = z.infer<typeof StageManifest>;

/**
 * Parses the manifest output's value.
 * @returns the manifest, or what is wrong with it (one line).
 * @example
 * const read = readTopologyManifest(outputs.get(StackOutput.topology) ?? '');
 * if (read.ok) read.manifest.pipelines.map((p) => p.id); // ['wh-1', 'wh-2']
 */
export function readTopologyManifest(
  value: string,
): { ok: true; manifest: TopologyManifest } | { ok: false; problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return { ok: false, problem: 'it is not JSON' };
  }
  const parsed = z.safeParse(TopologyManifest, raw);
  if (parsed.success) return { ok: true, manifest: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, problem: `${issue?.path.join('.') || 'the manifest'}: ${issue?.message ?? 'invalid'}` };
}
