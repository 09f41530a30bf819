export * from './model.ts';
export { loadTopology, minimumVisibilitySeconds, TopologyError, WAREHOUSE_ID_PATTERN } from './load.ts';
export type { TopologyInput } from './load.ts';
export { allStages, findStage, firstStage, nextStageOf } from './queries.ts';
export { queueSettings, deadLetterQueueSettings, RECEIVE_WAIT_SECONDS, type QueueSettings } from './resources.ts';
