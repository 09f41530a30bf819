/**
 * Queue settings derived from the topology, shared by the CDK stack and the local runtime so a
 * queue is configured identically in both.
 */
import type { Stage, Topology } from './model.ts';

const DAY_SECONDS = 86_400;

/** Long polling: a receive waits up to 20 s for messages instead of returning empty at once. */
export const RECEIVE_WAIT_SECONDS = 20;

export interface QueueSettings {
  readonly visibilityTimeoutSeconds: number;
  readonly messageRetentionSeconds: number;
  readonly receiveMessageWaitTimeSeconds: number;
  /** Receives before SQS itself moves a message to the dead-letter queue. */
  readonly maxReceiveCount: number;
}

/** Settings of a stage's work queue. */
export function queueSettings(topology: Topology, stage: Stage): QueueSettings {
  return {
    visibilityTimeoutSeconds: stage.visibilityTimeoutSeconds,
    messageRetentionSeconds: topology.retention.queueDays * DAY_SECONDS,
    receiveMessageWaitTimeSeconds: RECEIVE_WAIT_SECONDS,
    maxReceiveCount: stage.maxReceiveCount,
  };
}

/** Settings of a stage's dead-letter queue. */
export function deadLetterQueueSettings(topology: Topology): { readonly messageRetentionSeconds: number } {
  return { messageRetentionSeconds: topology.retention.deadLetterDays * DAY_SECONDS };
}
