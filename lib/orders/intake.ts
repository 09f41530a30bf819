/** The intake (order API) function, wired to this deployment's ledger, each invocation traced where tracing is on. */
import { createOrderApi, type OrderApiHandler, type OrderApiOptions } from '../api/order-api.ts';
import { readIntakeConfig } from '../runtime/environment.ts';
import { traceInvocations } from '../runtime/telemetry.ts';
import { orderLedger } from './ledger.ts';

/**
 * @example
 * // handlers/intake.ts
 * export const handler = orderApiHandler();
 */
export function orderApiHandler(options: Partial<OrderApiOptions> = {}): OrderApiHandler {
  const config = options.config ?? readIntakeConfig();
  return traceInvocations('intake', createOrderApi({ ledger: orderLedger(config.tableName), ...options, config }));
}
