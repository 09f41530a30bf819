/**
 * StatusTable: the order ledger's table — one item collection per order (partition key `orderId`,
 * sort key `sk`: the order's head and one fact per finished step, see lib/ledger/records.ts),
 * written by the intake and by every stage, read by `GET /orders/{orderId}` — and its sparse listing
 * index (lib/ledger/listing.ts), which holds only dead-lettered, cancelled and purged orders, for
 * `conveyor orders list`. No function reads the index: their grants name the table alone.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { LISTING_INDEX } from '../ledger/listing.ts';
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
  /** The listing index's name (what `conveyor orders list` queries). */
  public readonly listingIndexName: string;

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
    // Sparse: only heads in a listed state carry these keys. Projecting the warehouse alone keeps each
    // index item far below 1 KB, so every index write costs one write unit.
    this.table.addGlobalSecondaryIndex({
      indexName: LISTING_INDEX.name,
      partitionKey: { name: LISTING_INDEX.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: LISTING_INDEX.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: [...LISTING_INDEX.projected],
    });
    this.listingIndexName = LISTING_INDEX.name;
  }
}
