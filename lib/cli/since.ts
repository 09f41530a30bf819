/**
 * `--since`: how far back a command looks — a duration (`90s`, `30m`, `1h`, `2d`) counted back from
 * now, or a point in time (ISO 8601, e.g. `2026-12-01T09:00:00Z`). Parsed when the flag is read (a
 * wrong value stops the command in one line); turned into a time when the command runs.
 */
import { UsageError } from './errors.ts';

const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
export type Since = { readonly kind: 'ago'; readonly ms: number } | { readonly kind: 'at'; readonly epochMs: number };

/** How far back a `--since` may look, and why (said when a value goes further). */
export interface SinceLimit {
  readonly maxDays: number;
  /** e.g. "SQS keeps a dead letter at most 14 days". */
  readonly why?: string;
}

/** A look further back than a year is a typo (`--since 1000d`), not a wish. */
const A_YEAR: SinceLimit = { maxDays: 366 };

/**
 * For commander's `argParser`: a duration (`30s`, `15m`, `1h`, `7d`) up to `limit.maxDays`, or a time
 * (ISO 8601 with `T` or a space).
 * @example
 * sinceFlag('--since')('1h'); // { kind: 'ago', ms: 3600000 }
 * sinceFlag('--since', { maxDays: 14 })('30d'); // throws: --since must be a duration up to 14 days …
 */
export function sinceFlag(flag: string, limit: SinceLimit = A_YEAR): (value: string) => Since {
  return (value) => {
    const text = value.trim();
    const ago = /^(\d{1,6})\s*([smhd])$/i.exec(text);
    if (ago) {
      const ms = Number(ago[1]) * (UNIT_MS[(ago[2] as string).toLowerCase()] as number);
      if (ms > 0 && ms <= limit.maxDays * UNIT_MS.d!) return { kind: 'ago', ms };
    } else if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(text)) {
      const at = Date.parse(text.replace(' ', 'T'));
      if (Number.isFinite(at)) return { kind: 'at', epochMs: at };
    }
    const span = limit === A_YEAR ? 'a year' : `${limit.maxDays} days${limit.why ? ` (${limit.why})` : ''}`;
    throw new UsageError(
      `${flag} must be a duration up to ${span} (30s, 15m, 1h, 7d) or a time (2026-12-01T09:00:00Z), got "${value}" — e.g. ${flag} 1h`,
    );
  };
}

/** The time `since` stands for, seen from `now` (epoch ms). */
export function sinceTime(since: Since, now: number): number {
  return since.kind === 'ago' ? now - since.ms : since.epochMs;
}

/** The flag as a user would type it again (for hints): the duration in minutes, or the time. */
export function sinceText(since: Since): string {
  return since.kind === 'ago' ? `${Math.round(since.ms / 60_000)}m` : new Date(since.epochMs).toISOString();
}
