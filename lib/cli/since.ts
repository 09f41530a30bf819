/**
 * `--since`: how far back a command looks — a duration (`90s`, `30m`, `1h`, `2d`) counted back from
 * now, or a point in time (ISO 8601, e.g. `2026-12-01T09:00:00Z`). Parsed when the flag is read (a
 * wrong value stops the command in one line); turned into a time when the command runs.
 */
import { UsageError } from './errors.ts';

const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** A look further back than a year is a typo (`--since 1000d`), not a wish. */
const MAX_BACK_MS = 366 * UNIT_MS.d!;

export type Since = { readonly kind: 'ago'; readonly ms: number } | { readonly kind: 'at'; readonly epochMs: number };

/**
 * For commander's `argParser`.
 * @example
 * sinceFlag('--since')('1h'); // { kind: 'ago', ms: 3600000 }
 */
export function sinceFlag(flag: string): (value: string) => Since {
  return (value) => {
    const text = value.trim();
    const ago = /^(\d+)\s*([smhd])$/i.exec(text);
    if (ago) {
      const ms = Number(ago[1]) * (UNIT_MS[(ago[2] as string).toLowerCase()] as number);
      if (ms > 0 && ms <= MAX_BACK_MS) return { kind: 'ago', ms };
    } else if (/^\d{4}-\d{2}-\d{2}(T|$)/.test(text) && Number.isFinite(Date.parse(text))) {
      return { kind: 'at', epochMs: Date.parse(text) };
    }
    throw new UsageError(`${flag} must be a duration up to a year (30s, 15m, 1h, 7d) or a time (2026-12-01T09:00:00Z), got "${value}" — e.g. ${flag} 1h`);
  };
}

/** The time `since` stands for, seen from `now` (epoch ms). */
export function sinceTime(since: Since, now: number): number {
  return since.kind === 'ago' ? now - since.ms : since.epochMs;
}
