/**
 * The pure half of a stage invocation: what to do with each record, decided without any I/O.
 *
 *   parseBatch      record → a work item, or poison (not JSON, fails the schema, wrong pipeline);
 *                   the same item twice in one batch is done once
 *   skipSeen        drops items the ledger already shows as done here or final (a redelivery)
 *   classify        the business outcomes → forward, retry, or dead-letter (rejected / out of retries)
 *
 * The effects (forwarding, recording, dead letters, backoff) are in stage-effects.ts.
 */
import type { SQSRecord } from 'aws-lambda';
import type { $ZodType } from 'zod/v4/core';
import { safeParse } from 'zod/mini';
import { ATTR_ORDER_ID, ATTR_TRACE_ID, type DeadLetterKind } from './attributes.ts';
import type { Outcome } from './outcome.ts';

/** How a stage tells one work item from another: its id and the pipeline (partition) it belongs to. */
export interface Identity {
  readonly id: string;
  readonly partition: string;
}

/** A record that parsed: the message, whose item it is, and how often SQS has delivered it. */
export interface WorkItem<In> {
  readonly record: SQSRecord;
  readonly message: In;
  readonly id: string;
  readonly partition: string;
  readonly traceId: string;
  readonly receiveCount: number;
}

/** A record headed for the dead-letter queue, with why. */
export interface DeadLetterPlan {
  readonly record: SQSRecord;
  readonly kind: DeadLetterKind;
  readonly reason: string;
  readonly id?: string;
  readonly partition?: string;
  readonly traceId?: string;
}

/** A record to retry after a backoff. */
export interface RetryPlan<In> {
  readonly item: WorkItem<In>;
  readonly reason: string;
}

/** How a stage reads its messages. */
export interface MessageReader<In> {
  readonly input: $ZodType<In>;
  identify(message: In): Identity;
  /** The item id a message that failed validation claims, if any can be read from it. */
  claimedId?(body: unknown): string | undefined;
}

/** A valid item id: it travels in URLs, attributes and log lines. */
export const ITEM_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export interface ParsedBatch<In> {
  readonly items: WorkItem<In>[];
  readonly poison: DeadLetterPlan[];
  /** Records whose item appeared earlier in the same batch. */
  readonly repeats: number;
}

/**
 * Reads every record of a batch. Poison never reaches business logic and is never retried; the same
 * item twice in one batch is handled once.
 */
export function parseBatch<In>(
  records: readonly SQSRecord[],
  reader: MessageReader<In>,
  partition: string,
): ParsedBatch<In> {
  const items: WorkItem<In>[] = [];
  const poison: DeadLetterPlan[] = [];
  const seen = new Set<string>();
  let repeats = 0;
  for (const record of records) {
    const parsed = parseRecord(record, reader, partition);
    if ('reason' in parsed) poison.push(parsed);
    else if (seen.has(parsed.id)) repeats++;
    else {
      seen.add(parsed.id);
      items.push(parsed);
    }
  }
  return { items, poison, repeats };
}

export function receiveCountOf(record: SQSRecord): number {
  const count = Number(record.attributes?.ApproximateReceiveCount);
  return Number.isFinite(count) && count >= 1 ? count : 1;
}

/** JSON, then the stage's schema, then the pipeline check; a failure keeps what identity it can. */
function parseRecord<In>(
  record: SQSRecord,
  reader: MessageReader<In>,
  partition: string,
): WorkItem<In> | DeadLetterPlan {
  const traceId = record.messageAttributes?.[ATTR_TRACE_ID]?.stringValue ?? record.messageId;
  const attributeId = validId(record.messageAttributes?.[ATTR_ORDER_ID]?.stringValue);
  const poison = (reason: string, id = attributeId): DeadLetterPlan => ({
    record,
    kind: 'poison',
    reason,
    traceId,
    ...(id ? { id } : {}),
  });
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch (error) {
    return poison(`body is not valid JSON (${jsonErrorWhere(error as Error, record.body)})`);
  }
  const parsed = safeParse(reader.input, body);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.length > 0 ? i.path.join('.') : 'body'}: ${i.message}`);
    return poison(`invalid message: ${problems.join('; ')}`, validId(reader.claimedId?.(body)) ?? attributeId);
  }
  const identity = reader.identify(parsed.data);
  if (identity.partition !== partition) {
    return poison(
      `${identity.id} belongs to pipeline ${identity.partition}, but arrived in pipeline ${partition}`,
      identity.id,
    );
  }
  return {
    record,
    message: parsed.data,
    id: identity.id,
    partition: identity.partition,
    traceId,
    receiveCount: receiveCountOf(record),
  };
}

function validId(value: unknown): string | undefined {
  return typeof value === 'string' && ITEM_ID_PATTERN.test(value) ? value : undefined;
}

/**
 * Where JSON parsing failed, without quoting the input: V8's messages repeat part of the body, and
 * reasons end up in logs and queue attributes, where order contents must not.
 */
function jsonErrorWhere(error: Error, body: string): string {
  const position = /position (\d+)/.exec(error.message)?.[1];
  if (position !== undefined) return `at character ${position} of ${body.length}`;
  if (body.trim() === '') return 'the body is empty';
  return /Unexpected end/.test(error.message)
    ? `it ends early, after ${body.length} characters`
    : `${body.length} characters`;
}

/** What the ledger showed about an item before the work (eventually consistent). */
export interface SeenItem {
  /** This stage already recorded its step for the item: a redelivery. */
  readonly done: boolean;
  /** The item is final (delivered, cancelled, purged): nothing is left to do anywhere. */
  readonly final: boolean;
}

/** Drops items the ledger shows as done here or final; they are acknowledged without work. */
export function skipSeen<In>(
  items: readonly WorkItem<In>[],
  seen: ReadonlyMap<string, SeenItem>,
): { work: WorkItem<In>[]; skipped: number } {
  const work = items.filter((item) => {
    const known = seen.get(item.id);
    return !(known?.done || known?.final);
  });
  return { work, skipped: items.length - work.length };
}

/** A transient failure: retried after a backoff, or dead-lettered once the record has used its receives. */
export function failTransiently<In>(
  item: WorkItem<In>,
  reason: string,
  maxReceiveCount: number,
): { retry: RetryPlan<In> } | { deadLetter: DeadLetterPlan } {
  if (item.receiveCount < maxReceiveCount) return { retry: { item, reason } };
  return {
    deadLetter: {
      record: item.record,
      kind: 'exhausted',
      reason: `${reason} (gave up after ${item.receiveCount} attempts)`,
      id: item.id,
      partition: item.partition,
      traceId: item.traceId,
    },
  };
}

export interface Classified<In, Out> {
  readonly done: { readonly item: WorkItem<In>; readonly value: Out }[];
  readonly retries: RetryPlan<In>[];
  readonly deadLetters: DeadLetterPlan[];
}

/** Sorts the business outcomes: results to forward, transient failures, permanent ones. */
export function classify<In, Out>(
  work: readonly WorkItem<In>[],
  outcomes: readonly Outcome<Out>[],
  maxReceiveCount: number,
): Classified<In, Out> {
  const result: Classified<In, Out> = { done: [], retries: [], deadLetters: [] };
  work.forEach((item, i) => {
    const outcome = outcomes[i] as Outcome<Out>;
    if (outcome.ok) result.done.push({ item, value: outcome.value });
    else if (outcome.permanent) {
      result.deadLetters.push({
        record: item.record,
        kind: 'rejected',
        reason: outcome.reason,
        id: item.id,
        partition: item.partition,
        traceId: item.traceId,
      });
    } else addFailure(result, failTransiently(item, outcome.reason, maxReceiveCount));
  });
  return result;
}

/** Adds a transient failure's fate to the plan. */
export function addFailure<In>(
  plan: Pick<Classified<In, unknown>, 'retries' | 'deadLetters'>,
  fate: ReturnType<typeof failTransiently<In>>,
): void {
  if ('retry' in fate) plan.retries.push(fate.retry);
  else plan.deadLetters.push(fate.deadLetter);
}
