/** Intake: the order API (API Gateway REST proxy integration). Validates, claims the order id, queues to the warehouse's first stage. */
import { orderApiHandler } from '../lib/orders/intake.ts';

export const handler = orderApiHandler();
