/**
 * What each kind of function does to the status table, as IAM actions — granted on the table
 * alone (lib/infra/stage.ts, lib/infra/order-api.ts), and the operations whose throttles and
 * system errors alarm (monitoring.ts). test/contract checks that every call the handlers make is
 * granted; test/infra/least-privilege.test.ts that nothing else is.
 */
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';

export const STATUS_TABLE_ACTIONS = {
  /** Read the orders of a batch (one item collection per order), write their progress in batches, record the guarded transitions. */
  stage: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem'],
  /**
   * Claim an order id (conditional put), release a claim whose send failed, read an order for
   * GET /orders/{orderId}, write its first history items; BatchGetItem looks resubmitted ids up
   * in one request.
   */
  intake: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'],
} as const;

/** Every status-table operation any function performs (for the table's throttle and error alarms). */
export function statusTableOperations(): dynamodb.Operation[] {
  const actions = new Set<string>([...STATUS_TABLE_ACTIONS.stage, ...STATUS_TABLE_ACTIONS.intake]);
  return [...actions].map((action) => action.replace(/^dynamodb:/, '') as dynamodb.Operation);
}
