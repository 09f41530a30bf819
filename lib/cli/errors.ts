/**
 * Errors of the `conveyor` CLI. Whatever goes wrong ends as ONE line on stderr that names the
 * problem and the fix, and a non-zero exit code — never a stack trace (unless `CONVEYOR_DEBUG=1`).
 *
 * Typed errors for what the CLI itself detects; `explainError` turns everything else (the SDK's
 * credential, region and CloudFormation errors, connection failures) into the same kind of line.
 */

/** Exit codes: 1 = the operation failed, 2 = the command line was wrong. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * A problem the user can fix; its message is the one line the CLI prints.
 *
 * @example
 * throw new CliError('no order "o-9" — check the id, or list dead letters with `conveyor dlq peek --stage picking`');
 */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT_FAILURE) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** The command line itself is wrong (a flag value, a missing confirmation, an unknown stage). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
    this.name = 'UsageError';
  }
}

/** The local runtime is not listening at the URL. */
export class RuntimeUnreachableError extends CliError {
  readonly url: string;

  constructor(url: string, cause?: string) {
    super(
      cause === undefined || cause === 'ECONNREFUSED'
        ? `no Conveyor runtime at ${url} — start it with \`npm start\`, or pass --url`
        : `cannot reach a Conveyor runtime at ${url} (${cause}) — start it with \`npm start\`, or pass --url`,
    );
    this.name = 'RuntimeUnreachableError';
    this.url = url;
  }
}

/** The stack cannot be used: it does not exist, or it lacks Conveyor's outputs. */
export class StackError extends CliError {
  constructor(message: string) {
    super(message);
    this.name = 'StackError';
  }
}

/** What the AWS target needs to explain SDK errors in terms of the command line. */
export interface AwsErrorContext {
  readonly stack?: string;
  readonly region?: string;
  readonly profile?: string;
}

/**
 * One line for any error: a `CliError`'s own message, or an explanation of a known SDK or network
 * error, or — for the unexpected — the message with a pointer to `CONVEYOR_DEBUG=1`.
 *
 * @example
 * explainError(new Error('Could not load credentials from any providers'), {}).message;
 * // 'no AWS credentials found — configure a profile (`aws configure` or `aws sso login`) …'
 */
export function explainError(error: unknown, aws: AwsErrorContext = {}): CliError {
  if (error instanceof CliError) return error;
  const err = error instanceof Error ? error : new Error(String(error));
  const name = err.name;
  const message = oneLine(err.message);
  const profile = aws.profile ? ` for profile "${aws.profile}"` : '';

  if (
    name === 'CredentialsProviderError' ||
    /could not load credentials|could not resolve credentials|credential is missing|unable to (find|load) (any )?credentials/i.test(
      message,
    )
  ) {
    return new CliError(
      `no AWS credentials${profile} (${message}) — configure a profile (\`aws configure\` or \`aws sso login\`) and pass --profile, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY`,
    );
  }
  if (/region is missing/i.test(message)) {
    return new UsageError(`no AWS region${profile} — pass --region (e.g. --region eu-west-1) or set AWS_REGION`);
  }
  if (
    ['ExpiredToken', 'ExpiredTokenException', 'TokenRefreshRequired'].includes(name) ||
    /token (has )?expired|expired token/i.test(message)
  ) {
    return new CliError(
      `your AWS session has expired (${message}) — sign in again (\`aws sso login${aws.profile ? ` --profile ${aws.profile}` : ''}\`) or refresh the credentials`,
    );
  }
  if (
    [
      'UnrecognizedClientException',
      'InvalidClientTokenId',
      'SignatureDoesNotMatch',
      'InvalidSignatureException',
    ].includes(name)
  ) {
    return new CliError(
      `AWS rejected the credentials${profile} (${name}: ${message}) — check the profile or keys, and pass --profile`,
    );
  }
  if (name === 'AccessDenied' || name === 'AccessDeniedException' || /not authorized to perform/i.test(message)) {
    return new CliError(
      `AWS denied the request (${message}) — your role needs the permission named there; see README "Operating it" for what each command calls`,
    );
  }
  if (name === 'ValidationError' && /does not exist/i.test(message) && aws.stack) {
    return new StackError(
      `stack "${aws.stack}" does not exist in ${aws.region ?? 'this region'} — deploy it with \`npx cdk deploy\`, or pass --stack NAME and --region R`,
    );
  }
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new CliError(`the request timed out (${message}) — check the network, then try again`);
  }
  const code = networkCode(err);
  if (
    code &&
    ['ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT'].includes(code)
  ) {
    return new CliError(`network error (${code}: ${message}) — check the connection and the region, then try again`);
  }
  return new CliError(
    `unexpected error: ${name && name !== 'Error' ? `${name}: ` : ''}${message} (set CONVEYOR_DEBUG=1 to see where)`,
  );
}

/** The system error code of a failed connection (`ECONNREFUSED`, …), looking through `fetch`'s `cause`. */
export function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z_]+$/.test(code)) return code;
    const errors = (current as { errors?: unknown[] }).errors;
    if (Array.isArray(errors) && errors.length > 0) current = errors[0];
    else current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Messages are printed on one line. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * An HTTP error answer as one phrase. Conveyor's errors are `{"error", "details": [{field, message}]}`;
 * API Gateway's own are `{"message"}`.
 *
 * @example
 * describeHttpProblem(400, { error: 'invalid request body', details: [{ field: 'maxConcurrency', message: 'must be …' }] });
 * // '400 invalid request body (maxConcurrency: must be …)'
 */
export function describeHttpProblem(status: number, body: unknown): string {
  const b = body as
    | { error?: unknown; message?: unknown; Message?: unknown; details?: Array<{ field?: string; message?: string }> }
    | undefined;
  if (b && typeof b === 'object') {
    if (typeof b.error === 'string') {
      const details = (Array.isArray(b.details) ? b.details : [])
        .map((d) => `${d.field ? `${d.field}: ` : ''}${d.message ?? ''}`)
        .join('; ');
      return `${status} ${b.error}${details ? ` (${details})` : ''}`;
    }
    const message = b.message ?? b.Message;
    if (typeof message === 'string') return `${status} ${oneLine(message)}`;
  }
  const text = typeof body === 'string' ? oneLine(body).slice(0, 200) : '';
  return `${status}${text ? ` ${text}` : ''}`;
}
