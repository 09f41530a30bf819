/**
 * The messages of the log lines that saved Logs Insights queries, dashboards and operators select
 * on. The handlers log exactly these strings; the queries build their filters from them. Reword one
 * here and both follow; reword it anywhere else and test/contract fails.
 */
export const LogMessage = {
  /** One per batch: pipeline, stage, records, succeeded, retried, deadLettered, duplicates, durationMs. */
  batchProcessed: 'batch processed',
  /** One per record failed transiently: orderId, receiveCount, retryInSeconds, reason, traceId. */
  recordRetried: 'record failed; will retry',
  /** One per record sent to the DLQ: orderId, messageId, kind, reason, receiveCount, traceId. */
  recordDeadLettered: 'record dead-lettered',
  /** One per intake request: accepted, duplicates, rejected, unavailable, orderIds, traceId. */
  ordersReceived: 'orders received',
  /** Intake: orders that could not be queued (the request answers 503 for them). */
  ordersNotQueued: 'could not queue orders',
  /** Intake: a request that failed on a dependency (answered 503). */
  requestFailed: 'request failed',
  /** Dead-letter auditor, one per dead letter it recorded (SQS's redrive policy moved it): orderId, messageId, pipeline, stage, kind, reason. */
  deadLetterRecorded: 'dead letter recorded by the auditor',
} as const;
export type LogMessage = (typeof LogMessage)[keyof typeof LogMessage];

/** What an operator replaces with an order id in the saved query "one order's journey". */
export const ORDER_ID_PLACEHOLDER = 'ORDER-ID';

/**
 * The fields of the JSON log lines (Powertools Logger) that say which order a line is about and
 * what happened to it — what `conveyor trace` reads, locally and from CloudWatch Logs Insights. A line
 * is about an order when it names it in `orderId`, or lists it in `orderIds` (the intake's lines,
 * one per request). test/contract checks the handlers print exactly these.
 */
export const LogField = {
  orderId: 'orderId',
  orderIds: 'orderIds',
  timestamp: 'timestamp',
  level: 'level',
  message: 'message',
  /** Stage functions: their pipeline and stage. */
  pipeline: 'pipeline',
  stage: 'stage',
  /** The intake and the auditor: their name (`intake`, `dead-letter-auditor`). */
  function: 'function',
  receiveCount: 'receiveCount',
  reason: 'reason',
  /** A dead letter's kind: poison, rejected, exhausted. */
  kind: 'kind',
  retryInSeconds: 'retryInSeconds',
  traceId: 'traceId',
  error: 'error',
} as const;
