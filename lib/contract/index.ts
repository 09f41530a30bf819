/**
 * The contract between Conveyor's cloud side (the CDK stack, `--target aws`) and its local side
 * (the runtime, its stats and alarm judge), and the handlers both run: metric names and
 * dimensions, the log messages queries select, alarm rules, operator limits, and the topology
 * manifest a deployed stack publishes. Everything both sides must agree on is written here once.
 */
export * from './alarm-rules.ts';
export * from './breaker.ts';
export * from './limits.ts';
export * from './log-messages.ts';
export * from './manifest.ts';
export * from './metrics.ts';
