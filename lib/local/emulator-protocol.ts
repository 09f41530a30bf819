/** What the runtime and the emulator process agree on, beyond the AWS APIs themselves. */

/** GET on the SQS emulator: `{ "<queue name>": <send time of its oldest message, epoch ms> | null }`. */
export const QUEUE_AGES_PATH = '/_conveyor/oldest-messages';

/**
 * GET on the SQS emulator: API calls each emulator has served, by action —
 * `{ "sqs": { "ReceiveMessage": 12, … }, "dynamodb": { "UpdateItem": 40, … }, "emptyReceives": 3 }`.
 * Benchmarks count requests per order here, where they arrive, not by estimate.
 */
export const REQUEST_COUNTS_PATH = '/_conveyor/requests';

/**
 * POST on the SQS emulator, `?queue=<queue name>`: ends the long polls waiting on that queue now,
 * each answering with what is ready at that moment (often nothing). A local event source that
 * stops or pauses uses it to end its receives without dropping their answers — an aborted receive
 * may already have taken messages into flight, hiding them for a whole visibility timeout.
 * Answers 204, or 404 for an unknown queue.
 */
export const END_LONG_POLLS_PATH = '/_conveyor/end-long-polls';

export interface RequestCounts {
  readonly sqs: Record<string, number>;
  readonly dynamodb: Record<string, number>;
  /** ReceiveMessage calls that returned no message (they are billed too). */
  readonly emptyReceives: number;
  /** Items DynamoDB read and wrote (what request units are billed by): GetItem/BatchGetItem keys, Put/Update/Delete and BatchWriteItem requests. */
  readonly dynamodbItems: { readonly read: number; readonly written: number };
}
