/**
 * The filter flags of `dlq peek | redrive | export`: `--grep TEXT`, `--order ID`, `--kind K[,K…]`,
 * `--since 30m` (or a time). Each is checked as it is parsed, with one line naming the flag, the rule
 * and an example; `--since` becomes an absolute time when the command runs, so both targets filter alike.
 */
import { Option, type Command } from 'commander';
import { ORDER_ID_PATTERN } from '../domain/order.ts';
import { DEAD_LETTER_KINDS, MAX_GREP_LENGTH, type DeadLetterFilter } from '../operations/dead-letter-filter.ts';
import type { DeadLetterKind } from '../runtime/attributes.ts';
import { UsageError } from './errors.ts';

export interface FilterFlags {
  readonly grep?: string;
  readonly order?: string;
  readonly kind?: DeadLetterKind[];
  readonly since?: Since;
}

/** `--since`: a span back from now, or a fixed time. */
export type Since = { readonly agoMs: number } | { readonly at: string };

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** SQS keeps a dead letter at most 14 days: a longer span selects nothing more. */
const MAX_SPAN_DAYS = 14;

/**
 * @example
 * parseSince('30m'); // { agoMs: 1800000 }
 * parseSince('2025-06-01T12:00:00Z'); // { at: '2025-06-01T12:00:00.000Z' }
 */
export function parseSince(value: string): Since {
  const text = value.trim();
  const span = /^(\d{1,6})\s*([smhd])$/.exec(text);
  if (span) {
    const agoMs = Number(span[1]) * (UNITS[span[2] as string] as number);
    if (agoMs > 0 && agoMs <= MAX_SPAN_DAYS * UNITS.d!) return { agoMs };
  } else if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(text)) {
    const at = Date.parse(text.replace(' ', 'T'));
    if (Number.isFinite(at)) return { at: new Date(at).toISOString() };
  }
  throw new UsageError(`--since must be a span back from now (1s to ${MAX_SPAN_DAYS}d, e.g. 30m, 2h, 7d) or a time (e.g. 2025-06-01T12:00:00Z), got "${value}"`);
}

function parseKinds(value: string): DeadLetterKind[] {
  const kinds = value.split(',').map((k) => k.trim()).filter(Boolean);
  const unknown = kinds.find((k) => !(DEAD_LETTER_KINDS as readonly string[]).includes(k));
  if (kinds.length === 0 || unknown !== undefined) {
    throw new UsageError(`--kind must be ${DEAD_LETTER_KINDS.join(', ')} or several with commas, got "${unknown ?? value}" — e.g. --kind exhausted or --kind poison,rejected`);
  }
  return [...new Set(kinds)] as DeadLetterKind[];
}

function parseOrderId(value: string): string {
  if (!ORDER_ID_PATTERN.test(value)) throw new UsageError(`--order must be an order id (1–64 letters, digits, ".", "_", ":" or "-", starting with a letter or digit), got "${value}"`);
  return value;
}

function parseGrep(value: string): string {
  if (value.trim() === '' || value.length > MAX_GREP_LENGTH) throw new UsageError(`--grep must be 1–${MAX_GREP_LENGTH} characters of the reason to look for, got "${value.slice(0, 40)}" — e.g. --grep "scanner offline"`);
  return value;
}

/** Adds the four filter flags to a command. */
export function addFilterFlags(command: Command): Command {
  return command
    .addOption(new Option('--grep <text>', 'only dead letters whose reason contains this text (any case)').argParser(parseGrep))
    .addOption(new Option('--order <orderId>', "only this order's dead letters").argParser(parseOrderId))
    .addOption(new Option('--kind <kinds>', `only these kinds: ${DEAD_LETTER_KINDS.join(', ')} (several with commas)`).argParser(parseKinds))
    .addOption(new Option('--since <when>', 'only those dead-lettered since then: 30m, 2h, 7d, or a time').argParser(parseSince));
}

/**
 * The filter the flags describe, `--since` made absolute at `now`; undefined without any flag.
 * @example
 * filterOf({ grep: 'scanner', since: { agoMs: 1_800_000 } }, Date.parse('2025-06-01T12:30:00Z')); // { grep: 'scanner', since: '2025-06-01T12:00:00.000Z' }
 */
export function filterOf(flags: FilterFlags, now: number): DeadLetterFilter | undefined {
  const since = flags.since === undefined ? undefined : 'at' in flags.since ? flags.since.at : new Date(now - flags.since.agoMs).toISOString();
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
    flags.since !== undefined ? ` --since ${raw.since ?? ('at' in flags.since ? flags.since.at : `${Math.round(flags.since.agoMs / 60_000)}m`)}` : '',
  ].join('');
}
