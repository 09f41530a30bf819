/**
 * Flag values, checked as they are parsed: a wrong one stops the command before anything is
 * touched, with one line naming the flag, the rule, what was given and an example.
 */
import { STAGE_NAMES } from '../topology/model.ts';
import { UsageError } from './errors.ts';

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
      throw new UsageError(`${flag} must be a whole number from ${grouped.format(min)} to ${grouped.format(max)}, got "${value}" — e.g. ${example}`);
    }
    return n;
  };
}

/** A positive number flag (fractions allowed), e.g. a rate per second. */
export function positiveNumber(flag: string, max: number, example: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max) {
      throw new UsageError(`${flag} must be a number above 0 and at most ${grouped.format(max)}, got "${value}" — e.g. ${example}`);
    }
    return n;
  };
}

/** `--stage`: one of the pipeline's stages. */
export function stageName(value: string): string {
  if (!(STAGE_NAMES as readonly string[]).includes(value)) {
    throw new UsageError(`unknown stage "${value}" — stages are ${STAGE_NAMES.join(', ')} (e.g. --stage picking)`);
  }
  return value;
}

/** `--url`: where the local runtime listens. */
export function runtimeUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--url must be a URL such as http://127.0.0.1:3000, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url must be an http:// URL such as http://127.0.0.1:3000, got "${value}"`);
  return url.origin;
}

/**
 * `--warehouse`, checked against the target's warehouses; absent means all of them.
 * @example
 * chooseWarehouses(undefined, ['wh-1', 'wh-2']); // ['wh-1', 'wh-2']
 */
export function chooseWarehouses(requested: string | undefined, known: readonly string[]): string[] {
  if (requested === undefined) return [...known];
  if (!known.includes(requested)) {
    throw new UsageError(`unknown warehouse "${requested}" — warehouses are ${known.join(', ')} (e.g. --warehouse ${known[0] ?? 'wh-1'}), or leave --warehouse out for all`);
  }
  return [requested];
}
