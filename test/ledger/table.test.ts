/** The table contract (table-contract.ts) on DynamoDB, as dynalite serves it. */
import { describe } from 'vitest';
import { dynaliteTables } from '../support/dynalite-tables.ts';
import { tableContract } from './table-contract.ts';

describe('the ledger table on DynamoDB (dynalite)', () => tableContract(dynaliteTables('contract')));
