/**
 * Cost per million orders, from per-order counts measured at the emulators and AWS's public
 * on-demand prices (us-east-1). Free tiers are ignored: this is the marginal cost at scale.
 */

/** Public prices used, with the date they were read. */
export const PRICES = {
  asOf: '2026-11-01 (us-east-1, on-demand, no free tier)',
  /** SQS standard queue: per million requests; every 64 KB chunk of a request counts as one. */
  sqsPerMillionRequests: 0.4,
  /** Lambda on arm64: per million requests, and per GB-second of duration. */
  lambdaPerMillionRequests: 0.2,
  lambdaArmPerGbSecond: 0.0000133334,
  /** DynamoDB on-demand: per million write request units (1 KB each) and read request units (4 KB, strongly consistent; eventually consistent reads cost half). */
  dynamodbPerMillionWrites: 0.625,
  dynamodbPerMillionReads: 0.125,
  /** API Gateway REST API: per million requests (first 333 million a month). Shown separately. */
  apiGatewayPerMillionRequests: 3.5,
} as const;

/** What one order costs, counted at the emulators and the local Lambda. */
export interface PerOrderCounts {
  /** SQS requests of the pipeline (sends, receives — empty ones too — deletes, visibility changes), in 64 KB chunks. */
  readonly sqsRequests: number;
  /** DynamoDB requests (a batch call is one request, whatever its items). */
  readonly dynamodbRequests: number;
  /** Items written: what write request units are billed by. */
  readonly dynamodbWrites: number;
  /** Items read (the idempotency lookups are eventually consistent: half a unit each). */
  readonly dynamodbReads: number;
  readonly handlerInvocations: number;
  /** Billed function time, GB-seconds. */
  readonly lambdaGbSeconds: number;
  /** API requests (one per order, or one per 100 with bulk intake). */
  readonly apiRequests: number;
}

export interface CostBreakdown {
  readonly sqs: number;
  readonly lambdaRequests: number;
  readonly lambdaDuration: number;
  readonly dynamodb: number;
  /** Everything but API Gateway. */
  readonly total: number;
  readonly apiGateway: number;
}

/**
 * Dollars per million orders. Lambda duration measured locally (a 2-core VM, workers sharing the
 * CPU with the emulators) overstates what Lambda bills for the same work: treat it as an upper bound.
 */
export function costPerMillionOrders(c: PerOrderCounts): CostBreakdown {
  const round = (n: number) => Math.round(n * 1000) / 1000;
  const sqs = c.sqsRequests * PRICES.sqsPerMillionRequests;
  const lambdaRequests = c.handlerInvocations * PRICES.lambdaPerMillionRequests;
  const lambdaDuration = c.lambdaGbSeconds * PRICES.lambdaArmPerGbSecond * 1e6;
  const dynamodb =
    c.dynamodbWrites * PRICES.dynamodbPerMillionWrites + c.dynamodbReads * 0.5 * PRICES.dynamodbPerMillionReads;
  return {
    sqs: round(sqs),
    lambdaRequests: round(lambdaRequests),
    lambdaDuration: round(lambdaDuration),
    dynamodb: round(dynamodb),
    total: round(sqs + lambdaRequests + lambdaDuration + dynamodb),
    apiGateway: round(c.apiRequests * PRICES.apiGatewayPerMillionRequests),
  };
}
