/**
 * `conveyor … --target aws` against mocked AWS APIs (aws-sdk-client-mock): each command makes
 * exactly the expected calls, with the ARNs, URLs and UUIDs from the stack's outputs. The signed
 * order API is a local HTTP server that checks the SigV4 signature.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, GetQueryResultsCommand, StartQueryCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  GetEventSourceMappingCommand,
  InvokeCommand,
  LambdaClient,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StageMetric, stageMetricDimensions } from '../../lib/contract/index.ts';
import { ATTR_REDRIVE_OF } from '../../lib/operations/dead-letter-redrive.ts';
import { OperatorAction } from '../../lib/operations/operator-audit.ts';
import { redrivePolicyReason } from '../../lib/operations/dead-letters.ts';
import { duration } from '../../lib/cli/format.ts';
import {
  allStages,
  deadLetterQueueSettings,
  loadTopology,
  queueSettings,
  RETENTION_WARNING_SHARE,
} from '../../lib/topology/index.ts';
import { tempDir } from '../support/runtime-process.ts';
import { lines, runInProcess, stackOutputs, stageResources, topologyManifest, verifySignature } from './support.ts';

const cfn = mockClient(CloudFormationClient);
const sqs = mockClient(SQSClient);
const lambda = mockClient(LambdaClient);
const cloudwatch = mockClient(CloudWatchClient);
const dynamodb = mockClient(DynamoDBDocumentClient);
const logs = mockClient(CloudWatchLogsClient);

const AWS = ['--target', 'aws', '--region', 'us-east-1'];
const picking1 = stageResources('wh-1', 'picking');

// What the default topology's queues keep, and the age at which the CLI must warn (lib/topology/limits.ts).
const topology = loadTopology({}, 'test');
const QUEUE_RETENTION = queueSettings(topology, allStages(topology)[0]!).messageRetentionSeconds;
const DLQ_RETENTION = deadLetterQueueSettings(topology).messageRetentionSeconds;
const WARNING_AGE = Math.ceil(QUEUE_RETENTION * RETENTION_WARNING_SHARE);

/** The CLI's audit lines on stderr (`conveyor: audit {json}`). */
function audits(stderr: string): Array<Record<string, unknown>> {
  return lines(stderr)
    .filter((l) => l.startsWith('conveyor: audit '))
    .map((l) => JSON.parse(l.slice('conveyor: audit '.length)) as Record<string, unknown>);
}

interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}
let server: Server;
let apiUrl: string;
const received: Received[] = [];
let answer: (request: Received) => { status: number; body: unknown } = () => ({ status: 500, body: {} });

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const entry = { method: request.method ?? '', path: request.url ?? '', headers: request.headers, body };
      received.push(entry);
      const { status, body: reply } = answer(entry);
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod/`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  for (const mock of [cfn, sqs, lambda, cloudwatch, dynamodb, logs]) mock.restore();
});

beforeEach(() => {
  for (const mock of [cfn, sqs, lambda, cloudwatch, dynamodb, logs]) mock.reset();
  received.length = 0;
  cfn.on(DescribeStacksCommand, { StackName: 'Conveyor' }).resolves({
    Stacks: [
      {
        StackName: 'Conveyor',
        StackStatus: 'UPDATE_COMPLETE',
        CreationTime: new Date(),
        Outputs: stackOutputs(apiUrl),
      },
    ],
  });
});

const inputs = <T>(
  mock: { commandCalls: (command: never) => Array<{ args: [{ input: T }] }> },
  command: unknown,
): T[] => mock.commandCalls(command as never).map((call) => call.args[0].input);

describe('conveyor --target aws', () => {
  it('status: SQS queue and DLQ counts, event source mapping state and concurrency, CloudWatch figures — the exact calls', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: {
        ApproximateNumberOfMessages: '0',
        ApproximateNumberOfMessagesNotVisible: '0',
        ApproximateNumberOfMessagesDelayed: '0',
      },
    });
    sqs.on(GetQueueAttributesCommand, { QueueUrl: picking1.QueueUrl }).resolves({
      Attributes: {
        ApproximateNumberOfMessages: '120',
        ApproximateNumberOfMessagesNotVisible: '7',
        ApproximateNumberOfMessagesDelayed: '2',
      },
    });
    sqs.on(GetQueueAttributesCommand, { QueueUrl: picking1.DlqUrl }).resolves({
      Attributes: {
        ApproximateNumberOfMessages: '3',
        ApproximateNumberOfMessagesNotVisible: '0',
        ApproximateNumberOfMessagesDelayed: '0',
      },
    });
    lambda.on(GetEventSourceMappingCommand).resolves({ State: 'Enabled', ScalingConfig: { MaximumConcurrency: 5 } });
    lambda
      .on(GetEventSourceMappingCommand, { UUID: 'uuid-wh-2-packing' })
      .resolves({ State: 'Disabled', ScalingConfig: { MaximumConcurrency: 10 } });
    cloudwatch.on(GetMetricDataCommand).callsFake((input: { MetricDataQueries: Array<{ Id: string }> }) => ({
      MetricDataResults: input.MetricDataQueries.map((q) => ({
        Id: q.Id,
        Values:
          q.Id === 's0_succeeded'
            ? [30, 30]
            : q.Id === 's0_failed'
              ? [6]
              : q.Id === 's0_age'
                ? [95, 80]
                : q.Id === 's0_concurrency'
                  ? [4]
                  : q.Id === 'accepted'
                    ? [60]
                    : [],
      })),
    }));

    const run = await runInProcess([...AWS, 'status', '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);

    expect(inputs(cfn, DescribeStacksCommand)).toEqual([{ StackName: 'Conveyor' }]);
    const attributes = inputs<{ QueueUrl: string; AttributeNames: string[] }>(sqs, GetQueueAttributesCommand);
    expect(attributes).toHaveLength(12);
    for (const warehouse of ['wh-1', 'wh-2']) {
      for (const stage of ['picking', 'packing', 'delivery']) {
        const r = stageResources(warehouse, stage);
        for (const url of [r.QueueUrl, r.DlqUrl]) {
          expect(attributes).toContainEqual({
            QueueUrl: url,
            AttributeNames: [
              'ApproximateNumberOfMessages',
              'ApproximateNumberOfMessagesNotVisible',
              'ApproximateNumberOfMessagesDelayed',
              'MessageRetentionPeriod',
            ],
          });
        }
      }
    }
    expect(
      inputs<{ UUID: string }>(lambda, GetEventSourceMappingCommand)
        .map((i) => i.UUID)
        .sort(),
    ).toEqual([
      'uuid-wh-1-delivery',
      'uuid-wh-1-packing',
      'uuid-wh-1-picking',
      'uuid-wh-2-delivery',
      'uuid-wh-2-packing',
      'uuid-wh-2-picking',
    ]);
    const [metrics] = inputs<{
      MetricDataQueries: Array<{
        Id: string;
        MetricStat: {
          Metric: { Namespace: string; MetricName: string; Dimensions: Array<{ Name: string; Value: string }> };
          Stat: string;
        };
      }>;
    }>(cloudwatch, GetMetricDataCommand);
    const query = (id: string) => metrics?.MetricDataQueries.find((q) => q.Id === id)?.MetricStat;
    // The stack's own functions' namespace and service, as its manifest says (test/contract proves they match what the handlers emit).
    const { metrics: where } = topologyManifest();
    const succeeded = query('s0_succeeded')!;
    expect(succeeded).toMatchObject({
      Metric: { Namespace: where.namespace, MetricName: StageMetric.Succeeded },
      Stat: 'Sum',
    });
    expect(Object.fromEntries(succeeded.Metric.Dimensions.map((d) => [d.Name, d.Value]))).toEqual(
      stageMetricDimensions(where.service, 'wh-1', 'picking'),
    );
    expect(query('s0_age')).toMatchObject({
      Metric: {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: 'Conveyor-wh-1-picking' }],
      },
      Stat: 'Maximum',
    });
    expect(query('s0_dlqage')).toMatchObject({
      Metric: {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: 'Conveyor-wh-1-picking-dlq' }],
      },
      Stat: 'Maximum',
    });
    expect(query('s0_concurrency')).toMatchObject({
      Metric: {
        Namespace: 'AWS/Lambda',
        MetricName: 'ConcurrentExecutions',
        Dimensions: [{ Name: 'FunctionName', Value: 'Conveyor-wh-1-picking-fn' }],
      },
    });

    const report = JSON.parse(run.stdout);
    expect(report.source).toBe('stack Conveyor (us-east-1)');
    expect(report.pipelines['wh-1'].picking).toMatchObject({
      ready: 120,
      inFlight: 7,
      delayed: 2,
      dlq: 3,
      oldestMessageAgeSeconds: 95,
      succeeded: 60,
      retried: 6,
      failed: 6,
      perSecond: 0.2,
      concurrency: { inUse: 4, max: 5 },
      paused: false,
    });
    expect(report.pipelines['wh-2'].packing).toMatchObject({
      ready: 0,
      dlq: 0,
      paused: true,
      concurrency: { max: 10 },
    });
    expect(report.totals).toMatchObject({ accepted: 60, inFlight: 129 });
  });

  it('status renders the table, marks the paused stage, and points at the fix with the same target flags', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '0' } });
    sqs
      .on(GetQueueAttributesCommand, { QueueUrl: picking1.DlqUrl })
      .resolves({ Attributes: { ApproximateNumberOfMessages: '2' } });
    lambda.on(GetEventSourceMappingCommand).resolves({ State: 'Enabled', ScalingConfig: { MaximumConcurrency: 5 } });
    lambda
      .on(GetEventSourceMappingCommand, { UUID: 'uuid-wh-1-packing' })
      .resolves({ State: 'Disabled', ScalingConfig: { MaximumConcurrency: 5 } });
    cloudwatch.on(GetMetricDataCommand).rejects(
      Object.assign(new Error('User is not authorized to perform: cloudwatch:GetMetricData'), {
        name: 'AccessDenied',
      }),
    );
    const dashboardUrl = 'https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=Conveyor';
    cfn.on(DescribeStacksCommand, { StackName: 'Conveyor' }).resolves({
      Stacks: [
        {
          StackName: 'Conveyor',
          StackStatus: 'UPDATE_COMPLETE',
          CreationTime: new Date(),
          Outputs: [
            ...stackOutputs(apiUrl),
            { OutputKey: 'DashboardName', OutputValue: 'Conveyor' },
            { OutputKey: 'DashboardUrl', OutputValue: dashboardUrl },
          ],
        },
      ],
    });

    const run = await runInProcess([...AWS, 'status']);
    expect(run.code).toBe(0);
    const out = lines(run.stdout);
    expect(out[0]).toContain('stack Conveyor (us-east-1)');
    expect(out.find((l) => l.startsWith('WAREHOUSE'))).toMatch(
      /WAREHOUSE\s+STAGE\s+STATE\s+READY\s+IN FLIGHT\s+DELAYED\s+DLQ\s+OLDEST\s+PROCESSED\s+FAILED\s+RETRIED\s+IN\/s\s+OUT\/s\s+FAIL\/s\s+CONCURRENCY/,
    );
    expect(out.find((l) => /^\s+packing\s+PAUSED/.test(l))).toBeDefined();
    expect(run.stdout).toContain(
      'wh-1/picking: 2 dead letters — see why: conveyor dlq peek --stage picking --warehouse wh-1 --target aws --region us-east-1',
    );
    expect(run.stdout).toContain('wh-1/packing is paused');
    expect(run.stdout).toContain(
      'CloudWatch metrics not read (AWS denied the request (User is not authorized to perform: cloudwatch:GetMetricData)',
    );
    expect(run.stdout).toContain(`CloudWatch dashboard: ${dashboardUrl}`);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC
    expect(run.stdout).not.toMatch(/\x1b\[/); // no colour off a terminal
  });

  it('dlq redrive: StartMessageMoveTask from the DLQ ARN to the queue ARN at the given rate, and the task it started', async () => {
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-1' });
    sqs.on(ListMessageMoveTasksCommand).resolves({
      Results: [
        {
          TaskHandle: 'task-1',
          Status: 'RUNNING',
          ApproximateNumberOfMessagesToMove: 6,
          ApproximateNumberOfMessagesMoved: 0,
        },
      ],
    });

    const run = await runInProcess(
      [...AWS, 'dlq', 'redrive', '--stage', 'picking', '--warehouse', 'wh-1', '--rate', '50'],
      { env: { USER: 'ana' } },
    );
    expect(audits(run.stderr)).toEqual([
      expect.objectContaining({
        message: OperatorAction.redriven,
        who: expect.stringMatching(/^ana@/),
        stage: 'wh-1/picking',
        moveTask: 'task-1',
        approximateNumberToMove: 6,
        ratePerSecond: 50,
        target: 'stack Conveyor (us-east-1)',
      }),
    ]);
    expect(inputs(sqs, StartMessageMoveTaskCommand)).toEqual([
      { SourceArn: picking1.DlqArn, DestinationArn: picking1.QueueArn, MaxNumberOfMessagesPerSecond: 50 },
    ]);
    expect(inputs(sqs, ListMessageMoveTasksCommand)).toEqual([{ SourceArn: picking1.DlqArn, MaxResults: 1 }]);
    expect(run.stdout).toContain(
      'wh-1/picking: move task started — ~6 dead letters back to the picking queue (task task-1)',
    );
    expect(run.code).toBe(0);
  });

  it('dlq redrive --wait follows ListMessageMoveTasks until the task completes, in every warehouse without --warehouse', async () => {
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-2' });
    sqs
      .on(ListMessageMoveTasksCommand)
      .resolvesOnce({
        Results: [
          {
            TaskHandle: 'task-2',
            Status: 'RUNNING',
            ApproximateNumberOfMessagesToMove: 4,
            ApproximateNumberOfMessagesMoved: 0,
          },
        ],
      })
      .resolvesOnce({
        Results: [
          {
            TaskHandle: 'task-2',
            Status: 'RUNNING',
            ApproximateNumberOfMessagesToMove: 4,
            ApproximateNumberOfMessagesMoved: 2,
          },
        ],
      })
      .resolves({
        Results: [
          {
            TaskHandle: 'task-2',
            Status: 'COMPLETED',
            ApproximateNumberOfMessagesToMove: 4,
            ApproximateNumberOfMessagesMoved: 4,
          },
        ],
      });

    const run = await runInProcess([...AWS, 'dlq', 'redrive', '--stage', 'packing', '--wait']);
    expect(run.code).toBe(0);
    const starts = inputs<{ SourceArn: string; DestinationArn: string }>(sqs, StartMessageMoveTaskCommand);
    expect(starts).toEqual([
      {
        SourceArn: stageResources('wh-1', 'packing').DlqArn,
        DestinationArn: stageResources('wh-1', 'packing').QueueArn,
      },
      {
        SourceArn: stageResources('wh-2', 'packing').DlqArn,
        DestinationArn: stageResources('wh-2', 'packing').QueueArn,
      },
    ]);
    expect(run.stdout).toContain('wh-1/packing: moved 4 dead letters back to the packing queue — move task COMPLETED');
    expect(run.stdout).toContain('wh-2/packing: moved 4 dead letters back to the packing queue — move task COMPLETED');
  });

  it('pause and resume: UpdateEventSourceMapping Enabled false / true on the UUIDs from the outputs; pause says what the queue keeps', async () => {
    lambda
      .on(UpdateEventSourceMappingCommand)
      .resolves({ State: 'Disabling', ScalingConfig: { MaximumConcurrency: 5 } });
    sqs
      .on(GetQueueAttributesCommand)
      .resolves({ Attributes: { ApproximateNumberOfMessages: '3', MessageRetentionPeriod: String(QUEUE_RETENTION) } });
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'age', Values: [WARNING_AGE, 10] }] });
    const paused = await runInProcess([...AWS, 'pause', '--stage', 'packing']);
    expect(paused.code).toBe(0);
    expect(inputs(sqs, GetQueueAttributesCommand).map((i) => (i as { QueueUrl: string }).QueueUrl)).toEqual([
      stageResources('wh-1', 'packing').QueueUrl,
      stageResources('wh-2', 'packing').QueueUrl,
    ]);
    expect(lines(paused.stdout)).toContain(
      `  its queue keeps messages ${duration(QUEUE_RETENTION)} (the oldest is ${duration(WARNING_AGE)} old): resume before SQS deletes them`,
    );
    expect(lines(paused.stdout)).toContain(
      `! wh-1/packing: its oldest message is already ${duration(WARNING_AGE)} old — SQS deletes it in ${duration(QUEUE_RETENTION - WARNING_AGE)}; resume soon, or it is lost`,
    );
    expect(inputs(lambda, UpdateEventSourceMappingCommand)).toEqual([
      { UUID: 'uuid-wh-1-packing', Enabled: false },
      { UUID: 'uuid-wh-2-packing', Enabled: false },
    ]);
    expect(paused.stdout).toContain(
      'wh-1/packing: paused (event source mapping Disabling), max concurrency 5 — its messages wait in the queue',
    );

    lambda.reset();
    lambda
      .on(UpdateEventSourceMappingCommand)
      .resolves({ State: 'Enabling', ScalingConfig: { MaximumConcurrency: 5 } });
    const resumed = await runInProcess([...AWS, 'resume', '--stage', 'packing', '--warehouse', 'wh-2']);
    expect(resumed.code).toBe(0);
    expect(inputs(lambda, UpdateEventSourceMappingCommand)).toEqual([{ UUID: 'uuid-wh-2-packing', Enabled: true }]);
    expect(resumed.stdout).toContain('wh-2/packing: running (event source mapping Enabling)');
  });

  it('scale: UpdateEventSourceMapping ScalingConfig.MaximumConcurrency', async () => {
    lambda
      .on(UpdateEventSourceMappingCommand)
      .resolves({ State: 'Updating', ScalingConfig: { MaximumConcurrency: 20 } });
    const run = await runInProcess([
      ...AWS,
      'scale',
      '--stage',
      'picking',
      '--warehouse',
      'wh-1',
      '--max-concurrency',
      '20',
    ]);
    expect(run.code).toBe(0);
    expect(inputs(lambda, UpdateEventSourceMappingCommand)).toEqual([
      { UUID: 'uuid-wh-1-picking', ScalingConfig: { MaximumConcurrency: 20 } },
    ]);
    expect(run.stdout).toContain('wh-1/picking: max concurrency 20 (Updating)');
  });

  it('purge: refuses without --yes (saying how many would be lost), then PurgeQueue on the stage queue', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: {
        ApproximateNumberOfMessages: '40',
        ApproximateNumberOfMessagesNotVisible: '2',
        ApproximateNumberOfMessagesDelayed: '0',
      },
    });
    sqs.on(PurgeQueueCommand).resolves({});
    const refused = await runInProcess([...AWS, 'purge', '--stage', 'picking', '--warehouse', 'wh-1']);
    expect(refused.code).toBe(2);
    expect(lines(refused.stderr)).toHaveLength(1);
    expect(refused.stderr).toContain("purge would delete all 42 messages waiting in wh-1/picking's queue");
    expect(inputs(sqs, PurgeQueueCommand)).toEqual([]);

    const done = await runInProcess([...AWS, 'purge', '--stage', 'picking', '--warehouse', 'wh-1', '--yes']);
    expect(done.code).toBe(0);
    expect(inputs(sqs, PurgeQueueCommand)).toEqual([{ QueueUrl: picking1.QueueUrl }]);
  });

  it('dlq peek: receives from the DLQ with a short visibility and makes the messages visible again', async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({
        Messages: [
          {
            MessageId: 'm-1',
            ReceiptHandle: 'rh-1',
            Body: '{"v":1}',
            Attributes: { SentTimestamp: '1700000000000' },
            MessageAttributes: {
              orderId: { DataType: 'String', StringValue: 'o-1' },
              'conveyor.reason': { DataType: 'String', StringValue: 'scanner offline (gave up after 10 attempts)' },
              'conveyor.kind': { DataType: 'String', StringValue: 'exhausted' },
              'conveyor.stage': { DataType: 'String', StringValue: 'wh-1/picking' },
              'conveyor.receiveCount': { DataType: 'Number', StringValue: '10' },
            },
          },
        ],
      })
      .resolves({ Messages: [] });
    sqs.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [{ Id: '0' }], Failed: [] });
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: picking1.DlqArn, maxReceiveCount: 10 }) },
    });

    const run = await runInProcess([
      ...AWS,
      'dlq',
      'peek',
      '--stage',
      'picking',
      '--warehouse',
      'wh-1',
      '--limit',
      '5',
    ]);
    expect(run.code).toBe(0);
    const [first] = inputs<Record<string, unknown>>(sqs, ReceiveMessageCommand);
    expect(first).toMatchObject({
      QueueUrl: picking1.DlqUrl,
      MaxNumberOfMessages: 5,
      VisibilityTimeout: 30,
      WaitTimeSeconds: 0,
      MessageAttributeNames: ['All'],
    });
    expect(inputs(sqs, ChangeMessageVisibilityBatchCommand)).toEqual([
      { QueueUrl: picking1.DlqUrl, Entries: [{ Id: '0', ReceiptHandle: 'rh-1', VisibilityTimeout: 0 }] },
    ]);
    expect(run.stdout).toMatch(/o-1\s+exhausted\s+10\s+.*scanner offline \(gave up after 10 attempts\)/);
  });

  it('send: bulk requests to ApiUrl/orders, signed with SigV4 for execute-api (the signature verifies)', async () => {
    answer = (request) => {
      const orders = (JSON.parse(request.body) as { orders: Array<{ orderId: string; warehouseId: string }> }).orders;
      return {
        status: 202,
        body: {
          accepted: orders.length,
          duplicates: 0,
          rejected: 0,
          unavailable: 0,
          results: orders.map((o, index) => ({
            index,
            orderId: o.orderId,
            warehouseId: o.warehouseId,
            status: 'accepted',
          })),
        },
      };
    };
    const run = await runInProcess([...AWS, 'send', '--count', '150', '--warehouse', 'wh-2']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(received).toHaveLength(2);
    expect(received.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /prod/orders', 'POST /prod/orders']);
    expect(received.map((r) => JSON.parse(r.body).orders.length).sort()).toEqual([100, 50]);
    for (const request of received) {
      expect(request.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/us-east-1\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
      );
      expect(request.headers['x-amz-security-token']).toBe('session-token');
      expect(verifySignature(request, 'secret', 'us-east-1')).toBe(true);
    }
    expect(run.stdout).toMatch(/sent 150 orders to wh-2 in [\d.]+ s/);
    expect(run.stdout).toMatch(/accepted\s+150/);
  });

  it('orders get: a signed GET of ApiUrl/orders/{id}', async () => {
    answer = () => ({
      status: 200,
      body: {
        orderId: 'o-7',
        warehouseId: 'wh-1',
        status: 'delivered',
        stage: 'delivery',
        history: [{ at: '2025-01-01T00:00:00.000Z', status: 'accepted', by: 'intake' }],
      },
    });
    const run = await runInProcess([...AWS, 'orders', 'get', 'o-7']);
    expect(run.code).toBe(0);
    expect(received.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /prod/orders/o-7']);
    expect(verifySignature(received[0]!, 'secret', 'us-east-1')).toBe(true);
    expect(run.stdout).toContain('order o-7 · wh-1 · delivered · stage delivery');
  });

  it('an API-key stack: send asks for the key (one line, how to read it)', async () => {
    cfn.reset();
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'Conveyor',
          StackStatus: 'CREATE_COMPLETE',
          CreationTime: new Date(),
          Outputs: [...stackOutputs(apiUrl), { OutputKey: 'ApiKeyId', OutputValue: 'key-123' }],
        },
      ],
    });
    const run = await runInProcess([...AWS, 'send', '--count', '1']);
    expect(run.code).toBe(2);
    expect(lines(run.stderr)).toEqual([
      'conveyor: the API of stack Conveyor takes an API key — pass --api-key or set CONVEYOR_API_KEY (read it with `aws apigateway get-api-key --api-key key-123 --include-value --query value --output text`)',
    ]);
    answer = () => ({
      status: 202,
      body: { accepted: 1, duplicates: 0, rejected: 0, unavailable: 0, results: [{ index: 0, status: 'accepted' }] },
    });
    const keyed = await runInProcess([...AWS, 'send', '--count', '1', '--api-key', 'k-secret']);
    expect(keyed.code).toBe(0);
    expect(received[0]?.headers['x-api-key']).toBe('k-secret');
  });
});

describe('conveyor --target aws: retention and the dead-letter workbench', () => {
  const state = tempDir('conveyor-cli-state-');
  afterAll(() => state.remove());
  const env = { USER: 'ana', CONVEYOR_STATE_DIR: state.path };

  /** Dead letters as a stage writes them (reason, kind) and as SQS's redrive policy leaves them (neither). */
  const deadLetter = (id: string, orderId: string, reason?: string, kind?: string): Message => ({
    MessageId: id,
    ReceiptHandle: `rh-${id}`,
    Body: JSON.stringify({
      v: 1,
      order: { orderId, warehouseId: 'wh-1', priority: 'standard', items: [{ sku: 'SKU-1', quantity: 1 }] },
      acceptedAt: '2026-11-30T00:00:00.000Z',
    }),
    Attributes: { SentTimestamp: String(Date.parse('2026-11-30T00:00:00.000Z')) },
    MessageAttributes: {
      orderId: { DataType: 'String', StringValue: orderId },
      ...(reason
        ? {
            'conveyor.reason': { DataType: 'String', StringValue: reason },
            'conveyor.kind': { DataType: 'String', StringValue: kind ?? 'exhausted' },
            'conveyor.stage': { DataType: 'String', StringValue: 'wh-1/picking' },
          }
        : {}),
    },
  });
  const letters = [
    deadLetter('m-1', 'o-1', 'Scanner offline (gave up after 10 attempts)'),
    deadLetter('m-2', 'o-2', 'no box fits SKU-9', 'rejected'),
    deadLetter('m-3', 'o-3', 'scanner offline (gave up after 10 attempts)'),
    deadLetter('m-4', 'o-4'),
  ];
  const redrivePolicy = {
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: picking1.DlqArn, maxReceiveCount: 10 }),
  };

  it("status warns from the queues' MessageRetentionPeriod and CloudWatch's ApproximateAgeOfOldestMessage, as the local runtime judges it", async () => {
    sqs
      .on(GetQueueAttributesCommand)
      .resolves({ Attributes: { ApproximateNumberOfMessages: '0', MessageRetentionPeriod: String(QUEUE_RETENTION) } });
    sqs
      .on(GetQueueAttributesCommand, { QueueUrl: picking1.QueueUrl })
      .resolves({ Attributes: { ApproximateNumberOfMessages: '40', MessageRetentionPeriod: String(QUEUE_RETENTION) } });
    sqs
      .on(GetQueueAttributesCommand, { QueueUrl: picking1.DlqUrl })
      .resolves({ Attributes: { ApproximateNumberOfMessages: '2', MessageRetentionPeriod: String(DLQ_RETENTION) } });
    lambda.on(GetEventSourceMappingCommand).resolves({ State: 'Enabled', ScalingConfig: { MaximumConcurrency: 5 } });
    const deadAge = Math.ceil(DLQ_RETENTION * RETENTION_WARNING_SHARE) + 60;
    cloudwatch.on(GetMetricDataCommand).callsFake((input: { MetricDataQueries: Array<{ Id: string }> }) => ({
      MetricDataResults: input.MetricDataQueries.map((q) => ({
        Id: q.Id,
        Values:
          q.Id === 's0_age'
            ? [WARNING_AGE]
            : q.Id === 's0_dlqage'
              ? [deadAge]
              : q.Id === 's1_age'
                ? [WARNING_AGE - 1]
                : [],
      })),
    }));
    const json = JSON.parse((await runInProcess([...AWS, 'status', '--json'])).stdout);
    expect(json.pipelines['wh-1'].picking).toMatchObject({
      retentionSeconds: QUEUE_RETENTION,
      nearsRetention: true,
      oldestDeadLetterAgeSeconds: deadAge,
      deadLetterRetentionSeconds: DLQ_RETENTION,
      deadLettersNearRetention: true,
    });
    expect(json.pipelines['wh-1'].packing).toMatchObject({ nearsRetention: false });
    const out = lines((await runInProcess([...AWS, 'status'])).stdout);
    expect(out).toContain(
      `! wh-1/picking: its oldest message is ${duration(WARNING_AGE)} old and the queue keeps messages ${duration(QUEUE_RETENTION)} — SQS deletes it in ${duration(QUEUE_RETENTION - WARNING_AGE)}; work it off: conveyor scale --stage picking --warehouse wh-1 --target aws --region us-east-1 --max-concurrency N`,
    );
    expect(out.find((l) => l.startsWith('! wh-1/picking: its oldest dead letter is'))).toContain(
      `SQS deletes it in ${duration(DLQ_RETENTION - deadAge)}`,
    );
    expect(out.filter((l) => /its oldest (message|dead letter)/.test(l))).toHaveLength(2);
  });

  it('dlq redrive --grep --dry-run: lists what matches, sends and deletes nothing, makes every dead letter visible again', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: redrivePolicy });
    sqs.on(ReceiveMessageCommand).resolvesOnce({ Messages: letters }).resolves({ Messages: [] });
    sqs.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
    const run = await runInProcess(
      [...AWS, 'dlq', 'redrive', '--stage', 'picking', '--warehouse', 'wh-1', '--grep', 'SCANNER', '--dry-run'],
      { env },
    );
    expect(run.code).toBe(0);
    expect(inputs(sqs, SendMessageBatchCommand)).toEqual([]);
    expect(inputs(sqs, DeleteMessageBatchCommand)).toEqual([]);
    expect(inputs(sqs, StartMessageMoveTaskCommand)).toEqual([]);
    const revealed = inputs<{ Entries: Array<{ ReceiptHandle: string; VisibilityTimeout: number }> }>(
      sqs,
      ChangeMessageVisibilityBatchCommand,
    ).flatMap((i) => i.Entries);
    expect(revealed.map((e) => e.ReceiptHandle).sort()).toEqual(letters.map((m) => m.ReceiptHandle).sort());
    expect(revealed.every((e) => e.VisibilityTimeout === 0)).toBe(true);
    expect(run.stdout).toMatch(
      /^wh-1\/picking: dry run — 2 dead letters would move back to the picking queue \(filter: reason contains "SCANNER"; 4 dead letters read\); nothing moved$/m,
    );
    expect(
      lines(run.stdout)
        .filter((l) => /^o-\d/.test(l))
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(['o-1', 'o-3']);
    expect(audits(run.stderr)).toEqual([
      expect.objectContaining({
        message: OperatorAction.redriveDryRun,
        who: expect.stringMatching(/^ana@/),
        stage: 'wh-1/picking',
        filter: 'reason contains "SCANNER"',
        wouldMove: 2,
      }),
    ]);
  });

  it('dlq redrive with a filter: receives, sends the matching ones to the stage queue with where they came from, deletes exactly those — no move task', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: redrivePolicy });
    sqs.on(ReceiveMessageCommand).resolvesOnce({ Messages: letters }).resolves({ Messages: [] });
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: Array<{ Id: string }> }) => ({
      Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: `copy-${e.Id}` })),
      Failed: [],
    }));
    sqs.on(DeleteMessageBatchCommand).callsFake((input: { Entries: Array<{ Id: string }> }) => ({
      Successful: input.Entries.map((e) => ({ Id: e.Id })),
      Failed: [],
    }));
    sqs.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
    // The dead letter SQS's redrive policy moved carries no kind: it counts as the auditor records it.
    const run = await runInProcess(
      [
        ...AWS,
        'dlq',
        'redrive',
        '--stage',
        'picking',
        '--warehouse',
        'wh-1',
        '--kind',
        'exhausted',
        '--grep',
        'redrive policy',
      ],
      { env },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(redrivePolicyReason('picking', 10)).toContain('redrive policy');
    expect(inputs(sqs, StartMessageMoveTaskCommand)).toEqual([]);
    const sent = inputs<{
      QueueUrl: string;
      Entries: Array<{ MessageBody: string; MessageAttributes: Record<string, { StringValue: string }> }>;
    }>(sqs, SendMessageBatchCommand);
    expect(sent.map((s) => s.QueueUrl)).toEqual([picking1.QueueUrl]);
    expect(
      sent[0]?.Entries.map((e) => [
        e.MessageAttributes.orderId?.StringValue,
        e.MessageAttributes[ATTR_REDRIVE_OF]?.StringValue,
      ]),
    ).toEqual([['o-4', 'm-4']]);
    expect(sent[0]?.Entries[0]?.MessageBody).toBe(letters[3]?.Body);
    expect(
      Object.keys(sent[0]?.Entries[0]?.MessageAttributes ?? {}).filter(
        (k) => k.startsWith('conveyor.') && k !== ATTR_REDRIVE_OF,
      ),
    ).toEqual([]);
    expect(
      inputs<{ QueueUrl: string; Entries: Array<{ ReceiptHandle: string }> }>(sqs, DeleteMessageBatchCommand),
    ).toEqual([{ QueueUrl: picking1.DlqUrl, Entries: [{ Id: '0', ReceiptHandle: 'rh-m-4' }] }]);
    expect(run.stdout).toMatch(
      /^wh-1\/picking: moved 1 dead letter back to the picking queue \(filter: reason contains "redrive policy", kind exhausted\) — 3 others stay in the DLQ$/m,
    );
    expect(audits(run.stderr)).toEqual([
      expect.objectContaining({
        message: OperatorAction.redriven,
        stage: 'wh-1/picking',
        moved: 1,
        matched: 1,
        scanned: 4,
        filterFields: { grep: 'redrive policy', kinds: ['exhausted'] },
      }),
    ]);
  });

  it('dlq export: the matching dead letters as lines `send --file` takes, with an audit line', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: redrivePolicy });
    sqs.on(ReceiveMessageCommand).resolvesOnce({ Messages: letters }).resolves({ Messages: [] });
    sqs.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
    const out = `${state.path}/dead.jsonl`;
    const run = await runInProcess(
      [...AWS, 'dlq', 'export', '--stage', 'picking', '--warehouse', 'wh-1', '--kind', 'rejected', '--out', out],
      { env },
    );
    expect(run.code, run.stderr).toBe(0);
    const exported = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(exported).toEqual([
      {
        order: expect.objectContaining({ orderId: 'o-2.r1', warehouseId: 'wh-1' }),
        deadLetter: expect.objectContaining({
          orderId: 'o-2',
          kind: 'rejected',
          reason: 'no box fits SKU-9',
          messageId: 'm-2',
        }),
      },
    ]);
    expect(inputs(sqs, DeleteMessageBatchCommand)).toEqual([]);
    expect(audits(run.stderr)).toEqual([
      expect.objectContaining({ message: OperatorAction.exported, stage: 'wh-1/picking', exported: 1, scanned: 4 }),
    ]);
  });

  it('orders cancel: a signed DELETE of ApiUrl/orders/{id} per order; one line each; exit 1 when one was not cancelled', async () => {
    answer = (request) =>
      request.path.endsWith('/o-1')
        ? { status: 200, body: { orderId: 'o-1', status: 'cancelled', stage: 'packing' } }
        : request.path.endsWith('/o-2')
          ? {
              status: 409,
              body: {
                error: 'order already delivered',
                order: {
                  orderId: 'o-2',
                  status: 'delivered',
                  delivery: { carrier: 'paketfix', trackingNumber: 'PF1' },
                },
              },
            }
          : { status: 404, body: { error: 'not found' } };
    const run = await runInProcess([...AWS, 'orders', 'cancel', 'o-1', 'o-2', 'o-3']);
    expect(run.code).toBe(1);
    expect(received.map((r) => `${r.method} ${r.path}`).sort()).toEqual([
      'DELETE /prod/orders/o-1',
      'DELETE /prod/orders/o-2',
      'DELETE /prod/orders/o-3',
    ]);
    for (const request of received) expect(verifySignature(request, 'secret', 'us-east-1')).toBe(true);
    const out = lines(run.stdout);
    expect(out.find((l) => l.startsWith('o-1'))).toMatch(/^o-1\s+cancelled\s+was waiting in packing$/);
    expect(out.find((l) => l.startsWith('o-2'))).toMatch(
      /^o-2\s+already delivered \(409\)\s+carrier paketfix, trackingNumber PF1$/,
    );
    expect(out.find((l) => l.startsWith('o-3'))).toMatch(/^o-3\s+not found \(404\)$/);
  });
});

describe("the README's policy for an operator's role", () => {
  /** The IAM actions of the README's operator policy (the JSON block under "What an operator's role needs"). */
  function readmePolicyActions(): Set<string> {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf("**What an operator's role needs**"));
    const policy = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(section)![1]!) as {
      Statement: Array<{ Effect: string; Action: string[] }>;
    };
    return new Set(policy.Statement.filter((st) => st.Effect === 'Allow').flatMap((st) => st.Action));
  }
  // SQS authorizes its batch calls with the single-message action; a message move task also needs these (SQS developer guide, "DLQ redrive" permissions).
  const SQS_BATCH: Record<string, string> = {
    ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
    DeleteMessageBatch: 'DeleteMessage',
    SendMessageBatch: 'SendMessage',
  };
  const MOVE_TASK_NEEDS = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:SendMessage'];
  // A trace stops its Logs Insights query when it runs too long (test/cli/aws-orders.test.ts).
  const QUERY_NEEDS = ['logs:StopQuery'];
  // Lambda authorizes Invoke with lambda:InvokeFunction (the breaker function: `breaker`, and the BREAKER column of `status`).
  const LAMBDA_ACTIONS: Record<string, string> = { Invoke: 'InvokeFunction' };

  it('allows every call every AWS command makes, and nothing those calls do not need', async () => {
    const state = tempDir('conveyor-cli-policy-');
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '1' } });
    sqs.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [{ Id: '0' }], Failed: [] });
    sqs
      .on(SendMessageBatchCommand)
      .resolves({ Successful: [{ Id: '0', MessageId: 'copy', MD5OfMessageBody: 'x' }], Failed: [] });
    sqs.on(DeleteMessageBatchCommand).resolves({ Successful: [{ Id: '0' }], Failed: [] });
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 't' });
    sqs.on(ListMessageMoveTasksCommand).resolves({ Results: [{ TaskHandle: 't', Status: 'COMPLETED' }] });
    sqs.on(PurgeQueueCommand).resolves({});
    lambda.on(GetEventSourceMappingCommand).resolves({ State: 'Enabled' });
    lambda.on(UpdateEventSourceMappingCommand).resolves({ State: 'Enabled' });
    const reply = JSON.stringify({
      stage: 'wh-1/picking',
      breaker: { state: 'open', since: 1, reason: 'opened by an operator', manual: true },
    });
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: Object.assign(new TextEncoder().encode(reply), { transformToString: () => reply }),
    });
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    dynamodb.on(QueryCommand).resolves({ Items: [] });
    logs.on(StartQueryCommand).resolves({ queryId: 'q' });
    logs.on(GetQueryResultsCommand).resolves({ status: 'Complete', results: [] });
    answer = (request) =>
      request.method === 'GET'
        ? {
            status: 200,
            body: { orderId: 'o-1', warehouseId: 'wh-1', status: 'accepted', stage: 'picking', history: [] },
          }
        : request.method === 'DELETE'
          ? { status: 200, body: { orderId: 'o-1', status: 'cancelled', stage: 'picking' } }
          : {
              status: 202,
              body: {
                accepted: 1,
                duplicates: 0,
                rejected: 0,
                unavailable: 0,
                results: [{ index: 0, status: 'accepted' }],
              },
            };
    const commands = [
      ['status'],
      ['dlq', 'peek', '--stage', 'picking'],
      ['dlq', 'redrive', '--stage', 'picking', '--wait'],
      ['dlq', 'redrive', '--stage', 'picking', '--warehouse', 'wh-1', '--kind', 'exhausted'],
      ['dlq', 'redrive', '--stage', 'picking', '--warehouse', 'wh-1', '--grep', 'x', '--dry-run'],
      ['dlq', 'export', '--stage', 'picking', '--warehouse', 'wh-1', '--out', `${state.path}/dead.jsonl`],
      ['pause', '--stage', 'picking'],
      ['resume', '--stage', 'picking'],
      ['scale', '--stage', 'picking', '--max-concurrency', '5'],
      ['purge', '--stage', 'picking', '--warehouse', 'wh-1', '--yes'],
      ['breaker', 'open', '--stage', 'picking', '--warehouse', 'wh-1'],
      ['send', '--count', '1'],
      ['orders', 'get', 'o-1'],
      ['orders', 'list', '--status', 'dead-lettered,cancelled,purged'],
      ['trace', 'o-1'],
      ['orders', 'cancel', 'o-1'],
    ];
    // Each command finds one dead letter (SQS's redrive policy moved it: no reason of its own).
    let unread = true;
    sqs.on(ReceiveMessageCommand).callsFake(() => ({
      Messages: unread ? ((unread = false), [{ MessageId: 'm', ReceiptHandle: 'rh', Body: '{}' }]) : [],
    }));
    try {
      for (const command of commands) {
        unread = true;
        const run = await runInProcess([...AWS, ...command], { env: { CONVEYOR_STATE_DIR: state.path } });
        expect(run.code, `${command.join(' ')}: ${run.stderr}`).toBe(0);
      }
    } finally {
      state.remove();
    }
    expect(inputs(sqs, SendMessageBatchCommand)).toHaveLength(1);

    const services: Array<[string, { calls: () => Array<{ args: [object] }> }]> = [
      ['cloudformation', cfn],
      ['sqs', sqs],
      ['lambda', lambda],
      ['cloudwatch', cloudwatch],
      ['dynamodb', dynamodb],
      ['logs', logs],
    ];
    const called = new Set(
      services.flatMap(([service, mock]) =>
        mock.calls().map((call) => {
          const operation = call.args[0].constructor.name.replace(/Command$/, '');
          return `${service}:${service === 'sqs' ? (SQS_BATCH[operation] ?? operation) : service === 'lambda' ? (LAMBDA_ACTIONS[operation] ?? operation) : operation}`;
        }),
      ),
    );
    if (received.length > 0) called.add('execute-api:Invoke');
    const allowed = readmePolicyActions();
    expect([...called].filter((action) => !allowed.has(action))).toEqual([]);
    const needed = new Set([
      ...called,
      ...(called.has('sqs:StartMessageMoveTask') ? MOVE_TASK_NEEDS : []),
      ...(called.has('logs:StartQuery') ? QUERY_NEEDS : []),
    ]);
    expect([...allowed].filter((action) => !needed.has(action))).toEqual([]);
  });
});
