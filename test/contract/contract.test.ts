/**
 * The cloud/local contract, proven rather than asserted: the deployed handlers run (locally, as
 * the synthesized template configures them) and print their EMF metrics and log lines; then every
 * metric an alarm reads, every metric a dashboard widget shows, every metric `conveyor status
 * --target aws` asks CloudWatch for (recorded with aws-sdk-client-mock), and every message and
 * field a saved Logs Insights query matches must be one of those the handlers actually printed —
 * namespace, name, dimensions and values. And every AWS call a handler made (recorded at the
 * emulators) is one its role in the template allows, on the resource it was made on. Nothing here
 * names a metric, a dimension, a message or an IAM action.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudWatchClient, GetMetricDataCommand, type GetMetricDataCommandInput } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, GetQueryResultsCommand, StartQueryCommand } from '@aws-sdk/client-cloudwatch-logs';
import { orderQueryString } from '../../lib/cli/log-insights.ts';
import { LogMessage, StackOutput } from '../../lib/contract/index.ts';
import { mentionsOrder, ordersNamed, traceLineOf } from '../../lib/operations/order-trace.ts';
import { GetEventSourceMappingCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInProcess } from '../cli/support.ts';
import {
  asList,
  CDK_CONTEXT,
  cleanupAssemblies,
  FAKE_REGION,
  fakeDeployedValue,
  grantsOf,
  logicalId,
  referencedId,
  resolveCfn,
  resourcesOf,
  stagesInTemplate,
  synthConveyor,
  type CfnTemplate,
} from '../support/cdk-app.ts';
import {
  metricKey,
  runDeployedHandlers,
  type Emitted,
  type EmittedCall,
  type EmittedLine,
  type MetricId,
} from './emitted.ts';

const { stack, json } = synthConveyor();
const intakeId = logicalId(stack.orderApi.function);
const auditorId = logicalId(stack.deadLetterAuditor.function);
const fake = (value: unknown) => resolveCfn(value, (reference) => fakeDeployedValue(json, stack.stackName, reference));
let emitted: Emitted;
let emittedKeys: Set<string>;

beforeAll(async () => {
  emitted = await runDeployedHandlers(json, CDK_CONTEXT.conveyor, intakeId, auditorId);
  emittedKeys = new Set(emitted.metrics.map(metricKey));
}, 180_000);
afterAll(cleanupAssemblies);

/** Conveyor's own metrics: those the handlers emit, in a namespace of their own (not AWS/…). */
const isCustom = (m: MetricId) => !m.namespace.startsWith('AWS/');
const notEmitted = (reads: readonly MetricId[]) => reads.filter(isCustom).filter((m) => !emittedKeys.has(metricKey(m)));

describe('metrics the cloud side reads are metrics the handlers emit', () => {
  it('the handlers emitted metrics at all (the scenario ran)', () => {
    expect(emitted.metrics.filter(isCustom).length).toBeGreaterThan(0);
  });

  it('every metric an alarm watches', () => {
    const reads = metricsReadByAlarms(json, fake);
    expect(notEmitted(reads)).toEqual([]);
  });

  it('every metric a dashboard widget shows', () => {
    const reads = metricsOnDashboards(json, fake);
    expect(reads.filter(isCustom).length).toBeGreaterThan(0);
    expect(notEmitted(reads)).toEqual([]);
  });

  it('every metric `conveyor status --target aws` asks CloudWatch for', async () => {
    const reads = await metricsReadByCliStatus(json, stack.stackName, fake);
    expect(reads.filter(isCustom).length).toBeGreaterThan(0);
    expect(notEmitted(reads)).toEqual([]);
  });
});

describe('saved Logs Insights queries match lines the handlers print', () => {
  const queries = resourcesOf(json, 'AWS::Logs::QueryDefinition').map(([, q]) => ({
    name: q.Properties.Name as string,
    statements: (q.Properties.QueryString as string).split('\n').map((line) => line.replace(/^\|\s*/, '').trim()),
    logGroups: new Set(asList(q.Properties.LogGroupNames).map((g) => referencedId(g))),
  }));
  const logGroupOf = (line: EmittedLine) =>
    referencedId(json.Resources[line.functionId]!.Properties.LoggingConfig.LogGroup);

  it('exist', () => {
    expect(queries.length).toBeGreaterThan(0);
  });

  it('filter on messages the handlers log, in log groups the query reads, with every field it shows', () => {
    for (const query of queries.filter((q) => filteredMessages(q.statements).length > 0)) {
      const messages = filteredMessages(query.statements);
      for (const message of messages) {
        const lines = emitted.logs.filter((l) => l.fields.message === message);
        expect(lines.length, `${query.name}: no handler logged "${message}"`).toBeGreaterThan(0);
        for (const line of lines)
          expect(
            query.logGroups,
            `${query.name}: "${message}" is logged by ${line.functionId}, outside the query's log groups`,
          ).toContain(logGroupOf(line));
      }
      const matching = emitted.logs.filter((l) => messages.includes(l.fields.message as string));
      for (const field of fieldsUsed(query.statements)) {
        expect(
          matching.some((l) => field in l.fields),
          `${query.name}: no matching line has the field "${field}"`,
        ).toBe(true);
      }
    }
  });

  it("one order's journey finds the order in the intake's log and in the stage that retried it", () => {
    const journeys = queries.filter((q) => likePatterns(q.statements).length > 0);
    expect(journeys.length).toBeGreaterThan(0);
    for (const query of journeys) {
      // The pattern is a placeholder the operator replaces with an order id: replace it with one.
      const found = emitted.logs.filter(
        (l) => JSON.stringify(l.fields).includes(emitted.retriedOrderId) && query.logGroups.has(logGroupOf(l)),
      );
      const functions = new Set(found.map((l) => l.functionId));
      expect(functions, `${query.name} finds no intake line`).toContain(emitted.intakeId);
      expect(functions.size, `${query.name} finds no stage line`).toBeGreaterThan(1);
    }
  });
});

describe('`conveyor trace` reads the lines the handlers print about an order, in the log groups they print them to', () => {
  const about = (orderId: string) => emitted.logs.filter((l) => mentionsOrder(l.fields, orderId));
  const lineOf = (l: EmittedLine) => traceLineOf(l.fields, { source: '(unnamed)', at: '(no time)' })!;

  it('the retried order: the intake names it, its stage reports each failure with the receive count and the reason', () => {
    const lines = about(emitted.retriedOrderId);
    expect(lines.some((l) => l.functionId === emitted.intakeId)).toBe(true);
    const failures = lines.filter((l) => l.functionId !== emitted.intakeId).map(lineOf);
    expect(failures.map((f) => f.message).sort()).toEqual(
      [LogMessage.recordDeadLettered, LogMessage.recordRetried].sort(),
    );
    for (const failure of failures) {
      expect(failure).toMatchObject({
        receiveCount: expect.any(Number),
        reason: expect.any(String),
        pipeline: expect.any(String),
      });
      expect(failure.source).not.toBe('(unnamed)');
      expect(failure.at).not.toBe('(no time)');
    }
  });

  it('the order a redrive policy moved: the auditor reports it, with the stage and the reason', () => {
    const lines = about(emitted.movedOrderId);
    expect(lines.map((l) => l.functionId)).toEqual([emitted.auditorId]);
    const line = lineOf(lines[0]!);
    expect(line.message).toBe(LogMessage.deadLetterRecorded);
    expect(line).toMatchObject({ stage: expect.any(String), reason: expect.any(String), kind: expect.any(String) });
    expect(line.source).not.toBe(line.stage);
  });

  it('the Logs Insights filter selects, for every order, exactly the printed lines that name it', () => {
    const ids = new Set(emitted.logs.flatMap((l) => ordersNamed(l.fields)));
    expect(ids.size).toBeGreaterThan(2);
    for (const id of ids) {
      const pattern = /filter @message like \/(.*)\/$/m.exec(orderQueryString(id))![1]!;
      const selected = emitted.logs.filter((l) => new RegExp(pattern).test(l.raw));
      expect(selected, id).toEqual(about(id));
    }
  });

  it('the log groups it queries on AWS are those the intake, the auditor and the order’s warehouse’s stage functions write to', async () => {
    const logsMock = mockClient(CloudWatchLogsClient);
    const cfnMock = mockClient(CloudFormationClient);
    const server = createServer((_request, response) =>
      response.writeHead(404, { 'content-type': 'application/json' }).end('{}'),
    );
    try {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod/`;
      const outputs = Object.entries(json.Outputs).map(([key, output]) => ({
        OutputKey: key,
        OutputValue: key === StackOutput.apiUrl ? apiUrl : fake(output.Value),
      }));
      cfnMock.on(DescribeStacksCommand).resolves({
        Stacks: [
          { StackName: stack.stackName, StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: outputs },
        ],
      });
      logsMock.on(StartQueryCommand).resolves({ queryId: 'q' });
      logsMock.on(GetQueryResultsCommand).resolves({ status: 'Complete', results: [] });
      const run = await runInProcess([
        'trace',
        'o-unknown',
        '--target',
        'aws',
        '--stack',
        stack.stackName,
        '--region',
        FAKE_REGION,
      ]);
      expect(run.stderr).toContain('no order "o-unknown"');
      const queried = logsMock.commandCalls(StartQueryCommand).flatMap((c) => c.args[0].input.logGroupNames ?? []);
      const logGroupOfFunction = (id: string) =>
        fake({ Ref: referencedId(json.Resources[id]!.Properties.LoggingConfig.LogGroup) });
      const writers = [emitted.intakeId, emitted.auditorId, ...stagesInTemplate(json).map((s) => s.functionId)];
      expect(queried.sort()).toEqual(writers.map(logGroupOfFunction).sort());
    } finally {
      logsMock.restore();
      cfnMock.restore();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('every AWS call a handler makes is allowed by its role in the template', () => {
  it('the handlers called SQS and DynamoDB (the scenario ran)', () => {
    expect(new Set(emitted.calls.map((c) => c.service))).toEqual(new Set(['sqs', 'dynamodb']));
  });

  it('each call: the IAM action that authorizes it, on the queue or table it named', () => {
    const missing = new Set<string>();
    for (const call of emitted.calls) {
      const action = iamActionOf(call);
      const grants = grantsOf(json, call.functionId);
      for (const resource of resourcesNamedBy(call)) {
        if (!grants.some((g) => g.action === action && g.resource === resource))
          missing.add(`${call.functionId}: ${action} on ${resource}`);
      }
    }
    expect([...missing]).toEqual([]);
  });
});

/**
 * The IAM action that authorizes an API call: the operation's own name, except SQS's batch calls,
 * which IAM authorizes with the single-message action (SQS's "Actions and permissions" reference).
 */
function iamActionOf({ service, call }: EmittedCall): string {
  const operation = call.target.slice(call.target.indexOf('.') + 1);
  const batchOf: Record<string, string> = {
    SendMessageBatch: 'SendMessage',
    DeleteMessageBatch: 'DeleteMessage',
    ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
  };
  return `${service}:${service === 'sqs' ? (batchOf[operation] ?? operation) : operation}`;
}

/** The template resources (logical ids) a call acts on: its queue, or the tables it names. */
function resourcesNamedBy({ service, call }: EmittedCall): string[] {
  const body = call.body as { QueueUrl?: string; TableName?: string; RequestItems?: Record<string, unknown> };
  // Queues by their URL's path: each function reached its queues through a proxy of its own.
  const local =
    service === 'sqs'
      ? [body.QueueUrl && new URL(body.QueueUrl).pathname]
      : [body.TableName, ...Object.keys(body.RequestItems ?? {})];
  return local
    .filter((x): x is string => x !== undefined)
    .map((name) => emitted.logicalIds.get(name) ?? `(not in the template: ${name})`);
}

/** Every metric the template's alarms read (plain alarms and metric-math inputs). */
function metricsReadByAlarms(template: CfnTemplate, render: (value: unknown) => string): MetricId[] {
  const dimensions = (list: Array<{ Name: string; Value: unknown }> = []) =>
    Object.fromEntries(list.map((d) => [d.Name, render(d.Value)]));
  return resourcesOf(template, 'AWS::CloudWatch::Alarm').flatMap(([, alarm]) => {
    const p = alarm.Properties;
    if (p.MetricName) return [{ namespace: p.Namespace, name: p.MetricName, dimensions: dimensions(p.Dimensions) }];
    return (p.Metrics as Array<Record<string, any>>)
      .filter((m) => m.MetricStat)
      .map((m) => ({
        namespace: m.MetricStat.Metric.Namespace,
        name: m.MetricStat.Metric.MetricName,
        dimensions: dimensions(m.MetricStat.Metric.Dimensions),
      }));
  });
}

/** Every metric row of every dashboard widget: `[namespace, name, dimension, value, …, {options}]`. */
function metricsOnDashboards(template: CfnTemplate, render: (value: unknown) => string): MetricId[] {
  return resourcesOf(template, 'AWS::CloudWatch::Dashboard').flatMap(([, dashboard]) => {
    const body = JSON.parse(render(dashboard.Properties.DashboardBody)) as {
      widgets: Array<{ properties: { metrics?: unknown[][] } }>;
    };
    return body.widgets.flatMap((w) =>
      (w.properties.metrics ?? [])
        .filter((row) => typeof row[0] === 'string')
        .map((row) => {
          const parts = row.filter((cell) => typeof cell === 'string') as string[];
          const [namespace, name, ...pairs] = parts as [string, string, ...string[]];
          const dims: Record<string, string> = {};
          for (let i = 0; i + 1 < pairs.length; i += 2) dims[pairs[i]!] = pairs[i + 1]!;
          return { namespace, name, dimensions: dims };
        }),
    );
  });
}

/**
 * `conveyor status --target aws` against mocked AWS APIs: DescribeStacks answers the template's
 * outputs as a deployment would resolve them; the metric queries the CLI then sends are recorded.
 */
async function metricsReadByCliStatus(
  template: CfnTemplate,
  stackName: string,
  render: (value: unknown) => string,
): Promise<MetricId[]> {
  const mocks = {
    cfn: mockClient(CloudFormationClient),
    sqs: mockClient(SQSClient),
    lambda: mockClient(LambdaClient),
    cloudwatch: mockClient(CloudWatchClient),
  };
  try {
    const outputs = Object.entries(template.Outputs).map(([key, output]) => ({
      OutputKey: key,
      OutputValue: render(output.Value),
      Description: output.Description,
    }));
    mocks.cfn.on(DescribeStacksCommand).resolves({
      Stacks: [{ StackName: stackName, StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: outputs }],
    });
    mocks.sqs.on(GetQueueAttributesCommand).resolves({ Attributes: {} });
    mocks.lambda.on(GetEventSourceMappingCommand).resolves({ State: 'Enabled' });
    mocks.cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    const run = await runInProcess([
      'status',
      '--target',
      'aws',
      '--stack',
      stackName,
      '--region',
      FAKE_REGION,
      '--json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    return mocks.cloudwatch.commandCalls(GetMetricDataCommand).flatMap((call) =>
      ((call.args[0].input as GetMetricDataCommandInput).MetricDataQueries ?? [])
        .filter((q) => q.MetricStat?.Metric)
        .map((q) => {
          const metric = q.MetricStat!.Metric!;
          return {
            namespace: metric.Namespace!,
            name: metric.MetricName!,
            dimensions: Object.fromEntries((metric.Dimensions ?? []).map((d) => [d.Name!, d.Value!])),
          };
        }),
    );
  } finally {
    for (const mock of Object.values(mocks)) mock.restore();
  }
}

/** The messages a query's filter statements select: `message = "…"` and `message in ["…", …]`. */
function filteredMessages(statements: readonly string[]): string[] {
  const filters = statements.filter((s) => s.startsWith('filter '));
  const equal = filters.flatMap((s) => [...s.matchAll(/\bmessage\s*=\s*"([^"]*)"/g)].map((m) => m[1]!));
  const listed = filters.flatMap((s) =>
    [...s.matchAll(/\bmessage\s+in\s+\[([^\]]*)\]/g)].flatMap((m) =>
      [...m[1]!.matchAll(/"([^"]*)"/g)].map((x) => x[1]!),
    ),
  );
  return [...equal, ...listed];
}

/** The `@message like "…"` patterns of a query. */
function likePatterns(statements: readonly string[]): string[] {
  return statements
    .filter((s) => s.startsWith('filter '))
    .flatMap((s) => [...s.matchAll(/@message\s+like\s+"([^"]*)"/g)].map((m) => m[1]!));
}

/** The log fields a query reads: its `fields`, what `stats` aggregates and groups by, what it sorts by. */
function fieldsUsed(statements: readonly string[]): string[] {
  const names = new Set<string>();
  const computed = new Set(statements.flatMap((s) => [...s.matchAll(/\bas\s+([A-Za-z_]\w*)/g)].map((m) => m[1]!)));
  for (const s of statements) {
    if (s.startsWith('fields ')) for (const f of s.slice('fields '.length).split(',')) names.add(f.trim());
    if (s.startsWith('stats ')) {
      const [aggregates, by = ''] = s.slice('stats '.length).split(/\bby\b/) as [string, string?];
      for (const m of aggregates.matchAll(/\(\s*([A-Za-z_][\w.]*)\s*\)/g)) names.add(m[1]!);
      for (const f of by.split(',')) if (f.trim()) names.add(f.trim());
    }
    if (s.startsWith('sort ')) names.add(s.slice('sort '.length).split(/\s+/)[0]!);
  }
  // Computed names (`count(*) as failures`) and CloudWatch's own fields (@timestamp, @log) are not log fields.
  return [...names].filter((n) => n && !computed.has(n) && !n.startsWith('@') && n !== '*' && !/\s/.test(n));
}
