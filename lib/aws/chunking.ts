/**
 * Splits SQS batch entries into API calls: at most 10 entries and at most 1 MiB of payload per
 * `SendMessageBatch` (SQS counts bodies and message attributes towards the limit).
 */
import type { MessageAttributeValue } from '@aws-sdk/client-sqs';

export const SQS_MAX_BATCH_ENTRIES = 10;
export const SQS_MAX_BATCH_BYTES = 1_048_576;

/** Payload bytes SQS counts for one message: body plus each attribute's name, type and value. */
export function messageBytes(body: string, attributes?: Record<string, MessageAttributeValue>): number {
  let bytes = Buffer.byteLength(body, 'utf8');
  for (const [name, value] of Object.entries(attributes ?? {})) {
    bytes += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value.DataType ?? '', 'utf8');
    bytes +=
      value.StringValue !== undefined
        ? Buffer.byteLength(value.StringValue, 'utf8')
        : (value.BinaryValue?.byteLength ?? 0);
  }
  return bytes;
}

/**
 * Greedily packs items, in order, into chunks of at most `maxEntries` items and `maxBytes` bytes.
 * An item larger than `maxBytes` on its own gets a chunk of its own (SQS will reject it, per entry).
 *
 * @example
 * chunkBySize(entries, (e) => messageBytes(e.MessageBody, e.MessageAttributes)); // [[…10], [… ≤10]]
 */
export function chunkBySize<T>(
  items: readonly T[],
  sizeOf: (item: T) => number,
  maxEntries = SQS_MAX_BATCH_ENTRIES,
  maxBytes = SQS_MAX_BATCH_BYTES,
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= maxEntries || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Splits into chunks of `size` items (for APIs limited by count only, like BatchGetItem's 100 keys). */
export function chunkByCount<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
