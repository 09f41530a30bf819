/** Durations in alarm descriptions, as an operator reads them. */

/**
 * @example
 * formatDuration(60); // '60 s'
 * formatDuration(600); // '10 min'
 * formatDuration(259_200); // '3 d'
 */
export function formatDuration(seconds: number): string {
  if (seconds % 86_400 === 0 && seconds >= 86_400) return `${seconds / 86_400} d`;
  if (seconds % 3_600 === 0 && seconds >= 3_600) return `${seconds / 3_600} h`;
  if (seconds % 60 === 0 && seconds > 60) return `${seconds / 60} min`;
  return `${seconds} s`;
}
