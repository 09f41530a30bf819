/** The dead-letter auditor: on a schedule, records every dead letter the ledger has not noted (e.g. moved by a redrive policy). */
import { deadLetterAuditorHandler } from '../lib/orders/auditor.ts';

export const handler = deadLetterAuditorHandler();
