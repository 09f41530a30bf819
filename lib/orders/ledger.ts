/** The order ledger on the deployment's status table, as every order function uses it. */
import { ORDER_STATUS_LABELS } from '../domain/status.ts';
import { DynamoDbTable } from '../ledger/dynamodb-table.ts';
import { OrderLedger } from '../ledger/ledger.ts';
import { documentClient } from '../aws/clients.ts';
import { sdkTimeoutsOf } from '../runtime/environment.ts';

/**
 * The ledger on `tableName`, with the shared DynamoDB client of this execution environment.
 *
 * @example
 * const ledger = orderLedger(process.env.CONVEYOR_STATUS_TABLE!);
 * await ledger.read('o-1');
 */
export function orderLedger(tableName: string): OrderLedger {
  return new OrderLedger(new DynamoDbTable(documentClient(sdkTimeoutsOf()), tableName), ORDER_STATUS_LABELS);
}
