/** Intake: the order API (API Gateway REST proxy integration). Validates, queues to the warehouse's first stage, records `accepted`. */
import { createOrderApi } from '../lib/api/order-api.ts';

export const handler = createOrderApi();
