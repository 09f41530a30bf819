/**
 * A progress bar and a spinner on stderr — only on a terminal; elsewhere (pipes, CI, tests) nothing is drawn and
 * only the closing summary is printed.
 */
import type { OutputStream } from './context.ts';
import { count, duration, rate } from './format.ts';

/** Redraws at most this often. */
const REDRAW_MS = 100;
const BAR_WIDTH = 28;

export interface Progress {
  update(done: number): void;
  /** Clears the bar (the summary follows). */
  finish(): void;
}

/**
 * @example
 * const bar = progressBar(process.stderr, 1000, 'orders', Date.now);
 * bar.update(250); // [███████░░░░░░░░░░░░░░░░░░░░░]  250/1,000  25%  812.3 orders/s  ETA 1s
 * bar.finish();
 */
export function progressBar(stream: OutputStream, total: number, unit: string, now: () => number): Progress {
  if (!stream.isTTY) return { update: () => undefined, finish: () => undefined };
  const started = now();
  let drawn = 0;
  let last = '';
  const draw = (done: number) => {
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(fraction * BAR_WIDTH);
    const seconds = (now() - started) / 1000;
    const perSecond = seconds > 0 ? done / seconds : 0;
    const eta = perSecond > 0 ? (total - done) / perSecond : null;
    const line = `[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}]  ${count(done)}/${count(total)}  ${Math.floor(fraction * 100)}%  ${rate(perSecond)} ${unit}/s  ETA ${duration(eta)}`;
    stream.write(`\r${line}${' '.repeat(Math.max(0, last.length - line.length))}`);
    last = line;
  };
  return {
    update(done) {
      const t = now();
      if (t - drawn < REDRAW_MS && done < total) return;
      drawn = t;
      draw(done);
    },
    finish() {
      if (last) stream.write(`\r${' '.repeat(last.length)}\r`);
    },
  };
}

export interface Spinner {
  /** What the spinner says now, e.g. `querying CloudWatch Logs Insights — 12,345 records scanned`. */
  update(text: string): void;
  /** Clears the line. */
  finish(): void;
}

const SPINNER_FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * A spinner with a line of text on stderr, for waits of unknown length — only on a terminal; elsewhere
 * nothing is drawn. It turns on its own (every 100 ms) between updates.
 *
 * @example
 * const spin = spinner(process.stderr, 'querying CloudWatch Logs Insights');
 * spin.update('querying CloudWatch Logs Insights — 1,204 records scanned');
 * spin.finish();
 */
export function spinner(stream: OutputStream, text: string): Spinner {
  if (!stream.isTTY) return { update: () => undefined, finish: () => undefined };
  let frame = 0;
  let current = text;
  let last = '';
  const draw = () => {
    const line = `${SPINNER_FRAMES[frame++ % SPINNER_FRAMES.length]} ${current}`;
    stream.write(`\r${line}${' '.repeat(Math.max(0, last.length - line.length))}`);
    last = line;
  };
  draw();
  const timer = setInterval(draw, REDRAW_MS);
  timer.unref();
  return {
    update(next) {
      current = next;
    },
    finish() {
      clearInterval(timer);
      if (last) stream.write(`\r${' '.repeat(last.length)}\r`);
    },
  };
}
