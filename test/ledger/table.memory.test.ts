/** The table contract (table-contract.ts) on the in-memory table the unit and model-based tests use. */
import { describe } from 'vitest';
import type { Table } from '../../lib/ledger/table.ts';
import { MemoryTable } from '../support/memory-table.ts';
import { tableContract } from './table-contract.ts';

describe('the ledger table in memory', () => tableContract(async (): Promise<Table> => new MemoryTable()));
