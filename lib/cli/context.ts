/**
 * What a CLI run talks to: its output streams, environment, clock and network. `bin/conveyor-cli.ts`
 * passes the process's; tests pass their own and run commands in-process.
 */
import { colourWanted, createStyle, type Style } from './style.ts';

export interface OutputStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface CliContext {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** HTTP for the local runtime and the order API. */
  readonly fetch: typeof fetch;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** AWS credentials; the SDK's default chain (with `--profile`) when absent. */
  readonly awsCredentials?: CredentialsProvider;
  /**
   * Calls `handler` on the first Ctrl-C (SIGINT) instead of dying, so a long operation can stop
   * cleanly; a second Ctrl-C ends the process. Returns the undo. Absent: Ctrl-C is not caught.
   */
  readonly onInterrupt?: (handler: () => void) => () => void;
}

/** AWS credentials as the SDK's providers resolve them. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}
export type CredentialsProvider = () => Promise<AwsCredentials>;

/** The context of a real run: this process's streams and environment. */
export function processContext(): CliContext {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    fetch: globalThis.fetch,
    now: Date.now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    onInterrupt: (handler) => {
      const first = () => {
        process.once('SIGINT', () => process.exit(130));
        handler();
      };
      process.once('SIGINT', first);
      return () => void process.off('SIGINT', first);
    },
  };
}

/** Colour for what goes to stdout (tables) or stderr (progress, errors). */
export function styleFor(context: CliContext, stream: 'stdout' | 'stderr' = 'stdout'): Style {
  return createStyle(colourWanted(context[stream].isTTY, context.env));
}

/** Writes one line to stdout. */
export function say(context: CliContext, line = ''): void {
  context.stdout.write(`${line}\n`);
}

/** Writes a value as pretty JSON to stdout (`--json`). */
export function sayJson(context: CliContext, value: unknown): void {
  context.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
