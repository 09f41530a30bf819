export * from './model.ts';
export { loadTopology, minimumVisibilitySeconds, TopologyError, WAREHOUSE_ID_PATTERN } from './load.ts';
export type { TopologyInput } from './load.ts';
export { allStages, findStage, firstStage, nextStageOf } from './queries.ts';
export { queueSettings, deadLetterQueueSettings, RECEIVE_WAIT_SECONDS, type QueueSettings } from './resources.ts';
export {
  backoffCeilingSeconds,
  largestBackoffCapSeconds,
  nearsRetention,
  retryBudgetSeconds,
  MIN_DEAD_LETTER_DAYS,
  RETENTION_WARNING_SHARE,
  RETRY_BUDGET_SHARE_OF_RETENTION,
  VISIBILITY_LIMIT_MARGIN_SECONDS,
} from './limits.ts';
