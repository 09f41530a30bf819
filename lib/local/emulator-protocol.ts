/** What the runtime and the emulator process agree on, beyond the AWS APIs themselves. */

/** GET on the SQS emulator: `{ "<queue name>": <send time of its oldest message, epoch ms> | null }`. */
export const QUEUE_AGES_PATH = '/_conveyor/oldest-messages';

/**
 * GET on the SQS emulator: API calls each emulator has served, by action —
 * `{ "sqs": { "ReceiveMessage": 12, … }, "dynamodb": { "UpdateItem": 40, … }, "emptyReceives": 3 }`.
 * Benchmarks count requests per order here, where they arrive, not by estimate.
 */
export const REQUEST_COUNTS_PATH = '/_conveyor/requests';

export interface RequestCounts {
  readonly sqs: Record<string, number>;
  readonly dynamodb: Record<string, number>;
  /** ReceiveMessage calls that returned no message (they are billed too). */
  readonly emptyReceives: number;
  /** Items DynamoDB read and wrote (what request units are billed by): GetItem/BatchGetItem keys, Put/Update/Delete and BatchWriteItem requests. */
  readonly dynamodbItems: { readonly read: number; readonly written: number };
}
