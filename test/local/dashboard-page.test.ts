/**
 * The dashboard page as the server renders it (lib/local/dashboard/), from a real stats snapshot
 * (RuntimeStats) and alarm report: every warehouse's own chain of stages (examples/four-stages.json:
 * four in wh-2, three in wh-1), each stage's breaker with its reason, retention warnings, the
 * cancelled and purged totals, the actions a stage's state allows, and the token the page's
 * actions send. No server, no browser.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_CONCURRENCY_RANGE } from '../../lib/contract/limits.ts';
import { FINAL_STATUSES } from '../../lib/domain/status.ts';
import { LISTED_STATES } from '../../lib/ledger/listing.ts';
import { csrfToken } from '../../lib/local/admin-guard.ts';
import { AlarmEvaluator } from '../../lib/local/alarms.ts';
import { pageModel, retentionWarning, toneOf } from '../../lib/local/dashboard/assets/format.js';
import { CSRF_META, renderDashboard } from '../../lib/local/dashboard/index.ts';
import { RuntimeStats, type QueueDepth } from '../../lib/local/stats.ts';
import { DEAD_LETTER_KINDS } from '../../lib/operations/dead-letter-filter.ts';
import {
  allStages,
  loadTopology,
  queueSettings,
  RETENTION_WARNING_SHARE,
  type Stage,
  type Topology,
} from '../../lib/topology/index.ts';

const fourStages = loadTopology(
  readFileSync(new URL('../../examples/four-stages.json', import.meta.url), 'utf8'),
  'examples/four-stages.json',
);

interface StageState {
  readonly paused?: boolean;
  readonly breaker?: { readonly state: 'closed' | 'open' | 'half-open'; readonly reason: string };
  readonly depth?: Partial<QueueDepth>;
}

/** The page for a topology, with some stages in a given state. */
function render(topology: Topology, states: ReadonlyMap<string, StageState> = new Map(), token = csrfToken()): string {
  const stats = new RuntimeStats(topology, { accepted: 9, delivered: 4, deadLettered: 2, cancelled: 2, purged: 1 });
  const depths = new Map(
    allStages(topology).map((s) => [
      s.key,
      {
        visible: 0,
        notVisible: 0,
        delayed: 0,
        deadLetters: 0,
        oldestSentAt: null,
        oldestDeadLetterSentAt: null,
        ...states.get(s.key)?.depth,
      },
    ]),
  );
  const views = new Map(
    allStages(topology).map((s) => [
      s.key,
      {
        held: 0,
        paused: states.get(s.key)?.paused ?? false,
        inUse: 0,
        maxConcurrency: s.maxConcurrency,
        ...(states.get(s.key)?.breaker ? { breaker: states.get(s.key)!.breaker! } : {}),
      },
    ]),
  );
  const queueNames = new Map(
    allStages(topology).map((s) => [s.key, { queue: `q-${s.key}`, deadLetterQueue: `dlq-${s.key}` }]),
  );
  return renderDashboard({
    topology,
    queueNames,
    model: pageModel(stats.snapshot(depths, views), new AlarmEvaluator(topology).evaluate()),
    storage: 'in memory',
    csrfToken: token,
  });
}

/** The markup of one table (by class), and of one row of it (by stage key). */
function table(page: string, className: string): string {
  const start = page.indexOf(`<table class="grid-table ${className}">`);
  expect(start, `table ${className}`).toBeGreaterThanOrEqual(0);
  return page.slice(start, page.indexOf('</table>', start));
}
function row(markup: string, stageKey: string): string {
  const start = markup.indexOf(`<tr data-stage="${stageKey}"`);
  expect(start, `row ${stageKey}`).toBeGreaterThanOrEqual(0);
  return markup.slice(start, markup.indexOf('</tr>', start));
}
const stageKeysIn = (markup: string) => [...markup.matchAll(/<tr data-stage="([^"]+)"/g)].map((m) => m[1]);
const chainOf = (topology: Topology, pipelineId: string) =>
  topology.pipelines.find((p) => p.id === pipelineId)!.stages.map((s) => s.key);
/** The buttons of a row that show (not `hidden`), by action. */
const shownActions = (markup: string) =>
  [...markup.matchAll(/<button [^>]*data-action="([^"]+)"[^>]*>/g)]
    .filter((m) => !/\shidden[\s>]/.test(m[0]))
    .map((m) => m[1]);

describe('renderDashboard', () => {
  it("lists each warehouse's own chain, in order, in every stage table: four stages for wh-2 and three for wh-1 in examples/four-stages.json", () => {
    const page = render(fourStages);
    const expected = fourStages.pipelines.flatMap((p) => p.stages.map((s) => s.key));
    expect(chainOf(fourStages, 'wh-2')).toHaveLength(4);
    expect(chainOf(fourStages, 'wh-1')).toHaveLength(3);
    for (const name of ['queues', 'controls', 'stages', 'alarms'])
      expect(stageKeysIn(table(page, name)), name).toEqual(expected);
    for (const stage of allStages(fourStages))
      expect(row(table(page, 'controls'), stage.key)).toContain(
        `data-pipeline-id="${stage.pipelineId}" data-stage-name="${stage.name}"`,
      );
  });

  it('shows the totals that reconcile, cancelled and purged included', () => {
    const page = render(loadTopology());
    for (const total of ['accepted', 'delivered', 'deadLettered', 'cancelled', 'purged', 'inFlight'])
      expect(page, total).toContain(`data-bind="stats.totals.${total}"`);
    expect(page).toMatch(/data-bind="stats\.totals\.cancelled" data-fmt="int">2</);
    expect(page).toMatch(/data-bind="stats\.totals\.purged" data-fmt="int"[^>]*>1</);
  });

  it("shows each stage's breaker with its reason, and offers the override its state allows", () => {
    const topology = loadTopology();
    const [open, halfOpen, closed] = allStages(topology) as [Stage, Stage, Stage];
    const reason = '30 of 40 records failed in the last 60 s <b>(threshold 50 %)</b>';
    const page = render(
      topology,
      new Map([
        [open.key, { breaker: { state: 'open', reason } }],
        [halfOpen.key, { breaker: { state: 'half-open', reason: 'probing' } }],
      ]),
    );
    const controls = table(page, 'controls');
    expect(row(controls, open.key)).toContain(
      `class="pill breaker-open" data-bind="stats.pipelines.${open.pipelineId}.${open.name}.breaker" data-fmt="breaker" data-tone="pill" data-bind-title="stats.pipelines.${open.pipelineId}.${open.name}.breakerReason" title="30 of 40 records failed in the last 60 s &lt;b&gt;(threshold 50 %)&lt;/b&gt;">open<`,
    );
    expect(shownActions(row(controls, open.key))).toEqual(['pause', 'scale', 'breaker-close', 'dead-letters']);
    expect(shownActions(row(controls, halfOpen.key))).toEqual([
      'pause',
      'scale',
      'breaker-open',
      'breaker-close',
      'dead-letters',
    ]);
    expect(row(controls, closed.key)).toContain('class="pill breaker-closed"');
    expect(shownActions(row(controls, closed.key))).toEqual(['pause', 'scale', 'breaker-open', 'dead-letters']);
  });

  it('offers Resume for a paused stage and Pause for a running one, and scales within Lambda’s range', () => {
    const topology = loadTopology();
    const [paused, running] = allStages(topology) as [Stage, Stage];
    const controls = table(render(topology, new Map([[paused.key, { paused: true }]])), 'controls');
    expect(shownActions(row(controls, paused.key))).toContain('resume');
    expect(shownActions(row(controls, paused.key))).not.toContain('pause');
    expect(shownActions(row(controls, running.key))).toContain('pause');
    expect(row(controls, running.key)).toContain(
      `data-action="scale" data-min="${MAX_CONCURRENCY_RANGE.min}" data-max="${MAX_CONCURRENCY_RANGE.max}"`,
    );
  });

  it("warns per stage when a queue's or a DLQ's oldest message nears SQS's retention", () => {
    const topology = loadTopology();
    const [old, fresh] = allStages(topology) as [Stage, Stage];
    const retention = queueSettings(topology, old).messageRetentionSeconds;
    const nearly = Date.now() - Math.ceil(retention * RETENTION_WARNING_SHARE + 60) * 1000;
    const controls = table(
      render(topology, new Map([[old.key, { depth: { visible: 1, oldestSentAt: nearly } }]])),
      'controls',
    );
    expect(row(controls, old.key)).toMatch(
      /<span class="retention-text hot-warn"[^>]*>queue: oldest \d+ d \d+ h of \d+ d \d+ h</,
    );
    expect(row(controls, fresh.key)).toMatch(/<span class="retention-text"[^>]*>ok</);
  });

  it("carries the runtime's CSRF token for its actions (escaped), and the choices the APIs accept", () => {
    const page = render(loadTopology(), new Map(), 'tok"en<');
    expect(page).toContain(`<meta name="${CSRF_META}" content="tok&quot;en&lt;">`);
    expect([...page.matchAll(/<select name="status"[^>]*>(.*?)<\/select>/g)][0]?.[1]).toBe(
      LISTED_STATES.map((s) => `<option value="${s}">${s}</option>`).join(''),
    );
    expect([...page.matchAll(/<select name="kind"[^>]*>(.*?)<\/select>/g)][0]?.[1]).toBe(
      `<option value="">any kind</option>${DEAD_LETTER_KINDS.map((k) => `<option value="${k}">${k}</option>`).join('')}`,
    );
    expect(page).toContain(`data-final-statuses="${FINAL_STATUSES.join(',')}"`);
    expect(page).toMatch(/<dialog id="confirm"/);
  });
});

describe('format.js (shared by the server and the browser)', () => {
  const view = {
    nearsRetention: false,
    oldestMessageAgeSeconds: 0,
    retentionSeconds: 345_600,
    deadLettersNearRetention: false,
    oldestDeadLetterAgeSeconds: 0,
    deadLetterRetentionSeconds: 1_209_600,
  };

  it('says which queue nears retention, and nothing otherwise', () => {
    expect(retentionWarning(view)).toBe('');
    expect(retentionWarning({ ...view, deadLettersNearRetention: true, oldestDeadLetterAgeSeconds: 1_000_000 })).toBe(
      'DLQ: oldest 11 d 13 h of 14 d 0 h',
    );
    expect(
      retentionWarning({
        ...view,
        nearsRetention: true,
        oldestMessageAgeSeconds: 300_000,
        deadLettersNearRetention: true,
        oldestDeadLetterAgeSeconds: 1_000_000,
      }),
    ).toBe('queue: oldest 3 d 11 h of 4 d 0 h; DLQ: oldest 11 d 13 h of 14 d 0 h');
  });

  it('gives each state its class', () => {
    expect([true, false].map((v) => toneOf('paused', v))).toEqual(['pill-paused', 'pill-running']);
    expect(['closed', 'open', 'half-open', undefined].map((v) => toneOf('breaker', v))).toEqual([
      'breaker-closed',
      'breaker-open',
      'breaker-half-open',
      'breaker-unknown',
    ]);
    expect(toneOf('retention', { ...view, nearsRetention: true })).toBe('hot-warn');
    expect(toneOf('retention', view)).toBe('');
  });
});
