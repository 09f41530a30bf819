/**
 * The filter flags of `dlq peek | redrive | export`: `--grep TEXT`, `--order ID`, `--kind K[,K…]`,
 * `--since 30m` (or a time). Each is checked as it is parsed, with one line naming the flag, the rule
 * and an example; `--since` becomes an absolute time when the command runs, so both targets filter alike.
 */
import { Option, type Command } from 'commander';
import { ORDER_ID_PATTERN, ORDER_ID_RULE } from '../domain/order.ts';
import { DEAD_LETTER_KINDS, MAX_GREP_LENGTH, type DeadLetterFilter } from '../operations/dead-letter-filter.ts';
import type { DeadLetterKind } from '../runtime/attributes.ts';
import { UsageError } from './errors.ts';
import { sinceFlag, sinceText, sinceTime, type Since, type SinceLimit } from './since.ts';

export interface FilterFlags {
  readonly grep?: string;
  readonly order?: string;
  readonly kind?: DeadLetterKind[];
  readonly since?: Since;
}

/** SQS keeps a dead letter at most 14 days: a longer span selects nothing more. */
export const DEAD_LETTER_SINCE: SinceLimit = { maxDays: 14, why: 'SQS keeps a dead letter at most 14 days' };

function parseKinds(value: string): DeadLetterKind[] {
  const kinds = value
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  const unknown = kinds.find((k) => !(DEAD_LETTER_KINDS as readonly string[]).includes(k));
  if (kinds.length === 0 || unknown !== undefined) {
    throw new UsageError(
      `--kind must be ${DEAD_LETTER_KINDS.join(', ')} or several with commas, got "${unknown ?? value}" — e.g. --kind exhausted or --kind poison,rejected`,
    );
  }
  return [...new Set(kinds)] as DeadLetterKind[];
}

function parseOrderId(value: string): string {
  if (!ORDER_ID_PATTERN.test(value))
    throw new UsageError(`--order must be an order id (${ORDER_ID_RULE}), got "${value}"`);
  return value;
}

function parseGrep(value: string): string {
  if (value.trim() === '' || value.length > MAX_GREP_LENGTH)
    throw new UsageError(
      `--grep must be 1–${MAX_GREP_LENGTH} characters of the reason to look for, got "${value.slice(0, 40)}" — e.g. --grep "scanner offline"`,
    );
  return value;
}

/** Adds the four filter flags to a command. */
export function addFilterFlags(command: Command): Command {
  return command
    .addOption(
      new Option('--grep <text>', 'only dead letters whose reason contains this text (any case)').argParser(parseGrep),
    )
    .addOption(new Option('--order <orderId>', "only this order's dead letters").argParser(parseOrderId))
    .addOption(
      new Option('--kind <kinds>', `only these kinds: ${DEAD_LETTER_KINDS.join(', ')} (several with commas)`).argParser(
        parseKinds,
      ),
    )
    .addOption(
      new Option('--since <when>', 'only those dead-lettered since then: 30m, 2h, 7d, or a time').argParser(
        sinceFlag('--since', DEAD_LETTER_SINCE),
      ),
    );
}

/**
 * The filter the flags describe, `--since` made absolute at `now`; undefined without any flag.
 * @example
 * filterOf({ grep: 'scanner', since: { kind: 'ago', ms: 1_800_000 } }, Date.parse('2025-06-01T12:30:00Z')); // { grep: 'scanner', since: '2025-06-01T12:00:00.000Z' }
 */
export function filterOf(flags: FilterFlags, now: number): DeadLetterFilter | undefined {
  const since = flags.since === undefined ? undefined : new Date(sinceTime(flags.since, now)).toISOString();
  const filter: DeadLetterFilter = {
    ...(flags.grep !== undefined ? { grep: flags.grep } : {}),
    ...(flags.order !== undefined ? { orderId: flags.order } : {}),
    ...(flags.kind !== undefined ? { kinds: flags.kind } : {}),
    ...(since !== undefined ? { since } : {}),
  };
  return Object.keys(filter).length > 0 ? filter : undefined;
}

/** The same flags again, for hints the CLI prints (`… --grep "scanner" --kind exhausted`). */
export function filterFlagsText(flags: FilterFlags, raw: { readonly since?: string } = {}): string {
  return [
    flags.grep !== undefined ? ` --grep ${JSON.stringify(flags.grep)}` : '',
    flags.order !== undefined ? ` --order ${flags.order}` : '',
    flags.kind !== undefined ? ` --kind ${flags.kind.join(',')}` : '',
    flags.since !== undefined ? ` --since ${raw.since ?? sinceText(flags.since)}` : '',
  ].join('');
}
