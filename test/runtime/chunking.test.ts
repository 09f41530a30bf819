import { describe, expect, it } from 'vitest';
import { chunkByCount, chunkBySize, messageBytes, SQS_MAX_BATCH_BYTES } from '../../lib/aws/chunking.ts';
import { tracingAttributes } from '../../lib/runtime/attributes.ts';

describe('chunkBySize', () => {
  it('puts at most 10 entries in a call', () => {
    const chunks = chunkBySize(
      Array.from({ length: 25 }, (_, i) => i),
      () => 100,
    );
    expect(chunks.map((c) => c.length)).toEqual([10, 10, 5]);
    expect(chunks.flat()).toEqual(Array.from({ length: 25 }, (_, i) => i));
  });

  it('starts a new call before the payload would pass 1 MiB', () => {
    const sizes = [400_000, 400_000, 400_000, 100, 900_000, 200_000];
    const chunks = chunkBySize(sizes, (s) => s);
    expect(chunks).toEqual([[400_000, 400_000], [400_000, 100], [900_000], [200_000]]);
    for (const chunk of chunks) expect(chunk.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(SQS_MAX_BATCH_BYTES);
  });

  it('gives an entry larger than the limit a call of its own instead of dropping it', () => {
    expect(chunkBySize([10, 2_000_000, 10], (s) => s)).toEqual([[10], [2_000_000], [10]]);
  });

  it('returns no chunks for no entries', () => {
    expect(chunkBySize([], () => 1)).toEqual([]);
  });
});

describe('messageBytes', () => {
  it('counts the body and every attribute name, type and value in UTF-8 bytes', () => {
    const attributes = tracingAttributes('o-1', 'tr');
    // body "ab ü" is 5 bytes ("ü" takes 2) + orderId(7) String(6) o-1(3) + traceId(7) String(6) tr(2)
    expect(messageBytes('ab ü', attributes)).toBe(5 + 16 + 15);
  });
});

describe('chunkByCount', () => {
  it('splits by count only', () => {
    expect(chunkByCount([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });
});
