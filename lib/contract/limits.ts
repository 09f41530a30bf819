/**
 * Limits an operator meets in the cloud and locally alike, and the service limits Conveyor is
 * sized against. One place: the topology loader, `conveyor scale`, the local admin API and the
 * stack check against the same numbers.
 */

/** Lambda's range for an SQS event source's maximum concurrency (`maxConcurrency`, `conveyor scale`). */
export const MAX_CONCURRENCY_RANGE = { min: 2, max: 1_000 } as const;

/** API Gateway waits at most this long for an integration (the intake) before answering 504. */
export const API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS = 29;

/**
 * Warehouses one stack holds: the largest topology that synthesizes within CloudFormation's
 * limits (500 resources, 200 outputs, 1 MB of template) with CloudFormation's validation on —
 * proven by test/infra/limits.test.ts, which also shows that one more does not fit.
 */
export const MAX_WAREHOUSES_PER_STACK = 10;

/**
 * Stages one stack holds, over every pipeline (warehouses × their chains): what the most warehouses
 * with the default chain need — each stage brings its queues, function, role and alarms, and the
 * largest such topology is the one test/infra/limits.test.ts proves fits.
 */
export const MAX_STAGES_PER_STACK = MAX_WAREHOUSES_PER_STACK * 3;
