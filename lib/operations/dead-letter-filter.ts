/**
 * Which dead letters an operator means — by the reason's text, the kind, the order and the time it
 * died. One filter for peek, redrive and export, on both targets (the local runtime applies it in its
 * admin routes, the AWS target in the CLI), so "what matches" is decided here and nowhere else.
 */
import * as z from 'zod/mini';
import { OrderId } from '../domain/order.ts';
import type { DeadLetterKind } from '../runtime/attributes.ts';
import type { DeadLetter } from './dead-letters.ts';

/** Every kind a dead letter can have (lib/runtime/attributes.ts `DeadLetterKind`). */
export const DEAD_LETTER_KINDS = ['poison', 'rejected', 'exhausted'] as const satisfies readonly DeadLetterKind[];

// The list above must name every kind the runtime can write: a new kind fails the type check here.
type UnlistedKind = Exclude<DeadLetterKind, (typeof DEAD_LETTER_KINDS)[number]>;
const everyKindListed: [UnlistedKind] extends [never] ? true : never = true;
void everyKindListed;

/** Longest `grep` text accepted (reasons are at most 1,000 characters). */
export const MAX_GREP_LENGTH = 200;

export interface DeadLetterFilter {
  /** The reason contains this text (any case). */
  readonly grep?: string;
  /** The dead letter is this order's. */
  readonly orderId?: string;
  /** The dead letter has one of these kinds. */
  readonly kinds?: readonly DeadLetterKind[];
  /** It died at or after this time (ISO 8601). */
  readonly since?: string;
}

/** The filter as it arrives from outside (an HTTP body or query): validated field by field. */
export const DeadLetterFilterInput = z.strictObject(
  {
    grep: z.optional(
      z
        .string({ error: 'must be text' })
        .check(
          z.minLength(1, { error: 'must not be empty' }),
          z.maxLength(MAX_GREP_LENGTH, { error: `must be at most ${MAX_GREP_LENGTH} characters` }),
        ),
    ),
    orderId: z.optional(OrderId),
    kinds: z.optional(
      z
        .array(z.enum(DEAD_LETTER_KINDS, { error: `must be one of ${DEAD_LETTER_KINDS.join(', ')}` }), {
          error: 'must be a list of kinds',
        })
        .check(z.minLength(1, { error: 'must name at least one kind' })),
    ),
    since: z.optional(z.iso.datetime({ error: 'must be an ISO 8601 date-time, e.g. 2025-06-01T12:00:00Z' })),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown filter field(s) ${(issue.keys ?? []).join(', ')}; filters are grep, orderId, kinds, since`
        : 'must be an object',
  },
);

/** When a dead letter died, as far as can be known: its stage's stamp, else when its message was first sent. */
export function deadLetterTime(letter: Pick<DeadLetter, 'deadLetteredAt' | 'sentAt'>): string | undefined {
  return letter.deadLetteredAt ?? letter.sentAt;
}

/**
 * @example
 * matchesFilter({ messageId: 'm', kind: 'exhausted', reason: 'Scanner offline', body: '' }, { grep: 'scanner' }); // true
 */
export function matchesFilter(letter: DeadLetter, filter: DeadLetterFilter): boolean {
  if (filter.grep !== undefined && !(letter.reason ?? '').toLowerCase().includes(filter.grep.toLowerCase()))
    return false;
  if (filter.orderId !== undefined && letter.orderId !== filter.orderId) return false;
  if (filter.kinds !== undefined && !(filter.kinds as readonly string[]).includes(letter.kind ?? '')) return false;
  if (filter.since !== undefined) {
    const died = Date.parse(deadLetterTime(letter) ?? '');
    if (!Number.isFinite(died) || died < Date.parse(filter.since)) return false;
  }
  return true;
}

export function isEmptyFilter(filter: DeadLetterFilter | undefined): boolean {
  return (
    filter === undefined ||
    (filter.grep === undefined &&
      filter.orderId === undefined &&
      filter.kinds === undefined &&
      filter.since === undefined)
  );
}

/**
 * The filter in words, for audit lines and summaries.
 * @example
 * describeFilter({ grep: 'scanner', kinds: ['exhausted'] }); // 'reason contains "scanner", kind exhausted'
 */
export function describeFilter(filter: DeadLetterFilter | undefined): string {
  if (filter === undefined || isEmptyFilter(filter)) return 'every dead letter';
  return [
    filter.grep !== undefined ? `reason contains ${JSON.stringify(filter.grep)}` : '',
    filter.kinds !== undefined ? `kind ${filter.kinds.join('|')}` : '',
    filter.orderId !== undefined ? `order ${filter.orderId}` : '',
    filter.since !== undefined ? `dead-lettered since ${filter.since}` : '',
  ]
    .filter(Boolean)
    .join(', ');
}

/** Only the fields that are set (for JSON bodies and logs). */
export function compactFilter(filter: DeadLetterFilter | undefined): DeadLetterFilter {
  return Object.fromEntries(Object.entries(filter ?? {}).filter(([, v]) => v !== undefined)) as DeadLetterFilter;
}
