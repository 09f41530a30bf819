/** How the CLI writes numbers, durations and times: short, aligned, the same everywhere. */

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** `1234` → `1,234`; null (not known on this target) → `—`. */
export function count(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : integer.format(value);
}

/** Rates per second: one decimal below 100, whole numbers above. */
export function rate(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  return value >= 100 ? integer.format(value) : value.toFixed(1);
}

/** `0` → `0s`, `75` → `1m15s`, `7260` → `2h01m`; null → `—`. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}

/** Milliseconds as seconds with sensible precision: `850` → `0.85 s`, `12_300` → `12.3 s`. */
export function millis(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** An ISO time as `2025-01-31 12:00:01.234` (UTC, as stored). */
export function timestamp(iso: string | undefined): string {
  if (!iso) return '—';
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?)/.exec(iso);
  return match ? `${match[1]} ${match[2]}` : iso;
}

/** `1` → `order`, `2` → `orders`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${integer.format(n)} ${n === 1 ? one : many}`;
}
