/**
 * Terminal colour, only where it helps: on a TTY, unless `NO_COLOR` is set (https://no-color.org);
 * `FORCE_COLOR=1` forces it (e.g. through a pager that keeps escapes).
 */

export interface Style {
  readonly enabled: boolean;
  readonly bold: (text: string) => string;
  readonly dim: (text: string) => string;
  readonly red: (text: string) => string;
  readonly yellow: (text: string) => string;
  readonly green: (text: string) => string;
  readonly cyan: (text: string) => string;
}

/** Whether to colour output written to a stream with this TTY flag, under this environment. */
export function colourWanted(isTTY: boolean | undefined, env: Readonly<Record<string, string | undefined>>): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  return isTTY === true && env.TERM !== 'dumb';
}

/**
 * @example
 * const style = createStyle(colourWanted(process.stdout.isTTY, process.env));
 * style.red('3'); // '\x1b[31m3\x1b[39m' on a terminal, '3' otherwise
 */
export function createStyle(enabled: boolean): Style {
  const wrap = (open: number, close: number) => (text: string) =>
    enabled && text !== '' ? `\x1b[${open}m${text}\x1b[${close}m` : text;
  return {
    enabled,
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    yellow: wrap(33, 39),
    green: wrap(32, 39),
    cyan: wrap(36, 39),
  };
}

/** The text without ANSI escapes: what takes room on the screen. */
export function visible(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}
