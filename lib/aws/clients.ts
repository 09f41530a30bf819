/**
 * AWS SDK clients of the handlers, created once per execution environment and reused across
 * invocations (connection reuse is most of an SDK call's cost). Endpoints are never set here:
 * in Lambda the SDK finds AWS; locally the runtime sets AWS_ENDPOINT_URL_SQS /
 * AWS_ENDPOINT_URL_DYNAMODB, which the SDK reads — the handlers cannot tell the difference.
 *
 * Every call is bounded in time. A function that must answer its caller in time (the intake, behind
 * API Gateway) has its calls sized from that time (`sdkTimeouts`): a dependency that hangs becomes a
 * 503 + Retry-After instead of the function running into its timeout (`sdkTimeoutsOf` in
 * lib/runtime/environment.ts reads that time from the function's environment). And once a call timed out,
 * the next calls to that service fail at once for a short cool-down (`failFastAfterTimeout`), so an
 * invocation that makes many calls in a row — a bulk request to every warehouse, retries of failed
 * entries — does not wait out each of them against a dependency already known to hang.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { MiddlewareStack } from '@smithy/types';

/** How long one SDK call may take, and how often it is tried. */
export interface SdkTimeouts {
  readonly maxAttempts: number;
  /** One attempt, from sending to the response's headers (connecting included). */
  readonly requestTimeoutMs: number;
  readonly connectionTimeoutMs: number;
}

/** Time kept back from the budget to build and return the answer. */
const ANSWER_RESERVE_MS = 1_000;
/**
 * Calls one request may wait out in a row: one per service it uses (DynamoDB, SQS). However many
 * calls it makes, once a call to a service timed out the next ones fail at once (`failFastAfterTimeout`).
 */
const SEQUENTIAL_TIMEOUTS = 2;
/** The SDK's standard retry waits up to 100 ms × 2^n before retry n (full jitter) after a timeout or a 5xx. */
const RETRY_BASE_DELAY_MS = 100;
/** The SDK's default: one try and two retries. */
const MAX_ATTEMPTS = 3;
/**
 * No attempt gets less: a healthy SQS or DynamoDB answers in milliseconds, a loaded one — or a
 * local emulator on a busy machine, with a batch of 100 — in up to a second or two.
 */
const MIN_REQUEST_TIMEOUT_MS = 2_000;
/** Nor more. */
const MAX_REQUEST_TIMEOUT_MS = 10_000;

/**
 * Timeouts and retries that keep one SDK call — every attempt and the backoff between them —
 * within half of `answerWithinSeconds` less a second to answer, so that a call to each service
 * timing out in a row still ends in time. As many attempts as still get two seconds each (up to the
 * SDK's three); from 5 s up the whole budget holds, below that each call still gets its two seconds.
 *
 * @example
 * sdkTimeouts(10); // the intake's default timeout: { maxAttempts: 2, requestTimeoutMs: 2150, connectionTimeoutMs: 1000 }
 */
export function sdkTimeouts(answerWithinSeconds: number): SdkTimeouts {
  const budgetMs = Math.max(0, (answerWithinSeconds * 1000 - ANSWER_RESERVE_MS) / SEQUENTIAL_TIMEOUTS);
  const perAttempt = (attempts: number) => (budgetMs - RETRY_BASE_DELAY_MS * (2 ** attempts - 2)) / attempts;
  let maxAttempts = MAX_ATTEMPTS;
  while (maxAttempts > 1 && perAttempt(maxAttempts) < MIN_REQUEST_TIMEOUT_MS) maxAttempts--;
  const requestTimeoutMs = Math.floor(
    Math.min(MAX_REQUEST_TIMEOUT_MS, Math.max(MIN_REQUEST_TIMEOUT_MS, perAttempt(maxAttempts))),
  );
  return { maxAttempts, requestTimeoutMs, connectionTimeoutMs: Math.min(1_000, requestTimeoutMs) };
}

/** Without a time to answer within (stage functions: their runtime keeps its own deadlines), the SDK's three attempts, each cut at 10 s. */
export const UNBUDGETED: SdkTimeouts = {
  maxAttempts: MAX_ATTEMPTS,
  requestTimeoutMs: MAX_REQUEST_TIMEOUT_MS,
  connectionTimeoutMs: 2_000,
};

/** What a call fails with while the cool-down after a timeout lasts: a server-side fault, like the timeout itself. */
export class DependencyTimeoutError extends Error {
  readonly $fault = 'server';
  constructor(service: string, retryInMs: number) {
    super(`${service} did not answer in time just now; not calling it again for ${retryInMs} ms`);
    this.name = 'DependencyTimeoutError';
  }
}

/**
 * After a call to the client's service timed out (every attempt), further calls fail at once with
 * DependencyTimeoutError for `coolDownMs`; the first call after it tries the service again, and a
 * success clears the state. Only timeouts count: a refused connection or a 5xx fails fast already.
 * Hand-written (a dozen lines of SDK middleware) rather than a circuit-breaker library, which
 * would add a dependency to every handler bundle for this one rule.
 */
export function failFastAfterTimeout(
  // biome-ignore lint/suspicious/noExplicitAny: any client's stack (each has its own input and output types)
  client: { middlewareStack: MiddlewareStack<any, any> },
  service: string,
  coolDownMs: number,
): void {
  let blockedUntil = 0;
  client.middlewareStack.add(
    (next) => async (args) => {
      const now = Date.now();
      if (now < blockedUntil) throw new DependencyTimeoutError(service, blockedUntil - now);
      try {
        const output = await next(args);
        blockedUntil = 0;
        return output;
      } catch (error) {
        if ((error as Error).name === 'TimeoutError') blockedUntil = Date.now() + coolDownMs;
        throw error;
      }
    },
    // Outside the retry middleware: the cool-down starts once every attempt has timed out.
    { step: 'initialize', name: 'conveyorFailFastAfterTimeout' },
  );
}

function clientConfig(timeouts: SdkTimeouts): { maxAttempts: number; requestHandler: Record<string, unknown> } {
  return {
    maxAttempts: timeouts.maxAttempts,
    requestHandler: {
      connectionTimeout: timeouts.connectionTimeoutMs,
      requestTimeout: timeouts.requestTimeoutMs,
      // Without it the SDK only logs a warning when requestTimeout passes, and waits on.
      throwOnRequestTimeout: true,
      httpAgent: { keepAlive: true, maxSockets: 64 },
      httpsAgent: { keepAlive: true, maxSockets: 64 },
    },
  };
}

/** What traces a client's calls: Powertools Tracer's `captureAWSv3Client`, where tracing is on (lib/runtime/telemetry.ts). */
export interface ClientTracer {
  captureAWSv3Client<T>(client: T): T;
}

let sqs: SQSClient | undefined;
let documents: DynamoDBDocumentClient | undefined;

/** The shared SQS client; `timeouts` and `traced` count for the call that creates it (the first). */
export function sqsClient(timeouts: SdkTimeouts = UNBUDGETED, traced?: ClientTracer): SQSClient {
  sqs ??= createSqsClient(timeouts, traced);
  return sqs;
}

/** The shared DynamoDB document client (plain JS values in and out); `timeouts` and `traced` as for `sqsClient`. */
export function documentClient(timeouts: SdkTimeouts = UNBUDGETED, traced?: ClientTracer): DynamoDBDocumentClient {
  documents ??= createDocumentClient(timeouts, traced);
  return documents;
}

/**
 * An SQS client with these timeouts, failing fast after a timeout, and captured by the tracer when
 * one is given: each call is then a subsegment of the invocation's trace.
 */
export function createSqsClient(timeouts: SdkTimeouts, traced?: ClientTracer): SQSClient {
  const client = new SQSClient(clientConfig(timeouts));
  failFastAfterTimeout(client, 'SQS', timeouts.requestTimeoutMs);
  return traced ? traced.captureAWSv3Client(client) : client;
}

/** The same for DynamoDB: the document client shares the captured client's middleware, so its calls are traced too. */
export function createDocumentClient(timeouts: SdkTimeouts, traced?: ClientTracer): DynamoDBDocumentClient {
  const dynamodb = new DynamoDBClient(clientConfig(timeouts));
  failFastAfterTimeout(dynamodb, 'DynamoDB', timeouts.requestTimeoutMs);
  return DynamoDBDocumentClient.from(traced ? traced.captureAWSv3Client(dynamodb) : dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
  });
}
