/**
 * StatusTable: the order ledger's table — one item collection per order (partition key `orderId`,
 * sort key `sk`: the order's head and one fact per finished step, see lib/ledger/records.ts),
 * written by the intake and by every stage, read by `GET /orders/{orderId}`.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { tableDefaults } from './defaults.ts';

export interface StatusTableProps {
  /**
   * What happens to the table (and its orders) when it leaves the stack. Anything but RETAIN also
   * turns deletion protection off, or the deletion could never succeed.
   * @default RemovalPolicy.RETAIN, with deletion protection
   */
  readonly removalPolicy?: RemovalPolicy;
}

export class StatusTable extends Construct {
  /** The DynamoDB table: partition key `orderId`, sort key `sk` (strings), on-demand, PITR, AWS-managed encryption. */
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: StatusTableProps = {}) {
    super(scope, id);
    const defaults = tableDefaults();
    const removalPolicy = props.removalPolicy ?? defaults.removalPolicy;

    this.table = new dynamodb.Table(this, 'Table', {
      ...defaults,
      partitionKey: { name: 'orderId', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      removalPolicy,
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
    });
  }
}
