/**
 * Flag values, checked as they are parsed: a wrong one stops the command before anything is
 * touched, with one line naming the flag, the rule, what was given and an example.
 */
import { STAGE_NAME_PATTERN } from '../topology/model.ts';
import { UsageError } from './errors.ts';
import { DEFAULT_LOCAL_URL } from './local-target.ts';

const grouped = new Intl.NumberFormat('en-US');

/**
 * A whole-number flag within bounds, for commander's `argParser`.
 *
 * @example
 * new Option('--count <n>').argParser(wholeNumber('--count', 1, 1_000_000, '--count 100'));
 */
export function wholeNumber(flag: string, min: number, max: number, example: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new UsageError(
        `${flag} must be a whole number from ${grouped.format(min)} to ${grouped.format(max)}, got "${value}" — e.g. ${example}`,
      );
    }
    return n;
  };
}

/** A positive number flag (fractions allowed), e.g. a rate per second. */
export function positiveNumber(flag: string, max: number, example: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max) {
      throw new UsageError(
        `${flag} must be a number above 0 and at most ${grouped.format(max)}, got "${value}" — e.g. ${example}`,
      );
    }
    return n;
  };
}

/** `--stage`: a stage name (which stages exist, the target's topology says: see `selectStages`). */
export function stageName(value: string): string {
  if (!STAGE_NAME_PATTERN.test(value)) {
    throw new UsageError(
      `"${value}" is not a stage name — stages are named with lowercase letters, digits and dashes, as \`conveyor status\` lists them (e.g. --stage picking)`,
    );
  }
  return value;
}

/**
 * `--url` (or CONVEYOR_URL): where the local runtime listens. A URL, or as people type it:
 * `localhost:3457`, `127.0.0.1`, `:3457`, `3457` (http:// and 127.0.0.1 implied).
 *
 * @example
 * runtimeUrl('localhost:3457'); // 'http://localhost:3457'
 */
export function runtimeUrl(value: string, source = '--url'): string {
  const text = value.trim();
  const candidate = /^\d+$/.test(text)
    ? `http://127.0.0.1:${text}`
    : text.startsWith(':')
      ? `http://127.0.0.1${text}`
      : /^[a-z][a-z0-9+.-]*:\/\//i.test(text)
        ? text
        : `http://${text}`;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    throw new UsageError(
      `${source} must be the runtime's address, e.g. http://127.0.0.1:3000 or localhost:3000, got "${value}"`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`${source} must be an http:// address such as http://127.0.0.1:3000, got "${value}"`);
  return url.origin;
}

/**
 * The local runtime's address when --url is not given: CONVEYOR_URL, else CONVEYOR_PORT on
 * 127.0.0.1 (the variable `npm start` listens on), else the default.
 *
 * @example
 * localRuntimeUrl({ CONVEYOR_PORT: '3457' }); // 'http://127.0.0.1:3457'
 */
export function localRuntimeUrl(env: Readonly<Record<string, string | undefined>>): string {
  if (env.CONVEYOR_URL !== undefined && env.CONVEYOR_URL.trim() !== '')
    return runtimeUrl(env.CONVEYOR_URL, 'CONVEYOR_URL');
  const port = env.CONVEYOR_PORT?.trim();
  if (port === undefined || port === '') return DEFAULT_LOCAL_URL;
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65_535) {
    throw new UsageError(
      `CONVEYOR_PORT must be a port number from 1 to 65535, got "${env.CONVEYOR_PORT}" — e.g. CONVEYOR_PORT=3000, or pass --url`,
    );
  }
  return `http://127.0.0.1:${Number(port)}`;
}

/**
 * `--warehouse`, checked against the target's warehouses; absent means all of them.
 * @example
 * chooseWarehouses(undefined, ['wh-1', 'wh-2']); // ['wh-1', 'wh-2']
 */
export function chooseWarehouses(requested: string | undefined, known: readonly string[]): string[] {
  if (requested === undefined) return [...known];
  if (!known.includes(requested)) {
    throw new UsageError(
      `unknown warehouse "${requested}" — warehouses are ${known.join(', ')} (e.g. --warehouse ${known[0] ?? 'wh-1'}), or leave --warehouse out for all`,
    );
  }
  return [requested];
}
