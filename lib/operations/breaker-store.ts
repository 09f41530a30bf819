/**
 * Where a deployed stack keeps its circuit breakers: one item per stage in the status table, in a
 * partition of its own (`#breaker`: order ids start with a letter or a digit, so no order can ever
 * share it). Every change is a conditional write on the item's version — two invocations that both
 * decide to open a breaker cannot both do it: the second write fails and that invocation does nothing.
 *
 * The item also says what the stage's event source mapping must be in that state, and whether it
 * already is (`synced`): the state is written first, the mapping changed after, and a change that
 * failed half-way is finished by the next run.
 */
import type { BreakerStatus } from '../contract/breaker.ts';
import { CLOSED } from '../contract/breaker.ts';
import { absent, equals, type Item, type Table } from '../ledger/table.ts';

/** The partition key of every breaker item (never a valid order id: ORDER_ID_PATTERN starts with [A-Za-z0-9]). */
export const BREAKER_PARTITION = '#breaker';

/** What the stage's event source mapping must be: consuming or not, and at which maximum concurrency (unchanged when absent). */
export interface MappingSetting {
  readonly enabled: boolean;
  readonly maxConcurrency?: number;
}

/** A stage's breaker as stored. */
export interface BreakerRecord extends BreakerStatus {
  /** 0 for a breaker never written (closed since the stack exists). */
  readonly version: number;
  /** The mapping's maximum concurrency before a probe lowered it (half-open only). */
  readonly restoreConcurrency?: number;
  readonly mapping: MappingSetting;
  /** The mapping is as `mapping` says. */
  readonly synced: boolean;
}

/** A breaker nobody has written: closed, consuming as deployed. */
export const UNWRITTEN: BreakerRecord = { ...CLOSED, version: 0, mapping: { enabled: true }, synced: true };

/** The fields a change writes; the store numbers the version and clears `synced`. */
export type BreakerChange = Omit<BreakerRecord, 'version' | 'synced'>;

const OPTIONAL = ['manual', 'restoreConcurrency', 'mappingConcurrency'] as const;

export class BreakerStore {
  readonly #table: Table;

  constructor(table: Table) {
    this.#table = table;
  }

  /** Every stored breaker by stage key, read strongly consistent (one Query of the breaker partition). */
  async readAll(): Promise<Map<string, BreakerRecord>> {
    const items = await this.#table.collection(BREAKER_PARTITION, { consistent: true });
    return new Map(items.map((item) => [String(item.sk), recordOf(item)]));
  }

  /**
   * Writes `change` over the breaker at `expectedVersion`.
   * @returns the record written, or undefined when the breaker moved meanwhile (someone else changed it).
   */
  async replace(stageKey: string, expectedVersion: number, change: BreakerChange): Promise<BreakerRecord | undefined> {
    const record: BreakerRecord = { ...change, version: expectedVersion + 1, synced: false };
    const fields = itemFields(record);
    const outcome = await this.#table.update(
      { orderId: BREAKER_PARTITION, sk: stageKey },
      { set: fields, remove: OPTIONAL.filter((name) => fields[name] === undefined) },
      expectedVersion === 0 ? absent() : equals('version', expectedVersion),
    );
    return outcome.applied ? record : undefined;
  }

  /** Notes that the mapping is as the record at `version` says (a no-op once the breaker moved on). */
  async markSynced(stageKey: string, version: number): Promise<void> {
    await this.#table.update(
      { orderId: BREAKER_PARTITION, sk: stageKey },
      { set: { synced: true } },
      equals('version', version),
    );
  }
}

/** A record as item attributes (the mapping flattened; absent optionals left out). */
function itemFields(record: BreakerRecord): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    state: record.state,
    since: record.since,
    reason: record.reason,
    version: record.version,
    synced: record.synced,
    mappingEnabled: record.mapping.enabled,
  };
  if (record.manual) fields.manual = true;
  if (record.restoreConcurrency !== undefined) fields.restoreConcurrency = record.restoreConcurrency;
  if (record.mapping.maxConcurrency !== undefined) fields.mappingConcurrency = record.mapping.maxConcurrency;
  return fields;
}

function recordOf(item: Item): BreakerRecord {
  const state = item.state === 'open' || item.state === 'half-open' ? item.state : 'closed';
  return {
    state,
    since: Number(item.since ?? 0),
    reason: String(item.reason ?? ''),
    ...(item.manual === true ? { manual: true } : {}),
    version: Number(item.version ?? 0),
    ...(typeof item.restoreConcurrency === 'number' ? { restoreConcurrency: item.restoreConcurrency } : {}),
    mapping: {
      enabled: item.mappingEnabled !== false,
      ...(typeof item.mappingConcurrency === 'number' ? { maxConcurrency: item.mappingConcurrency } : {}),
    },
    synced: item.synced !== false,
  };
}
