/** The CLI's small pure parts: tables, colour rules, formats, reading stack outputs. */
import { describe, expect, it } from 'vitest';
import { renderOrderList } from '../../lib/cli/commands/orders-list.ts';
import { renderStatus } from '../../lib/cli/commands/status.ts';
import { sinceFlag, sinceTime } from '../../lib/cli/since.ts';
import { describeRetention } from '../../lib/cli/commands/stage-controls.ts';
import {
  allStages,
  deadLetterQueueSettings,
  loadTopology,
  nearsRetention,
  queueSettings,
  RETENTION_WARNING_SHARE,
} from '../../lib/topology/index.ts';
import { count, duration, rate } from '../../lib/cli/format.ts';
import { StackResources } from '../../lib/cli/stack-outputs.ts';
import { StackOutput } from '../../lib/contract/index.ts';
import { colourWanted, createStyle, visible } from '../../lib/cli/style.ts';
import { renderTable } from '../../lib/cli/table.ts';
import type { StageStatus, StatusReport } from '../../lib/cli/target.ts';
import { stackOutputs } from './support.ts';

// Retention as the default topology sets it: what the queues really keep.
const topology = loadTopology({}, 'test');
const QUEUE_RETENTION = queueSettings(topology, allStages(topology)[0]!).messageRetentionSeconds;
const DLQ_RETENTION = deadLetterQueueSettings(topology).messageRetentionSeconds;

const idle: StageStatus = {
  ready: 0,
  inFlight: 0,
  delayed: 0,
  dlq: 0,
  oldestMessageAgeSeconds: 0,
  succeeded: 0,
  failed: 0,
  retried: 0,
  perSecond: 0,
  incomingPerSecond: 0,
  failedPerSecond: 0,
  concurrency: { inUse: 0, max: 5 },
  paused: false,
  retentionSeconds: QUEUE_RETENTION,
  nearsRetention: false,
  oldestDeadLetterAgeSeconds: 0,
  deadLetterRetentionSeconds: DLQ_RETENTION,
  deadLettersNearRetention: false,
};

/** A row whose oldest message (and dead letter) is `age` seconds old, judged as the runtime judges it. */
function aged(row: StageStatus, age: number, deadAge: number): StageStatus {
  return {
    ...row,
    oldestMessageAgeSeconds: age,
    nearsRetention: nearsRetention(age, QUEUE_RETENTION),
    oldestDeadLetterAgeSeconds: deadAge,
    deadLettersNearRetention: nearsRetention(deadAge, DLQ_RETENTION),
  };
}

describe('tables', () => {
  it('align words left and numbers right, measured without colour escapes', () => {
    const red = createStyle(true).red;
    const out = renderTable(
      [{ header: 'STAGE' }, { header: 'READY', align: 'right' }],
      [
        ['picking', red('1,204')],
        ['packing', '0'],
      ],
    );
    expect(out.map(visible)).toEqual(['STAGE    READY', 'picking  1,204', 'packing      0']);
  });
});

describe('colour', () => {
  it('only on a terminal, never with NO_COLOR, forced with FORCE_COLOR', () => {
    expect(colourWanted(true, {})).toBe(true);
    expect(colourWanted(false, {})).toBe(false);
    expect(colourWanted(true, { NO_COLOR: '1' })).toBe(false);
    expect(colourWanted(false, { FORCE_COLOR: '1' })).toBe(true);
    expect(colourWanted(true, { TERM: 'dumb' })).toBe(false);
  });

  it('the status table marks dead letters red and paused stages yellow on a terminal, and stays aligned', () => {
    const report: StatusReport = {
      source: 'local runtime at http://127.0.0.1:3000',
      at: '2025-01-31T12:00:01.234Z',
      window: 'counts since the runtime started; rates over the last 10 s',
      pipelines: {
        'wh-1': {
          picking: { ...idle, dlq: 3 },
          packing: { ...idle, paused: true, ready: 1234, oldestMessageAgeSeconds: 75 },
          delivery: idle,
        },
      },
      totals: { accepted: 1240, delivered: 3, deadLettered: 3, inFlight: 1234 },
      latencyMs: { p50: 850, p99: 12_300 },
      notes: [],
    };
    const coloured = renderStatus(report, createStyle(true), '');
    const plain = renderStatus(report, createStyle(false), '');
    expect(coloured.map(visible)).toEqual(plain);
    expect(coloured.join('\n')).toContain('\x1b[31m3\x1b[39m');
    expect(coloured.join('\n')).toContain('\x1b[33m\x1b[1mPAUSED');
    const header = plain.find((l) => l.startsWith('WAREHOUSE')) as string;
    const packing = plain.find((l) => l.includes('packing')) as string;
    expect(packing.indexOf('1,234') + '1,234'.length).toBe(header.indexOf('READY') + 'READY'.length);
    expect(packing).toContain('1m15s');
    expect(plain).toContain(
      'orders: 1,240 accepted · 3 delivered · 3 dead-lettered · 1,234 in flight · latency p50 850 ms, p99 12.3 s',
    );
  });
});

describe('retention warnings', () => {
  const warningAge = Math.ceil(QUEUE_RETENTION * RETENTION_WARNING_SHARE);
  const deadWarningAge = Math.ceil(DLQ_RETENTION * RETENTION_WARNING_SHARE);
  const report = (pipelines: StatusReport['pipelines']): StatusReport => ({
    source: 'local',
    at: '2025-01-31T12:00:01.234Z',
    window: '',
    pipelines,
    totals: { accepted: 0, delivered: 0, deadLettered: 0, inFlight: 0 },
    notes: [],
  });

  it("status warns when a queue's oldest message or a DLQ's oldest dead letter has passed the warning share of its retention, with the time left and what to do", () => {
    const lines = renderStatus(
      report({
        'wh-1': {
          picking: aged({ ...idle, dlq: 4 }, 0, deadWarningAge + 60),
          packing: aged({ ...idle, paused: true, ready: 9 }, warningAge + 3600, 0),
          delivery: aged({ ...idle, ready: 2 }, warningAge - 1, deadWarningAge - 1),
        },
      }),
      createStyle(false),
      ' --url :3001',
    );
    const warnings = lines.filter((l) => l.startsWith('!') && /deletes it in/.test(l));
    expect(warnings).toEqual([
      `! wh-1/picking: its oldest dead letter is ${duration(deadWarningAge + 60)} old and the DLQ keeps them ${duration(DLQ_RETENTION)} — SQS deletes it in ${duration(DLQ_RETENTION - deadWarningAge - 60)}; redrive or keep them: conveyor dlq export --stage picking --warehouse wh-1 --url :3001 --out dead.jsonl`,
      `! wh-1/packing: its oldest message is ${duration(warningAge + 3600)} old and the queue keeps messages ${duration(QUEUE_RETENTION)} — SQS deletes it in ${duration(QUEUE_RETENTION - warningAge - 3600)}; resume: conveyor resume --stage packing --warehouse wh-1 --url :3001`,
    ]);
    // Just below the share: nothing for delivery.
    expect(lines.join('\n')).not.toMatch(/wh-1\/delivery: its oldest/);
  });

  it('a running stage near its retention is told to work the backlog off (scale), not to resume', () => {
    const lines = renderStatus(
      report({ 'wh-2': { packing: aged({ ...idle, ready: 50 }, warningAge, 0) } }),
      createStyle(false),
      '',
    );
    expect(lines.find((l) => l.startsWith('! wh-2/packing: its oldest message'))).toMatch(
      /; work it off: conveyor scale --stage packing --warehouse wh-2 --max-concurrency N$/,
    );
  });

  it('pause says how long the queue keeps messages, and warns when the oldest already nears that', () => {
    const ref = { warehouse: 'wh-1', stage: 'packing' };
    expect(
      describeRetention(
        ref,
        { retentionSeconds: QUEUE_RETENTION, oldestMessageAgeSeconds: 0, nearsRetention: false },
        createStyle(false),
      ),
    ).toEqual([
      `  its queue keeps messages ${duration(QUEUE_RETENTION)} (it is empty): resume before SQS deletes them`,
    ]);
    const near = describeRetention(
      ref,
      {
        retentionSeconds: QUEUE_RETENTION,
        oldestMessageAgeSeconds: warningAge,
        nearsRetention: nearsRetention(warningAge, QUEUE_RETENTION),
      },
      createStyle(false),
    );
    expect(near).toEqual([
      `  its queue keeps messages ${duration(QUEUE_RETENTION)} (the oldest is ${duration(warningAge)} old): resume before SQS deletes them`,
      `! wh-1/packing: its oldest message is already ${duration(warningAge)} old — SQS deletes it in ${duration(QUEUE_RETENTION - warningAge)}; resume soon, or it is lost`,
    ]);
    expect(
      describeRetention(
        ref,
        {
          retentionSeconds: QUEUE_RETENTION,
          oldestMessageAgeSeconds: null,
          nearsRetention: false,
          note: 'AWS denied the request',
        },
        createStyle(false),
      ),
    ).toEqual([
      `  its queue keeps messages ${duration(QUEUE_RETENTION)} (age of the oldest not known: AWS denied the request): resume before SQS deletes them`,
    ]);
  });
});

describe('formats', () => {
  it('counts, rates, ages', () => {
    expect([count(1234567), count(null), rate(2.345), rate(1234.5), rate(null)]).toEqual([
      '1,234,567',
      '—',
      '2.3',
      '1,235',
      '—',
    ]);
    expect([duration(0), duration(59.6), duration(75), duration(7260), duration(90_000), duration(null)]).toEqual([
      '0s',
      '1m00s',
      '1m15s',
      '2h01m',
      '1d01h',
      '—',
    ]);
  });
});

describe('stack outputs', () => {
  it('finds the warehouses and stages in the topology manifest, in its order', () => {
    expect(new StackResources('Conveyor', stackOutputs('https://api/')).warehouses).toEqual(['wh-1', 'wh-2']);
    const stack = new StackResources('Conveyor', stackOutputs('https://api/', ['wh-1', 'wh-10', 'wh-2']));
    expect(stack.warehouses).toEqual(['wh-1', 'wh-10', 'wh-2']);
    expect(stack.stage({ warehouse: 'wh-10', stage: 'delivery' }, 'eventSourceMappingUuid')).toBe(
      'uuid-wh-10-delivery',
    );
  });

  it('names a missing or unreadable manifest, and a stage the stack does not have, and what to do', () => {
    const without = stackOutputs('https://api/').filter((o) => o.OutputKey !== StackOutput.topology);
    expect(() => new StackResources('Conveyor', without)).toThrow(
      /^stack "Conveyor" has no Conveyor Topology output \(found only ApiUrl, StatusTableName\) — .*redeploy it with this version of Conveyor/,
    );
    const broken = stackOutputs('https://api/').map((o) =>
      o.OutputKey === StackOutput.topology ? { ...o, OutputValue: '{"v":1}' } : o,
    );
    expect(() => new StackResources('Conveyor', broken)).toThrow(
      /^stack "Conveyor" has an unreadable Topology output \(metrics: .*\) — redeploy it/,
    );
    expect(() =>
      new StackResources('Conveyor', stackOutputs('https://api/')).stage(
        { warehouse: 'wh-9', stage: 'picking' },
        'dlqArn',
      ),
    ).toThrow(/^stack "Conveyor" has no stage wh-9\/picking — its stages are wh-1\/picking, /);
  });
});

describe('orders list and --since', () => {
  it('renders the listed orders newest first, with the reason or who, and says when more may match and what was left out', () => {
    const listed = {
      orders: [
        {
          orderId: 'c-1',
          warehouseId: 'wh-1',
          status: 'cancelled' as const,
          stage: 'packing',
          since: '2026-12-01T10:00:07.000Z',
          by: 'alice',
        },
        {
          orderId: 'd-1',
          warehouseId: 'wh-1',
          status: 'dead-lettered' as const,
          stage: 'picking',
          since: '2026-12-01T10:00:05.000Z',
          reason: 'scanner offline',
        },
      ],
      truncated: true,
      skipped: 1,
    };
    const out = renderOrderList(
      listed,
      { status: ['dead-lettered', 'cancelled'], warehouse: 'wh-1', limit: 2 },
      createStyle(false),
      ' --target aws',
    );
    expect(out[0]).toMatch(/^ORDER\s+WAREHOUSE\s+STATUS\s+STAGE\s+SINCE \(UTC\)\s+REASON \/ BY$/);
    expect(out[1]).toMatch(/^c-1\s+wh-1\s+cancelled\s+packing\s+2026-12-01 10:00:07\.000\s+by alice$/);
    expect(out[2]).toMatch(/^d-1\s+wh-1\s+dead-lettered\s+picking\s+2026-12-01 10:00:05\.000\s+scanner offline$/);
    expect(out).toContain('2 orders: dead-lettered or cancelled orders in wh-1, newest first');
    expect(out.some((l) => l.startsWith('more orders may match than the 3 found — raise --limit (now 2'))).toBe(true);
    expect(out.some((l) => l.startsWith('1 index entry left out'))).toBe(true);
    expect(out.at(-1)).toBe("one order's story: conveyor trace c-1 --target aws");
    expect(
      renderOrderList(
        { orders: [], truncated: false, skipped: 0 },
        { status: ['purged'], limit: 10, sinceIso: '2026-12-01T09:00:00.000Z' },
        createStyle(false),
        '',
      ),
    ).toEqual(['no purged orders since 2026-12-01 09:00:00.000 UTC']);
  });

  it('--since takes a duration back from now or a time, and refuses anything else in one line', () => {
    const since = sinceFlag('--since');
    expect(sinceTime(since('90s'), 1_000_000)).toBe(910_000);
    expect(sinceTime(since('2h'), 10_000_000)).toBe(10_000_000 - 7_200_000);
    expect(sinceTime(since('2026-12-01T09:00:00Z'), 0)).toBe(Date.parse('2026-12-01T09:00:00Z'));
    for (const wrong of ['1w', '-1h', '0m', 'yesterday', '400d', '2026-13-45'])
      expect(() => since(wrong), wrong).toThrow(/^--since must be a duration up to a year .* got "/);
  });
});
