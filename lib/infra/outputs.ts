/**
 * Names of the stack outputs the CLI reads (`npx conveyor … --target aws`). Pure: no CDK import,
 * so the CLI can compute the same names without loading aws-cdk-lib.
 */

/** Stack-wide outputs. */
export const API_URL_OUTPUT = 'ApiUrl';
export const STATUS_TABLE_OUTPUT = 'StatusTableName';
/** Present only with `api.authorization: "api-key"`; read the key's value with `aws apigateway get-api-key --include-value`. */
export const API_KEY_ID_OUTPUT = 'ApiKeyId';
/** The SNS topic every alarm notifies (ALARM and OK): subscribe to it, or read it for alarm state. */
export const ALARM_TOPIC_OUTPUT = 'AlarmTopicArn';
/** The CloudWatch dashboard of the deployment, and a console link to it. */
export const DASHBOARD_NAME_OUTPUT = 'DashboardName';
export const DASHBOARD_URL_OUTPUT = 'DashboardUrl';

/** What each stage publishes, one output per kind. */
export const STAGE_OUTPUT_KINDS = [
  'QueueUrl',
  'QueueArn',
  'DlqUrl',
  /** `StartMessageMoveTask` (DLQ redrive) takes the DLQ's ARN, not its URL. */
  'DlqArn',
  'FunctionName',
  /** The UUID `UpdateEventSourceMapping` takes (pause/resume, max concurrency). */
  'EventSourceMappingUuid',
] as const;
export type StageOutputKind = (typeof STAGE_OUTPUT_KINDS)[number];

/** `wh-1` → `Wh1`, `picking` → `Picking`: CloudFormation output names are alphanumeric. */
export function pascalCase(id: string): string {
  return id
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}

/**
 * The stack output holding one resource of one stage.
 *
 * @example
 * outputName('wh-1', 'picking', 'QueueUrl'); // 'Wh1PickingQueueUrl'
 * outputName('wh-2', 'delivery', 'EventSourceMappingUuid'); // 'Wh2DeliveryEventSourceMappingUuid'
 */
export function outputName(pipelineId: string, stage: string, kind: StageOutputKind): string {
  return `${pascalCase(pipelineId)}${pascalCase(stage)}${kind}`;
}
