/**
 * Saved CloudWatch Logs Insights queries over the JSON lines the functions log (Powertools:
 * `level`, `message`, `pipeline`, `stage`, plus each message's fields). Their filters are built
 * from the very messages the runtime logs (lib/contract/log-messages.ts); they appear under
 * "<prefix>/" in the console.
 */
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { LogMessage, ORDER_ID_PLACEHOLDER } from '../contract/index.ts';

export type SavedQueries = Readonly<
  Record<'failuresByOrder' | 'deadLetters' | 'slowestBatches' | 'orderJourney', logs.QueryDefinition>
>;

/**
 * @param stageLogs every stage function's log group.
 * @param intakeLogs the intake's log group (one order's journey starts there).
 */
export function createSavedQueries(
  scope: Construct,
  prefix: string,
  stageLogs: logs.ILogGroup[],
  intakeLogs: logs.ILogGroup,
): SavedQueries {
  const query = (id: string, name: string, queryString: logs.QueryString, logGroups: logs.ILogGroup[] = stageLogs) =>
    new logs.QueryDefinition(scope, id, { queryDefinitionName: `${prefix}/${name}`, queryString, logGroups });
  return {
    failuresByOrder: query(
      'FailuresByOrderQuery',
      'failures by orderId',
      new logs.QueryString({
        fields: ['@timestamp', 'orderId', 'pipeline', 'stage', 'message', 'reason', 'receiveCount'],
        filterStatements: [`message in ["${LogMessage.recordRetried}", "${LogMessage.recordDeadLettered}"]`],
        statsStatements: [
          'count(*) as failures, max(receiveCount) as receives, latest(stage) as lastStage, latest(message) as lastOutcome, latest(reason) as lastReason by orderId, pipeline',
        ],
        sort: 'failures desc',
        limit: 1000,
      }),
    ),
    deadLetters: query(
      'DeadLettersQuery',
      'dead letters',
      new logs.QueryString({
        fields: [
          '@timestamp',
          'pipeline',
          'stage',
          'orderId',
          'kind',
          'reason',
          'receiveCount',
          'traceId',
          'messageId',
        ],
        filterStatements: [`message = "${LogMessage.recordDeadLettered}"`],
        sort: '@timestamp desc',
        limit: 1000,
      }),
    ),
    slowestBatches: query(
      'SlowestBatchesQuery',
      'slowest batches',
      new logs.QueryString({
        fields: [
          '@timestamp',
          'pipeline',
          'stage',
          'durationMs',
          'records',
          'succeeded',
          'retried',
          'deadLettered',
          'duplicates',
          'function_request_id',
          'xray_trace_id',
        ],
        filterStatements: [`message = "${LogMessage.batchProcessed}"`],
        sort: 'durationMs desc',
        limit: 100,
      }),
    ),
    orderJourney: query(
      'OrderJourneyQuery',
      `one order's journey (replace ${ORDER_ID_PLACEHOLDER})`,
      new logs.QueryString({
        fields: [
          '@timestamp',
          '@log',
          'pipeline',
          'stage',
          'level',
          'message',
          'reason',
          'receiveCount',
          'retryInSeconds',
          'traceId',
        ],
        // The intake logs ids in a list ("orderIds"): a substring match finds them as well as "orderId".
        filterStatements: [`@message like "${ORDER_ID_PLACEHOLDER}"`],
        sort: '@timestamp asc',
        limit: 1000,
      }),
      [intakeLogs, ...stageLogs],
    ),
  };
}
