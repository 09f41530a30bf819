/**
 * The breaker function (handlers/breaker.ts) through its handler, configured as the stack configures
 * it (breakerEnvironment → readBreakerConfig), against AWS mocked with aws-sdk-client-mock — Lambda's
 * event source mapping, CloudWatch's metrics and alarms, SNS — and the status table in memory (with
 * DynamoDB's conditional writes). CloudWatch answers only for the metrics and dimensions the stages
 * emit (lib/contract), so a query for anything else finds nothing.
 */
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
} from '@aws-sdk/client-cloudwatch';
import {
  GetEventSourceMappingCommand,
  LambdaClient,
  UpdateEventSourceMappingCommand,
  type UpdateEventSourceMappingCommandInput,
} from '@aws-sdk/client-lambda';
import { PublishCommand, SNSClient, type PublishCommandInput } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BREAKER_METRICS,
  breakerChangeMessage,
  MAX_CONCURRENCY_RANGE,
  METRICS_NAMESPACE,
  RUNBOOK,
  stageMetricDimensions,
} from '../../lib/contract/index.ts';
import type { Key, ReadOptions, Table } from '../../lib/ledger/table.ts';
import { breakerHandler } from '../../lib/orders/breaker.ts';
import { breakerAlarmName, breakerEnvironment, readBreakerConfig } from '../../lib/runtime/breaker-environment.ts';
import { findStage, loadTopology } from '../../lib/topology/index.ts';
import { MemoryTable } from '../support/memory-table.ts';

vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
const lambda = mockClient(LambdaClient);
const cloudwatch = mockClient(CloudWatchClient);
const sns = mockClient(SNSClient);
afterAll(() => {
  for (const mock of [lambda, cloudwatch, sns]) mock.restore();
  vi.unstubAllEnvs();
});

const STACK = 'Conveyor';
const topology = loadTopology({
  warehouses: ['wh-1'],
  stages: { packing: { maxConcurrency: 7, breaker: { openSeconds: 90 } } },
});
const packing = findStage(topology, 'wh-1', 'packing')!;
const settings = packing.breaker;
const uuidOf = (key: string) => `uuid-${key.replace('/', '-')}`;
const config = readBreakerConfig(
  breakerEnvironment(topology, {
    tableName: 'Conveyor-StatusTable',
    topicArn: 'arn:aws:sns:us-east-1:123456789012:Conveyor-alarms',
    stackName: STACK,
    namePrefix: STACK,
    serviceName: STACK,
    mappingUuids: Object.fromEntries(topology.pipelines.flatMap((p) => p.stages).map((s) => [s.key, uuidOf(s.key)])),
  }),
);
const ALARM_NAME = breakerAlarmName(STACK, packing);
const MINUTE = 60_000;

/** What CloudWatch holds: per-minute sums of a stage's metrics. */
let points: Array<{ stage: string; at: number; records: number; failed: number }>;
/** The breaker alarms in ALARM, as DescribeAlarms lists them. */
let inAlarm: Set<string>;
/** The event source mappings as Lambda has them. */
let mappings: Map<string, { enabled: boolean; maxConcurrency: number }>;
let now: number;

beforeEach(() => {
  for (const mock of [lambda, cloudwatch, sns]) mock.reset();
  now = Date.UTC(2026, 0, 5, 10, 1, 10);
  points = [];
  inAlarm = new Set();
  mappings = new Map(
    topology.pipelines
      .flatMap((p) => p.stages)
      .map((s) => [uuidOf(s.key), { enabled: true, maxConcurrency: s.maxConcurrency }]),
  );
  lambda.on(GetEventSourceMappingCommand).callsFake(({ UUID }: { UUID: string }) => ({
    UUID,
    State: mappings.get(UUID)!.enabled ? 'Enabled' : 'Disabled',
    ScalingConfig: { MaximumConcurrency: mappings.get(UUID)!.maxConcurrency },
  }));
  lambda.on(UpdateEventSourceMappingCommand).callsFake(updateMapping);
  cloudwatch.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) => ({
    MetricDataResults: input.MetricDataQueries!.map((q) => {
      const metric = q.MetricStat!.Metric!;
      const dims = Object.fromEntries(metric.Dimensions!.map((d) => [d.Name!, d.Value!]));
      const stage = topology.pipelines
        .flatMap((p) => p.stages)
        .find((s) => JSON.stringify(stageMetricDimensions(STACK, s.pipelineId, s.name)) === JSON.stringify(dims));
      const field =
        metric.MetricName === BREAKER_METRICS.records
          ? 'records'
          : metric.MetricName === BREAKER_METRICS.failed
            ? 'failed'
            : undefined;
      const from = input.StartTime!.getTime();
      const to = input.EndTime!.getTime();
      const values =
        metric.Namespace === METRICS_NAMESPACE && stage && field
          ? points.filter((p) => p.stage === stage.key && p.at >= from && p.at < to).map((p) => p[field])
          : [];
      return { Id: q.Id, Values: values };
    }),
  }));
  cloudwatch
    .on(DescribeAlarmsCommand)
    .callsFake(({ AlarmNamePrefix, StateValue }: { AlarmNamePrefix: string; StateValue: string }) => ({
      MetricAlarms:
        StateValue === 'ALARM'
          ? [...inAlarm]
              .filter((name) => name.startsWith(AlarmNamePrefix))
              .map((AlarmName) => ({ AlarmName, StateValue: 'ALARM' }))
          : [],
    }));
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
});

/** Lambda's UpdateEventSourceMapping on `mappings`. */
function updateMapping(input: UpdateEventSourceMappingCommandInput) {
  const mapping = mappings.get(input.UUID!)!;
  mappings.set(input.UUID!, {
    enabled: input.Enabled ?? mapping.enabled,
    maxConcurrency: input.ScalingConfig?.MaximumConcurrency ?? mapping.maxConcurrency,
  });
  return { UUID: input.UUID, State: input.Enabled === false ? 'Disabling' : 'Enabling' };
}

const handler = (table: Table) => breakerHandler(config, { table, now: () => now });
const TICK = { 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} };
/** CloudWatch's alarm event, its timestamps written as CloudWatch writes them (+0000). */
function alarmEvent(alarmName: string, windowStart: number, state = 'ALARM') {
  const at = new Date(windowStart).toISOString().replace('Z', '+0000');
  return {
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    detail: {
      alarmName,
      state: {
        value: state,
        reasonData: JSON.stringify({
          version: '1.0',
          startDate: at,
          period: 60,
          evaluatedDatapoints: [{ timestamp: at, value: 80 }],
        }),
      },
    },
  };
}
const updates = () => lambda.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input);
const published = () => sns.commandCalls(PublishCommand).map((c) => c.args[0].input as PublishCommandInput);
const describe_ = async (table: Table) =>
  (
    (await handler(table)({ command: 'describe' })) as {
      breakers: Record<string, { state: string; reason: string; manual?: boolean }>;
    }
  ).breakers;
/** A failing window for packing: the minimum of records, every one failed. */
const failingWindow = (at: number) =>
  points.push({ stage: packing.key, at, records: settings.minimumRecords, failed: settings.minimumRecords });

describe('the breaker function', () => {
  it('closed → open → half-open → closed: stops the mapping, probes at the least concurrency, gives the concurrency back — each change notified once', async () => {
    const table = new MemoryTable();
    const windowStart = Date.UTC(2026, 0, 5, 10, 0, 0);
    failingWindow(windowStart);

    const opened = await handler(table)(alarmEvent(ALARM_NAME, windowStart));
    expect(opened).toMatchObject({ stage: packing.key, breaker: { state: 'open' } });
    expect((opened as { breaker: { reason: string } }).breaker.reason).toContain(
      `${settings.minimumRecords} of ${settings.minimumRecords} records failed`,
    );
    expect(updates()).toEqual([{ UUID: uuidOf(packing.key), Enabled: false }]);
    const [notice] = published();
    expect(notice).toMatchObject({ TopicArn: config.topicArn });
    expect(notice!.Subject).toContain(breakerChangeMessage('open'));
    expect(notice!.Subject).toContain(packing.key);
    expect(notice!.Message).toContain(
      `conveyor breaker close --stage ${packing.name} --warehouse ${packing.pipelineId} --target aws --stack ${STACK}`,
    );
    expect(notice!.Message).toContain(`README '${RUNBOOK.circuitBreaker}'`);
    // What happens next, in the topology's numbers.
    for (const fact of [
      `${settings.openSeconds} s`,
      `${settings.probeRecords} records`,
      `concurrency ${MAX_CONCURRENCY_RANGE.min}`,
    ])
      expect(notice!.Message).toContain(fact);

    // Open until openSeconds have passed; then a probe at the least concurrency.
    now += settings.openSeconds * 1000 - 1;
    await handler(table)(TICK);
    expect(updates()).toHaveLength(1);
    now += 1;
    await handler(table)(TICK);
    expect(updates().at(-1)).toEqual({
      UUID: uuidOf(packing.key),
      Enabled: true,
      ScalingConfig: { MaximumConcurrency: MAX_CONCURRENCY_RANGE.min },
    });
    expect((await describe_(table))[packing.key]!.state).toBe('half-open');

    // Not enough probe records yet: it waits. Then a healthy probe closes it, with the concurrency it had.
    points.push({ stage: packing.key, at: now, records: settings.probeRecords - 1, failed: 0 });
    now += MINUTE;
    await handler(table)(TICK);
    expect((await describe_(table))[packing.key]!.state).toBe('half-open');
    points.push({ stage: packing.key, at: now, records: 1, failed: 0 });
    now += MINUTE;
    await handler(table)(TICK);
    expect(updates().at(-1)).toEqual({
      UUID: uuidOf(packing.key),
      Enabled: true,
      ScalingConfig: { MaximumConcurrency: packing.maxConcurrency },
    });
    expect(mappings.get(uuidOf(packing.key))).toEqual({ enabled: true, maxConcurrency: packing.maxConcurrency });
    expect((await describe_(table))[packing.key]!.state).toBe('closed');
    expect(published().map((p) => p.Subject)).toEqual(
      ['open', 'half-open', 'closed'].map((s) => expect.stringContaining(breakerChangeMessage(s as 'open'))),
    );
  });

  it('half-open → open when the probe fails: consumption stops again, the concurrency given back for later', async () => {
    const table = new MemoryTable();
    failingWindow(Date.UTC(2026, 0, 5, 10, 0, 0));
    await handler(table)(alarmEvent(ALARM_NAME, Date.UTC(2026, 0, 5, 10, 0, 0)));
    now += settings.openSeconds * 1000;
    await handler(table)(TICK);
    expect(mappings.get(uuidOf(packing.key))).toEqual({ enabled: true, maxConcurrency: MAX_CONCURRENCY_RANGE.min });

    points.push({
      stage: packing.key,
      at: now,
      records: settings.probeRecords,
      failed: Math.ceil((settings.probeRecords * settings.failureRatePercent) / 100),
    });
    now += MINUTE;
    await handler(table)(TICK);
    const breaker = (await describe_(table))[packing.key]!;
    expect(breaker.state).toBe('open');
    expect(breaker.reason).toMatch(/^the probe failed/);
    expect(updates().at(-1)).toEqual({
      UUID: uuidOf(packing.key),
      Enabled: false,
      ScalingConfig: { MaximumConcurrency: packing.maxConcurrency },
    });
    expect(published()).toHaveLength(3);
  });

  it('two invocations for one alarm at once: the breaker flips once — one mapping change, one notification', async () => {
    const windowStart = Date.UTC(2026, 0, 5, 10, 0, 0);
    failingWindow(windowStart);
    const table = new ReadBarrier(new MemoryTable(), 2);
    // Two execution environments, each with its own clients; both read the closed breaker before either writes.
    const results = await Promise.all([
      handler(table)(alarmEvent(ALARM_NAME, windowStart)),
      handler(table)(alarmEvent(ALARM_NAME, windowStart)),
    ]);
    expect(table.reads).toBe(2);
    expect(results.map((r) => (r as { breaker: { state: string } }).breaker.state)).toContain('open');
    expect(updates()).toEqual([{ UUID: uuidOf(packing.key), Enabled: false }]);
    expect(published()).toHaveLength(1);
  });

  it('an alarm event that never arrived: the minute’s round finds the alarm in ALARM and opens the breaker', async () => {
    const table = new MemoryTable();
    failingWindow(Date.UTC(2026, 0, 5, 10, 0, 0));
    await handler(table)(TICK);
    expect(updates()).toEqual([]);
    expect(cloudwatch.commandCalls(GetMetricDataCommand)).toHaveLength(0); // nothing alarmed, nothing to count
    inAlarm.add(ALARM_NAME);
    await handler(table)(TICK);
    expect((await describe_(table))[packing.key]!.state).toBe('open');
    expect(updates()).toEqual([{ UUID: uuidOf(packing.key), Enabled: false }]);
  });

  it('an operator’s open holds — through the rounds and new alarms — until an operator’s close, which resets it', async () => {
    const table = new MemoryTable();
    const opened = await handler(table)({ command: 'open', stage: packing.key, by: 'operator@ops' });
    expect(opened).toMatchObject({
      stage: packing.key,
      breaker: { state: 'open', manual: true, reason: 'opened by operator@ops' },
    });
    expect(mappings.get(uuidOf(packing.key))!.enabled).toBe(false);

    now += settings.openSeconds * 1000 * 10;
    failingWindow(now - MINUTE);
    inAlarm.add(ALARM_NAME);
    await handler(table)(TICK);
    await handler(table)(alarmEvent(ALARM_NAME, now - MINUTE));
    expect((await describe_(table))[packing.key]).toMatchObject({ state: 'open', manual: true });
    expect(updates()).toHaveLength(1);

    const closed = await handler(table)({ command: 'close', stage: packing.key, by: 'operator@ops' });
    expect(closed).toMatchObject({ breaker: { state: 'closed', reason: 'closed by operator@ops' } });
    expect((closed as { breaker: { manual?: boolean } }).breaker.manual).toBeUndefined();
    expect(mappings.get(uuidOf(packing.key))).toEqual({ enabled: true, maxConcurrency: packing.maxConcurrency });
    expect(published().map((p) => p.Subject)).toEqual([
      expect.stringContaining(breakerChangeMessage('open')),
      expect.stringContaining(breakerChangeMessage('closed')),
    ]);
  });

  it('a closed breaker whose alarm is still in ALARM from before judges the latest window, not the stale one', async () => {
    const table = new MemoryTable();
    const stale = Date.UTC(2026, 0, 5, 10, 0, 0);
    failingWindow(stale);
    await handler(table)({ command: 'close', stage: packing.key, by: 'operator@ops' });
    inAlarm.add(ALARM_NAME);
    now += 5 * MINUTE;
    await handler(table)(alarmEvent(ALARM_NAME, stale));
    await handler(table)(TICK);
    expect((await describe_(table))[packing.key]!.state).toBe('closed');
    failingWindow(Math.floor(now / MINUTE) * MINUTE - MINUTE);
    await handler(table)(TICK);
    expect((await describe_(table))[packing.key]!.state).toBe('open');
  });

  it('a mapping change that failed is finished by the next round', async () => {
    const table = new MemoryTable();
    lambda
      .on(UpdateEventSourceMappingCommand)
      .rejectsOnce(
        Object.assign(new Error('The resource you requested is currently in use'), { name: 'ResourceInUseException' }),
      )
      .callsFake(updateMapping);
    await handler(table)({ command: 'open', stage: packing.key, by: 'operator@ops' });
    expect(mappings.get(uuidOf(packing.key))!.enabled).toBe(true);
    expect(published()).toHaveLength(1);
    await handler(table)(TICK);
    expect(mappings.get(uuidOf(packing.key))!.enabled).toBe(false);
    await handler(table)(TICK);
    expect(updates()).toHaveLength(2);
  });

  it('answers a malformed or unknown command with what is wrong, and ignores events that are not its own', async () => {
    const table = new MemoryTable();
    expect(await handler(table)({ command: 'open', stage: 'wh-9/packing', by: 'me' })).toEqual({
      error: expect.stringMatching(/^no circuit breaker for stage "wh-9\/packing"; the stages are wh-1\/picking, /),
    });
    expect(await handler(table)({ command: 'toggle' })).toEqual({
      error: expect.stringMatching(/command must be "open", "close" or "describe", got "toggle"/),
    });
    expect(await handler(table)({ command: 'open', stage: 'packing', by: 'me' })).toEqual({
      error: expect.stringMatching(/^invalid breaker command: stage must be warehouse\/stage/),
    });
    expect(await handler(table)(alarmEvent(`${STACK}-breaker-wh-7-x`, now))).toEqual({
      ignored: expect.stringContaining('no breaker of this stack'),
    });
    expect(await handler(table)(alarmEvent(ALARM_NAME, now, 'OK'))).toEqual({
      ignored: expect.stringContaining('is OK'),
    });
    expect(await handler(table)({ hello: 'world' })).toEqual({ ignored: expect.any(String) });
    expect(updates()).toEqual([]);
    expect(published()).toEqual([]);
  });
});

/** A table whose first `parties` breaker reads wait for one another: every invocation has read before any writes. */
class ReadBarrier implements Table {
  reads = 0;
  readonly #table: Table;
  readonly #parties: number;
  readonly #arrived: Array<() => void> = [];

  constructor(table: Table, parties: number) {
    this.#table = table;
    this.#parties = parties;
  }

  async collection(orderId: string, options?: ReadOptions) {
    this.reads++;
    if (this.reads <= this.#parties) {
      await new Promise<void>((resolve) => {
        this.#arrived.push(resolve);
        if (this.#arrived.length === this.#parties) for (const release of this.#arrived) release();
      });
    }
    return this.#table.collection(orderId, options);
  }

  put: Table['put'] = (...args) => this.#table.put(...args);
  update: Table['update'] = (...args) => this.#table.update(...args);
  delete: Table['delete'] = (key: Key, ...rest) => this.#table.delete(key, ...rest);
  putAll: Table['putAll'] = (...args) => this.#table.putAll(...args);
  getAll: Table['getAll'] = (...args) => this.#table.getAll(...args);
  scan: Table['scan'] = () => this.#table.scan();
  queryIndex: Table['queryIndex'] = (...args) => this.#table.queryIndex(...args);
}
