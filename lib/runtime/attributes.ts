/**
 * Message attributes Conveyor sets on every stage message, and the ones it adds to dead letters.
 * Attribute names are part of the operator interface (`conveyor dlq peek` shows them).
 */
import type { MessageAttributeValue } from '@aws-sdk/client-sqs';

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

export function truncateReason(reason: string): string {
  return reason.length <= MAX_REASON_LENGTH ? reason : `${reason.slice(0, MAX_REASON_LENGTH - 1)}…`;
}
