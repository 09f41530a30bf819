import { describe, expect, it } from 'vitest';
import type { SQSRecord } from 'aws-lambda';
import { settleBatch } from '../../lib/local/event-source.ts';

const records = ['a', 'b', 'c'].map((messageId) => ({ messageId }) as SQSRecord);

describe('settleBatch (Lambda ReportBatchItemFailures rules)', () => {
  it('treats an empty or absent response as complete success', () => {
    for (const response of [undefined, null, {}, { batchItemFailures: [] }, { batchItemFailures: null }]) {
      expect(settleBatch(records, response)).toEqual({ kind: 'partial', succeeded: records, failed: [] });
    }
  });

  it('keeps listed records and deletes the rest', () => {
    const settlement = settleBatch(records, { batchItemFailures: [{ itemIdentifier: 'b' }] });
    expect(settlement).toEqual({ kind: 'partial', succeeded: [records[0], records[2]], failed: [records[1]] });
  });

  it('fails the whole batch on a malformed response', () => {
    for (const response of [
      'ok',
      [],
      { batchItemFailures: 'b' },
      { batchItemFailures: [{ itemIdentifier: '' }] },
      { batchItemFailures: [{ itemIdentifier: 'zzz' }] },
      { batchItemFailures: [{}] },
    ]) {
      expect(settleBatch(records, response).kind).toBe('batch-failed');
    }
  });
});
