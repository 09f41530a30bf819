/**
 * Facts for the order ledger's unit tests (test/ledger/): a claim, a step, a dead letter, a
 * completion, a closing — each at a second of one test minute, in warehouse `wh-1` unless told.
 */
import type { Claim, Death } from '../../lib/ledger/ledger.ts';
import type { StatusLabels } from '../../lib/ledger/records.ts';

/** A time within one test minute, by its second. */
export const at = (second: number) => `2026-12-01T10:00:${String(second).padStart(2, '0')}.000Z`;

/** Status words unlike the head's states, so a record's status shows which rule produced it. */
export const LABELS: StatusLabels = {
  accepted: 'received',
  waitingIn: (stage) => `waiting in ${stage}`,
  completed: 'done',
};

export const claim = (orderId: string, extra: Partial<Claim> = {}): Claim => ({
  orderId,
  warehouseId: 'wh-1',
  fingerprint: 'f-1',
  traceId: 't',
  requestId: 'r-1',
  at: at(0),
  leaseUntil: 10_000,
  entryStage: 'picking',
  ...extra,
});

export const step = (
  id: string,
  stage: string,
  position: number,
  next: string,
  second: number,
  partition = 'wh-1',
) => ({
  id,
  partition,
  stage,
  position,
  next,
  at: at(second),
});

export const death = (
  id: string,
  stage: string,
  position: number,
  second: number,
  extra: Partial<Death> = {},
): Death => ({
  id,
  partition: 'wh-1',
  stage,
  position,
  reason: `${stage} failed`,
  kind: 'exhausted',
  at: at(second),
  ...extra,
});

export const completion = (id: string, second: number, stage = 'delivery') => ({
  id,
  partition: 'wh-1',
  stage,
  at: at(second),
  result: { carrier: 'paketfix' },
});

export const closing = (id: string, state: 'cancelled' | 'purged', second: number, stage = 'packing') => ({
  id,
  state,
  stage,
  by: 'operator',
  at: at(second),
});
