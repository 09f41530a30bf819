/** The stage runtime's public surface: what handlers and deployers use. */
export {
  createStageHandler,
  type StageDefinition,
  type StageHandler,
  type StageRuntimeOptions,
} from './stage-handler.ts';
export { backoffSeconds, type BackoffPolicy } from './backoff.ts';
export {
  chunkBySize,
  chunkByCount,
  messageBytes,
  SQS_MAX_BATCH_BYTES,
  SQS_MAX_BATCH_ENTRIES,
} from '../aws/chunking.ts';
export { sendMessages, changeVisibility, type OutgoingMessage } from '../aws/sqs.ts';
export {
  readStageConfig,
  readIntakeConfig,
  stageEnvironment,
  intakeEnvironment,
  ConfigurationError,
  type StageConfig,
  type IntakeConfig,
} from './environment.ts';
export { StageMetric, METRICS_NAMESPACE } from './telemetry.ts';
export * from './attributes.ts';
