/**
 * What each kind of function does to the status table, as IAM actions — granted on the table
 * alone (lib/infra/stage.ts, lib/infra/order-api.ts), and the operations whose throttles and
 * system errors alarm (monitoring.ts). test/contract checks that every call the handlers make is
 * granted; test/infra/least-privilege.test.ts that nothing else is.
 */
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';

export const STATUS_TABLE_ACTIONS = {
  /**
   * Look a batch's orders up (BatchGetItem: heads and this stage's steps), write their steps in
   * batches, record the guarded transitions (delivery, dead letter, revival: conditional updates).
   */
  stage: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:UpdateItem'],
  /**
   * Claim an order id (conditional put), read a claim or an order (Query of its collection: claim
   * resolution, GET, cancel), take over or cancel (conditional update), release a claim whose order
   * could not be queued (conditional delete), confirm what was queued (batch write).
   */
  intake: [
    'dynamodb:PutItem',
    'dynamodb:Query',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:BatchWriteItem',
  ],
  /** The dead-letter auditor: which dead letters the heads note (BatchGetItem), record the missing ones (conditional update). */
  auditor: ['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'],
  /** The breaker function, in its own partition only: read every breaker (Query), change one (conditional update). */
  breaker: ['dynamodb:Query', 'dynamodb:UpdateItem'],
} as const;

/** Every status-table operation any function performs (for the table's throttle and error alarms). */
export function statusTableOperations(): dynamodb.Operation[] {
  const actions = new Set<string>(Object.values(STATUS_TABLE_ACTIONS).flat());
  return [...actions].map((action) => action.replace(/^dynamodb:/, '') as dynamodb.Operation);
}
