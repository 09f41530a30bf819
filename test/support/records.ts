/** SQS records as Lambda delivers them, built in memory for unit tests of the stage runtime. */
import type { SQSRecord } from 'aws-lambda';
import { MESSAGE_VERSION, type PickingInput } from '../../lib/domain/messages.ts';
import { ATTR_ORDER_ID, ATTR_TRACE_ID } from '../../lib/runtime/attributes.ts';
import { order } from './orders.ts';

let next = 0;

/** A record of `body` (JSON-encoded unless a string), delivered for the `receiveCount`-th time. */
export function sqsRecord(
  body: unknown,
  { receiveCount = 1, orderId }: { receiveCount?: number; orderId?: string } = {},
): SQSRecord {
  const id = `msg-${++next}`;
  const attribute = (value: string) => ({
    dataType: 'String',
    stringValue: value,
    stringListValues: [],
    binaryListValues: [],
  });
  return {
    messageId: id,
    receiptHandle: `handle-${id}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: '0',
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: orderId
      ? { [ATTR_ORDER_ID]: attribute(orderId), [ATTR_TRACE_ID]: attribute(`trace-${id}`) }
      : {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:test',
    awsRegion: 'us-east-1',
  } as SQSRecord;
}

/** A picking record for order `n`. */
export function pickingRecord(n: number, receiveCount = 1): SQSRecord {
  const o = order(n);
  const message: PickingInput = { v: MESSAGE_VERSION, order: o, acceptedAt: '2026-12-01T12:00:00.000Z' };
  return sqsRecord(message, { receiveCount, orderId: o.orderId });
}
