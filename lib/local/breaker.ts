/**
 * The circuit breaker of a local stage: the shared rules (lib/contract/breaker.ts) over the stage's
 * own counts — its records and failed records, from the EMF metrics its function prints and the
 * batches that failed whole — driving its event source mapping as the cloud's breaker function
 * drives the Lambda one: open holds consumption (messages wait in the queue), half-open resumes at
 * Lambda's least concurrency for a probe, closed restores the concurrency. State changes are logged
 * and kept in the data directory, so a restart resumes where the breaker was.
 */
import {
  breakerChangeMessage,
  CLOSED,
  nextBreakerStatus,
  overriddenStatus,
  type BreakerOverride,
  type BreakerState,
  type BreakerStatus,
  type RecordCounts,
} from '../contract/breaker.ts';
import { MAX_CONCURRENCY_RANGE } from '../contract/limits.ts';
import type { Stage } from '../topology/index.ts';
import type { LocalEventSourceMapping } from './event-source-mapping.ts';

/** The hold the breaker puts on its mapping while open. */
const BREAKER = 'breaker';

/** What the breaker keeps across restarts. */
export interface SavedBreaker {
  readonly status: BreakerStatus;
  /** The mapping's concurrency before a probe lowered it. */
  readonly restoreConcurrency?: number;
}

export interface BreakerHooks {
  /** Saves the breaker's state (the data directory's stage controls). */
  save(saved: SavedBreaker): void;
  /** Tells the operator (the runtime's log). */
  notify(message: string, fields: Record<string, unknown>): void;
  readonly now?: () => number;
}

export class LocalBreaker {
  readonly stage: Stage;
  readonly #mapping: LocalEventSourceMapping;
  readonly #hooks: BreakerHooks;
  readonly #now: () => number;
  /** Per-second counts of the window, oldest first: [epoch second, records, failed]. */
  #window: Array<[number, number, number]> = [];
  /** Counts since the breaker half-opened. */
  #probe: RecordCounts = { records: 0, failed: 0 };
  #status: BreakerStatus;
  #restoreConcurrency: number | undefined;

  constructor(stage: Stage, mapping: LocalEventSourceMapping, saved: SavedBreaker | undefined, hooks: BreakerHooks) {
    this.stage = stage;
    this.#mapping = mapping;
    this.#hooks = hooks;
    this.#now = hooks.now ?? Date.now;
    this.#status = saved?.status ?? CLOSED;
    this.#restoreConcurrency = saved?.restoreConcurrency;
    this.#enter(this.#status.state);
  }

  get state(): BreakerState {
    return this.#status.state;
  }

  get status(): BreakerStatus {
    return this.#status;
  }

  /** Counts records the stage handled and how many failed. */
  observe(records: number, failed: number): void {
    if (records <= 0 && failed <= 0) return;
    const second = Math.floor(this.#now() / 1000);
    const last = this.#window.at(-1);
    if (last && last[0] === second) {
      last[1] += records;
      last[2] += failed;
    } else this.#window.push([second, records, failed]);
    if (this.#status.state === 'half-open')
      this.#probe = { records: this.#probe.records + records, failed: this.#probe.failed + failed };
  }

  /** Applies the rules to what was observed; call about once a second. */
  tick(): void {
    const now = this.#now();
    const from = Math.floor(now / 1000) - this.stage.breaker.windowSeconds;
    this.#window = this.#window.filter(([second]) => second > from);
    const counts = this.#status.state === 'half-open' ? this.#probe : this.#windowCounts();
    const next = nextBreakerStatus(this.#status, counts, now, this.stage.breaker);
    if (next !== this.#status) this.#move(next);
  }

  /** An operator's override: `open` holds the breaker open until an operator closes it. */
  override(state: BreakerOverride, by: string): BreakerStatus {
    this.#move(overriddenStatus(state, by, this.#now()));
    return this.#status;
  }

  #windowCounts(): RecordCounts {
    return this.#window.reduce(
      (c, [, records, failed]) => ({ records: c.records + records, failed: c.failed + failed }),
      { records: 0, failed: 0 },
    );
  }

  #move(next: BreakerStatus): void {
    const from = this.#status.state;
    this.#status = next;
    this.#enter(next.state);
    this.#window = [];
    this.#probe = { records: 0, failed: 0 };
    this.#hooks.save({
      status: next,
      ...(this.#restoreConcurrency !== undefined ? { restoreConcurrency: this.#restoreConcurrency } : {}),
    });
    if (from !== next.state)
      this.#hooks.notify(breakerChangeMessage(next.state), {
        stage: this.stage.key,
        from,
        to: next.state,
        reason: next.reason,
      });
  }

  /** Brings the mapping in line with a state. */
  #enter(state: BreakerState): void {
    if (state === 'open') {
      this.#restore();
      this.#mapping.hold(BREAKER);
    } else if (state === 'half-open') {
      this.#restoreConcurrency ??= this.#mapping.maxConcurrency;
      this.#mapping.scale(MAX_CONCURRENCY_RANGE.min);
      this.#mapping.release(BREAKER);
    } else {
      this.#restore();
      this.#mapping.release(BREAKER);
    }
  }

  #restore(): void {
    if (this.#restoreConcurrency === undefined) return;
    this.#mapping.scale(this.#restoreConcurrency);
    this.#restoreConcurrency = undefined;
  }
}
