/**
 * An order's record as `GET /orders/{orderId}` shows it, read back from the ledger's items
 * (lib/ledger/records.ts): status and stage from the facts, the history in time order, when it was
 * created and last updated, and what a head written without some field still shows.
 */
import { describe, expect, it } from 'vitest';
import { FINAL_STATUSES } from '../../lib/domain/status.ts';
import {
  deriveRecord,
  FINAL_STATES,
  HEAD,
  INTAKE,
  INTAKE_POSITION,
  isStepKey,
  stepKey,
} from '../../lib/ledger/records.ts';
import { at, LABELS } from '../support/ledger-facts.ts';

const head = (extra: Record<string, unknown> = {}) => ({
  orderId: 'o-1',
  sk: HEAD,
  state: 'open',
  warehouseId: 'wh-1',
  createdAt: at(0),
  updatedAt: at(0),
  ...extra,
});
const step = (stage: string, position: number, next: string, second: number, extra: Record<string, unknown> = {}) => ({
  orderId: 'o-1',
  sk: stepKey(stage),
  stage,
  position,
  next,
  warehouseId: 'wh-1',
  at: at(second),
  ...extra,
});
const intake = (second: number) => step(INTAKE, INTAKE_POSITION, 'picking', second);
const death = (stage: string, position: number, second: number) => ({
  at: at(second),
  stage,
  position,
  reason: `${stage} failed`,
  kind: 'exhausted',
});

describe('status', () => {
  it('calls an order accepted after the intake’s step, then waiting in the stage each later step forwarded it to', () => {
    const queued = deriveRecord([head(), intake(1)], LABELS);
    expect(queued).toMatchObject({ status: 'received', stage: 'picking' });
    const picked = deriveRecord([head(), intake(1), step('picking', 1, 'packing', 2)], LABELS);
    expect(picked).toMatchObject({ status: 'waiting in packing', stage: 'packing' });
    expect(picked?.history.map((h) => h.status)).toEqual(['received', 'waiting in packing']);
    expect(Object.keys(picked ?? {})).not.toContain('delivery');
    expect(Object.keys(picked ?? {})).not.toContain('reason');
  });

  it('reads an order known only by its steps (its head not yet written): in flight, with their warehouse and times', () => {
    const record = deriveRecord(
      [
        step('picking', 1, 'packing', 3, { warehouseId: 'wh-2' }),
        step(INTAKE, INTAKE_POSITION, 'picking', 1, { warehouseId: 'wh-2' }),
      ],
      LABELS,
    );
    expect(record).toStrictEqual({
      orderId: 'o-1',
      warehouseId: 'wh-2',
      status: 'waiting in packing',
      stage: 'packing',
      createdAt: at(1),
      updatedAt: at(3),
      history: [
        { at: at(1), status: 'received', by: INTAKE },
        { at: at(3), status: 'waiting in packing', by: 'picking' },
      ],
    });
  });

  it('shows an open order with no steps and no claimant (dead-lettered, then revived) as accepted in its entry stage', () => {
    const revived = head({ entryStage: 'picking', deaths: [death('picking', 1, 1)], updatedAt: at(2) });
    expect(deriveRecord([revived], LABELS)).toMatchObject({ status: 'received', stage: 'picking', updatedAt: at(2) });
  });

  it('hides a claim nobody confirmed, but not an order delivered or dead-lettered under such a claim', () => {
    const claimed = { requestId: 'r-1', entryStage: 'picking' };
    expect(deriveRecord([head(claimed)], LABELS)).toBeUndefined();
    const delivered = head({ ...claimed, state: 'delivered', completedAt: at(2), completedBy: 'delivery' });
    expect(deriveRecord([delivered], LABELS)).toMatchObject({ status: 'done', stage: 'delivery' });
    const dead = head({ ...claimed, state: 'dead-lettered', deadStage: 'picking', deadPosition: 1, reason: 'r' });
    expect(deriveRecord([dead], LABELS)).toMatchObject({ status: 'dead-lettered', stage: 'picking', reason: 'r' });
  });

  it('shows a delivery only for a delivered order that recorded its result', () => {
    const delivered = head({ state: 'delivered', completedAt: at(2), completedBy: 'delivery' });
    expect(Object.keys(deriveRecord([delivered], LABELS) ?? {})).not.toContain('delivery');
    const withResult = deriveRecord([{ ...delivered, result: { carrier: 'paketfix' } }], LABELS);
    expect(withResult?.delivery).toEqual({ carrier: 'paketfix' });
    expect(withResult?.history.at(-1)).toEqual({
      at: at(2),
      status: 'done',
      by: 'delivery',
      detail: { carrier: 'paketfix' },
    });
  });
});

describe('a head missing who or where (never undefined in the record)', () => {
  it('a final order ends where its furthest step forwarded it, else its entry stage, else nowhere', () => {
    const closed = { state: 'cancelled', closedAt: at(5) };
    expect(deriveRecord([head(closed), intake(1), step('picking', 1, 'packing', 2)], LABELS)?.stage).toBe('packing');
    expect(deriveRecord([head({ ...closed, entryStage: 'picking' })], LABELS)?.stage).toBe('picking');
    const bare = deriveRecord([head(closed)], LABELS);
    expect(bare?.stage).toBe('');
    expect(bare?.history).toEqual([{ at: at(5), status: 'cancelled', by: '' }]);
    const delivered = deriveRecord([head({ state: 'delivered', completedAt: at(5) })], LABELS);
    expect(delivered).toMatchObject({ stage: '', history: [{ at: at(5), status: 'done', by: '' }] });
  });

  it('a delivered order ends at the stage that completed it, a closed one at the stage it was closed in', () => {
    const steps = [intake(1), step('picking', 1, 'packing', 2)];
    const delivered = head({ state: 'delivered', completedAt: at(3), completedBy: 'delivery', closedStage: 'x' });
    expect(deriveRecord([delivered, ...steps], LABELS)?.stage).toBe('delivery');
    const purged = head({ state: 'purged', closedAt: at(3), closedStage: 'picking', completedBy: 'x' });
    expect(deriveRecord([purged, ...steps], LABELS)?.stage).toBe('picking');
  });

  it('a dead-lettered order without its stage is dead-lettered nowhere; one with no times at all has empty times', () => {
    expect(deriveRecord([head({ state: 'dead-lettered', deadPosition: 1 })], LABELS)?.stage).toBe('');
    expect(deriveRecord([{ orderId: 'o-1', sk: HEAD, state: 'open' }], LABELS)).toStrictEqual({
      orderId: 'o-1',
      status: 'received',
      stage: '',
      createdAt: '',
      updatedAt: '',
      history: [],
    });
  });

  it('an order whose head has no warehouse takes the one its steps name', () => {
    const { warehouseId: _, ...noWarehouse } = head();
    expect(deriveRecord([noWarehouse, intake(1)], LABELS)?.warehouseId).toBe('wh-1');
  });
});

describe('history and times', () => {
  it('lists the history in time order: a death and its redrive between the steps they fell between', () => {
    const items = [
      head({
        state: 'delivered',
        deaths: [death('packing', 2, 3)],
        completedAt: at(5),
        completedBy: 'delivery',
        updatedAt: at(5),
      }),
      intake(1),
      step('picking', 1, 'packing', 2),
      step('packing', 2, 'delivery', 4),
    ];
    const record = deriveRecord(items, LABELS);
    expect(record?.history.map((h) => `${h.at} ${h.by}`)).toEqual([
      `${at(1)} intake`,
      `${at(2)} picking`,
      `${at(3)} packing`,
      `${at(4)} packing`,
      `${at(5)} delivery`,
    ]);
  });

  it('is updated at its latest write, even one without a history entry (a revival)', () => {
    const revived = head({ deaths: [death('picking', 1, 2)], updatedAt: at(9) });
    const record = deriveRecord([revived, intake(1), step('picking', 1, 'packing', 3)], LABELS);
    expect(record?.updatedAt).toBe(at(9));
  });

  it('was created when the intake accepted it, even if a stage’s clock is behind', () => {
    const record = deriveRecord([head({ createdAt: at(5), updatedAt: at(5) }), intake(3)], LABELS);
    expect(record).toMatchObject({ createdAt: at(5), updatedAt: at(5) });
  });
});

describe('keys and final states', () => {
  it('tells a step’s key from the head’s and from a key that is not a string', () => {
    expect(isStepKey(stepKey('picking'))).toBe(true);
    expect(isStepKey(HEAD)).toBe(false);
    expect(isStepKey(42)).toBe(false);
    expect(isStepKey(undefined)).toBe(false);
  });

  it('the states an order never leaves are the statuses the domain calls final', () => {
    expect([...FINAL_STATES].sort()).toEqual([...FINAL_STATUSES].sort());
  });
});
