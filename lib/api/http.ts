/**
 * HTTP responses of the order API, in API Gateway's Lambda proxy format. Every error has the
 * same JSON shape — `{"error": "...", "details": [{"field", "message"}]}` — whether API Gateway
 * or the handler rejects the request.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';

export interface ErrorDetail {
  /** Where the problem is: a body path (`items.0.quantity`), a header or a path parameter. */
  readonly field: string;
  readonly message: string;
}

const BASE_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { ...BASE_HEADERS, ...headers }, body: JSON.stringify(body) };
}

export function problem(
  statusCode: number,
  error: string,
  details: readonly ErrorDetail[] = [],
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return json(statusCode, { error, details }, headers);
}

/** Case-insensitive header lookup (API Gateway passes headers as the client sent them). */
export function header(
  headers: Record<string, string | undefined> | null | undefined,
  name: string,
): string | undefined {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}
