/**
 * Aligned text tables for the terminal: left-aligned words, right-aligned numbers, widths measured
 * on what is visible (colour escapes take no room).
 */
import { visible } from './style.ts';

export interface Column {
  readonly header: string;
  /** Numbers right, words left. @default 'left' */
  readonly align?: 'left' | 'right';
}

/**
 * The table as lines, header first, columns separated by two spaces, no trailing blanks.
 *
 * @example
 * renderTable([{ header: 'STAGE' }, { header: 'READY', align: 'right' }], [['picking', '12'], ['packing', '0']]);
 * // ['STAGE    READY', 'picking     12', 'packing      0']
 */
export function renderTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
  options: { readonly headerStyle?: (text: string) => string } = {},
): string[] {
  const widths = columns.map((column, i) =>
    Math.max(visible(column.header).length, ...rows.map((row) => visible(row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    columns
      .map((column, i) => {
        const cell = cells[i] ?? '';
        const pad = ' '.repeat(Math.max(0, (widths[i] ?? 0) - visible(cell).length));
        return column.align === 'right' ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  const style = options.headerStyle ?? ((text: string) => text);
  return [style(line(columns.map((c) => c.header))), ...rows.map(line)];
}
