/**
 * Elements bound to the page model: rendered with the current figure on the server, kept live by the
 * browser script, which finds them by their `data-*` marks and never rebuilds the structure.
 *
 *   data-bind / data-fmt     the text: the value at a path, formatted (format.js)
 *   data-hot / data-over     coloured while the figure is above a threshold
 *   data-tone                the class follows the value (a paused pill, a breaker's state)
 *   data-bind-title          the title: the value at another path (e.g. why the breaker is open)
 *   data-when / data-when-is shown only while the value at a path is one of a list (Pause / Resume)
 */
import { formatValue, isHot, isShown, lookup, toneOf, type PageModel, type ValueKind } from './assets/format.js';
import { html, type Html } from './html.ts';

export interface Hot {
  /** Colour the figure when it is above `over` (default 0). */
  readonly hot?: 'bad' | 'warn';
  readonly over?: number;
}

/**
 * An element showing one figure of the model.
 * @example
 * bound(model, 'td', 'stats.pipelines.wh-1.picking.dlq', 'int', { hot: 'bad' }, 'num')
 */
export function bound(
  model: PageModel,
  tag: 'span' | 'td' | 'b',
  path: string,
  fmt: ValueKind,
  hot: Hot = {},
  className?: string,
): Html {
  const value = lookup(model, path);
  const classes = [className, hot.hot && isHot(value, hot.over) ? `hot-${hot.hot}` : undefined]
    .filter(Boolean)
    .join(' ');
  const attributes = html`${classes ? html` class="${classes}"` : ''} data-bind="${path}" data-fmt="${fmt}"${hot.hot ? html` data-hot="${hot.hot}"` : ''}${hot.over !== undefined ? html` data-over="${hot.over}"` : ''}`;
  const text = formatValue(fmt, value);
  if (tag === 'td') return html`<td${attributes}>${text}</td>`;
  if (tag === 'b') return html`<b${attributes}>${text}</b>`;
  return html`<span${attributes}>${text}</span>`;
}

/**
 * A figure whose class follows its value, with its title from another path.
 * @example
 * toned(model, 'stats.pipelines.wh-1.picking.breaker', 'breaker', 'pill', 'stats.pipelines.wh-1.picking.breakerReason')
 */
export function toned(model: PageModel, path: string, fmt: ValueKind, base: string, titlePath?: string): Html {
  const value = lookup(model, path);
  const classes = [base, toneOf(fmt, value)].filter(Boolean).join(' ');
  const title = titlePath === undefined ? undefined : lookup(model, titlePath);
  return html`<span class="${classes}" data-bind="${path}" data-fmt="${fmt}" data-tone="${base}"${titlePath ? html` data-bind-title="${titlePath}" title="${title === undefined ? '' : String(title)}"` : ''}>${formatValue(fmt, value)}</span>`;
}

/**
 * The attributes that show an element only while the value at `path` is one of `values`.
 * @example
 * html`<button ${shownWhen(model, 'stats.pipelines.wh-1.picking.paused', ['true'])}>Resume</button>`
 */
export function shownWhen(model: PageModel, path: string, values: readonly string[]): Html {
  return html`data-when="${path}" data-when-is="${values.join(',')}"${isShown(model, path, values) ? '' : html` hidden`}`;
}

/** Where a stage's figures are in the page model, e.g. `stats.pipelines.wh-1.picking`. */
export function stagePath(stage: { readonly pipelineId: string; readonly name: string }): string {
  return `stats.pipelines.${stage.pipelineId}.${stage.name}`;
}
