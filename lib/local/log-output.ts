/**
 * The local runtime's terminal output: the functions' structured JSON logs and the runtime's own
 * lines, readable in a terminal (one coloured line each) and JSON when not a TTY (for piping into
 * jq or a log shipper). A level filter applies to both.
 */

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = 'pretty' | 'json';

const RANK: Record<string, number> = {
  trace: 0,
  debug: 1,
  info: 2,
  warn: 3,
  warning: 3,
  error: 4,
  critical: 5,
  silent: 9,
};
const COLOUR: Record<string, string> = {
  debug: '\x1b[90m',
  info: '\x1b[36m',
  warn: '\x1b[33m',
  error: '\x1b[31m',
  critical: '\x1b[31m',
};
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';

/** Keys Powertools adds to every line; noise in a terminal. */
const HIDDEN = new Set([
  'level',
  'message',
  'timestamp',
  'service',
  'cold_start',
  'function_arn',
  'function_memory_size',
  'function_name',
  'function_request_id',
  'sampling_rate',
  'xray_trace_id',
  'pipeline',
  'stage',
  'function',
]);

export interface LogOutputOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  readonly write?: (text: string) => void;
}

export class LogOutput {
  readonly #threshold: number;
  readonly #format: LogFormat;
  readonly #write: (text: string) => void;

  constructor({ level, format, write = (text) => void process.stdout.write(text) }: LogOutputOptions) {
    this.#threshold = RANK[level] ?? RANK.info!;
    this.#format = format;
    this.#write = write;
  }

  /** A line a function printed (Powertools JSON, or anything else it wrote). */
  functionLine(line: string, functionName: string): void {
    if (line.trim() === '') return;
    let entry: Record<string, unknown> | undefined;
    if (line.startsWith('{')) {
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        entry = undefined;
      }
    }
    if (!entry || typeof entry.level !== 'string') {
      this.emit('info', line, { function: functionName });
      return;
    }
    const { level, message, ...fields } = entry;
    this.#print(String(level).toLowerCase(), String(message ?? ''), { function: functionName, ...fields }, line);
  }

  /** A line of the runtime itself. */
  emit(level: Exclude<LogLevel, 'silent'>, message: string, fields: Record<string, unknown> = {}): void {
    this.#print(level, message, { function: 'runtime', ...fields });
  }

  /** A lifecycle line of the runtime (ready, stopping, stopped): shown at every level but `silent`. */
  notice(message: string, fields: Record<string, unknown> = {}): void {
    this.#print('info', message, { function: 'runtime', ...fields }, undefined, true);
  }

  #print(level: string, message: string, fields: Record<string, unknown>, original?: string, always = false): void {
    if ((RANK[level] ?? RANK.info!) < this.#threshold && !(always && this.#threshold < RANK.silent!)) return;
    if (this.#format === 'json') {
      this.#write(
        `${original ?? JSON.stringify({ level: level.toUpperCase(), message, timestamp: new Date().toISOString(), ...fields })}\n`,
      );
      return;
    }
    const time = new Date(typeof fields.timestamp === 'string' ? fields.timestamp : Date.now())
      .toISOString()
      .slice(11, 23);
    const where =
      fields.pipeline && fields.stage ? `${fields.pipeline}/${fields.stage}` : String(fields.function ?? '');
    const details = Object.entries(fields)
      .filter(([key, value]) => !HIDDEN.has(key) && value !== undefined)
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(' ');
    const colour = COLOUR[level] ?? '';
    this.#write(
      `${DIM}${time}${RESET} ${colour}${level.toUpperCase().padEnd(5)}${RESET} ${where.padEnd(14)} ${message}${details ? ` ${DIM}${details}${RESET}` : ''}\n`,
    );
  }
}
