/** The circuit breakers of the stack's stages: on a failure-rate alarm, every minute, and on an operator's command (lib/orders/breaker.ts). */
import { breakerHandler } from '../lib/orders/breaker.ts';

export const handler = breakerHandler();
