/**
 * Message attributes Conveyor sets on every stage message, and the ones it adds to dead letters.
 * Attribute names are part of the operator interface (`conveyor dlq peek` shows them).
 */
import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { TRACE_HEADER_ATTRIBUTE } from '../aws/sqs.ts';

export const ATTR_ORDER_ID = 'orderId';
/** Correlation id: set at intake (API request id), carried unchanged through every stage. */
export const ATTR_TRACE_ID = 'traceId';

/** On dead letters: why, where and when. */
export const ATTR_DEAD_LETTER_REASON = 'conveyor.reason';
export const ATTR_DEAD_LETTER_KIND = 'conveyor.kind';
export const ATTR_DEAD_LETTER_STAGE = 'conveyor.stage';
export const ATTR_DEAD_LETTER_RECEIVE_COUNT = 'conveyor.receiveCount';
export const ATTR_DEAD_LETTERED_AT = 'conveyor.deadLetteredAt';

/** Why a record was dead-lettered: unreadable input, a permanent business failure, or retries used up. */
export type DeadLetterKind = 'poison' | 'rejected' | 'exhausted';

/** SQS caps attribute values at 256 KiB; reasons are kept short and readable. */
const MAX_REASON_LENGTH = 1000;

export function stringAttribute(value: string): MessageAttributeValue {
  return { DataType: 'String', StringValue: value };
}

/** The attributes every stage message carries. */
export function tracingAttributes(orderId: string, traceId: string): Record<string, MessageAttributeValue> {
  return { [ATTR_ORDER_ID]: stringAttribute(orderId), [ATTR_TRACE_ID]: stringAttribute(traceId) };
}

/**
 * The X-Ray trace context of a message: SQS's `AWSTraceHeader` message system attribute, the one SQS
 * and Lambda read. Lambda links the segment of each invocation to the traces its records carry (X-Ray
 * trace linking for SQS), so an order's trace — the API request that accepted it — shows every stage
 * invocation that handled it. The intake sends its own trace's header with each message; every stage
 * forwards the header of the record it read, unchanged. Unlike `traceId` (the correlation id, a
 * message attribute for logs and operators), it counts against neither the message size nor the ten
 * message attributes. Locally it is absent: no X-Ray there, and fauxqs does not keep system attributes.
 */
export { TRACE_HEADER_ATTRIBUTE };

/** Long enough for any header Lambda passes (root, parent, sampling decision, lineage). */
const MAX_TRACE_HEADER_LENGTH = 1024;
/** `Root=1-<8 hex: epoch seconds>-<24 hex>` first, then `;key=value` fields (Parent, Sampled, Lineage, …). */
const TRACE_HEADER_PATTERN = /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}(;[A-Za-z][A-Za-z0-9]*=[^;=\s]*)*$/;

/** Whether `value` is an X-Ray trace header SQS will take: anything else would fail the send of its message. */
export function isTraceHeader(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_TRACE_HEADER_LENGTH && TRACE_HEADER_PATTERN.test(value);
}

/**
 * The trace header a record arrived with, when it carries a valid one; what came from outside the
 * pipeline (a message put on a queue by hand) is dropped rather than forwarded broken.
 */
export function traceHeaderOf(record: Pick<SQSRecord, 'attributes'>): string | undefined {
  const header: unknown = record.attributes?.[TRACE_HEADER_ATTRIBUTE];
  return isTraceHeader(header) ? header : undefined;
}

export function truncateReason(reason: string): string {
  return reason.length <= MAX_REASON_LENGTH ? reason : `${reason.slice(0, MAX_REASON_LENGTH - 1)}…`;
}
