/**
 * The AWS target: a deployed Conveyor stack. It finds every resource in the stack's topology
 * manifest (CloudFormation `DescribeStacks`, output `Topology`), then operates with the services'
 * own APIs:
 *
 *   status          SQS GetQueueAttributes (queue and DLQ) + Lambda GetEventSourceMapping
 *                   + CloudWatch GetMetricData (last 5 minutes: processed, failed, rates, age, concurrency)
 *   dlq peek/export SQS ReceiveMessage with a short visibility, made visible again (lib/operations/dead-letters.ts)
 *   dlq redrive     all: SQS StartMessageMoveTask (DLQ ARN → queue ARN), ListMessageMoveTasks;
 *                   filtered or dry run: ReceiveMessage, SendMessageBatch, DeleteMessageBatch with a
 *                   journal on this machine (lib/operations/dead-letter-redrive.ts)
 *   pause / resume  Lambda UpdateEventSourceMapping { Enabled: false | true }
 *   scale           Lambda UpdateEventSourceMapping { ScalingConfig: { MaximumConcurrency } }
 *   purge           SQS PurgeQueue
 *   breaker, the BREAKER column   Lambda Invoke of the stack's breaker function (aws-breakers.ts)
 *   send, orders    the order API (`ApiUrl`), SigV4-signed (signed-fetch.ts): POST, GET, and DELETE to cancel
 *   orders list     DynamoDB Query on the status table's listing index, then Query of each order found
 *                   (lib/ledger/listing.ts: the same code the local runtime runs against dynalite)
 *   trace           the order API (its record), then CloudWatch Logs Insights StartQuery / GetQueryResults
 *                   over its functions' log groups (log-insights.ts)
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  GetEventSourceMappingCommand,
  LambdaClient,
  UpdateEventSourceMappingCommand,
  type EventSourceMappingConfiguration,
} from '@aws-sdk/client-lambda';
import {
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  PurgeQueueCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { BreakerOverride } from '../contract/breaker.ts';
import {
  IntakeMetric,
  intakeMetricDimensions,
  StackOutput,
  StageMetric,
  stageMetricDimensions,
} from '../contract/index.ts';
import { FINAL_STATUSES, ORDER_STATUS_LABELS } from '../domain/status.ts';
import { DynamoDbTable } from '../ledger/dynamodb-table.ts';
import { listOrders, type ListedOrders } from '../ledger/listing.ts';
import type { OrderRecord } from '../ledger/records.ts';
import { isEmptyFilter, type DeadLetterFilter } from '../operations/dead-letter-filter.ts';
import { redriveMatching, RedriveFailedError, type RedriveReport } from '../operations/dead-letter-redrive.ts';
import { findDeadLetters, type DeadLetterPage, type DeadLetterQueueRef } from '../operations/dead-letters.ts';
import { exportAudit, moveTaskAudit, redriveAudit, type AuditLine } from '../operations/operator-audit.ts';
import { buildTrace, type OrderTrace } from '../operations/order-trace.ts';
import { FileJournal } from '../operations/redrive-journal.ts';
import { nearsRetention } from '../topology/index.ts';
import { overrideBreaker, readBreakers } from './aws-breakers.ts';
import type { CliContext, CredentialsProvider } from './context.ts';
import { CliError, describeHttpProblem, explainError, StackError, UsageError } from './errors.ts';
import { queryOrderLines, type TracedLogGroup } from './log-insights.ts';
import { operatorName } from './operator.ts';
import { createSignedFetch, type SignedFetch } from './signed-fetch.ts';
import { readStack, type StackResources } from './stack-outputs.ts';
import { redriveJournalPath } from './state-dir.ts';
import {
  cancelResultOf,
  stageKey,
  type CancelResult,
  type IntakeResponse,
  type OrderListQuery,
  type QueueRetention,
  type RedriveOptions,
  type RedriveResult,
  type StageBreaker,
  type StageControlResult,
  type StageRef,
  type StageStatus,
  type StatusReport,
  type Target,
  type TraceOptions,
} from './target.ts';

/** Counts and rates of `status` cover this much of the recent past. */
const METRICS_WINDOW_SECONDS = 300;
/** A redrive waited for gives up after this long (the task goes on; the CLI says how to follow it). */
const MAX_REDRIVE_WAIT_MS = 15 * 60_000;
const QUEUE_ATTRIBUTES = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'MessageRetentionPeriod',
] as const;
/** What `dlq export` takes per stage at most. */
const MAX_EXPORT = 10_000;
/** A trace searches the logs from this long before the order was created (clocks and the intake's own lines)… */
const TRACE_MARGIN_BEFORE_MS = 5 * 60_000;
/** …to this long after a final order's last change (late duplicates), or to now while it may still change. */
const TRACE_MARGIN_AFTER_MS = 15 * 60_000;
/** An order the ledger does not know: its lines are searched this far back (or from --since). */
const TRACE_UNKNOWN_LOOKBACK_MS = 24 * 3_600_000;

export interface AwsTargetOptions {
  readonly stack: string;
  readonly region?: string;
  readonly profile?: string;
  /** The key of an API with `api.authorization: "api-key"`. */
  readonly apiKey?: string;
  /** Polling interval of `redrive --wait`. @default 2000 */
  readonly pollIntervalMs?: number;
}

interface Clients {
  readonly cloudformation: CloudFormationClient;
  readonly sqs: SQSClient;
  readonly lambda: LambdaClient;
  readonly cloudwatch: CloudWatchClient;
  readonly dynamodb: DynamoDBClient;
  readonly logs: CloudWatchLogsClient;
}

export class AwsTarget implements Target {
  readonly description: string;
  readonly #stack: StackResources;
  readonly #clients: Clients;
  readonly #region: string;
  readonly #credentials: CredentialsProvider;
  readonly #context: CliContext;
  readonly #options: AwsTargetOptions;
  #signedFetch: SignedFetch | undefined;
  readonly #queues = new Map<string, DeadLetterQueueRef>();

  private constructor(
    stack: StackResources,
    clients: Clients,
    region: string,
    credentials: CredentialsProvider,
    context: CliContext,
    options: AwsTargetOptions,
  ) {
    this.#stack = stack;
    this.#clients = clients;
    this.#region = region;
    this.#credentials = credentials;
    this.#context = context;
    this.#options = options;
    this.description = `stack ${stack.stackName} (${region})`;
  }

  /**
   * Resolves credentials and region, then reads the stack's outputs. Fails early, in one line, on
   * missing credentials or region, a stack that does not exist, or one without Conveyor's outputs.
   *
   * @example
   * const target = await AwsTarget.open({ stack: 'Conveyor', region: 'eu-west-1', profile: 'ops' }, processContext());
   */
  static async open(options: AwsTargetOptions, context: CliContext): Promise<AwsTarget> {
    const errorContext = {
      stack: options.stack,
      ...(options.region ? { region: options.region } : {}),
      ...(options.profile ? { profile: options.profile } : {}),
    };
    const credentials = context.awsCredentials ?? defaultProvider(options.profile ? { profile: options.profile } : {});
    try {
      await credentials();
    } catch (error) {
      throw explainError(error, errorContext);
    }
    const config = {
      credentials,
      ...(options.region ? { region: options.region } : {}),
      ...(options.profile ? { profile: options.profile } : {}),
      maxAttempts: 4,
    };
    const cloudformation = new CloudFormationClient(config);
    let region: string;
    try {
      region = await cloudformation.config.region();
    } catch (error) {
      cloudformation.destroy();
      throw explainError(error, errorContext);
    }
    if (!region)
      throw new UsageError(
        `no AWS region${options.profile ? ` for profile "${options.profile}"` : ''} — pass --region (e.g. --region eu-west-1) or set AWS_REGION`,
      );
    const regional = { ...config, region };
    const clients: Clients = {
      cloudformation,
      sqs: new SQSClient(regional),
      lambda: new LambdaClient(regional),
      cloudwatch: new CloudWatchClient(regional),
      dynamodb: new DynamoDBClient(regional),
      logs: new CloudWatchLogsClient(regional),
    };
    try {
      const stack = await readStack(cloudformation, options.stack);
      return new AwsTarget(stack, clients, region, credentials, context, options);
    } catch (error) {
      for (const client of Object.values(clients)) client.destroy();
      throw explainError(error, { ...errorContext, region });
    }
  }

  async warehouses(): Promise<string[]> {
    return [...this.#stack.warehouses];
  }

  async pipelines(): Promise<Array<{ id: string; stages: string[] }>> {
    return this.#stack.manifest.pipelines.map((p) => ({ id: p.id, stages: p.stages.map((s) => s.name) }));
  }

  async status(): Promise<StatusReport> {
    const refs = this.#stack.stages;
    const [rows, metrics] = await Promise.all([
      Promise.all(
        refs.map(async (ref) => {
          const [queue, dlq, mapping] = await Promise.all([
            this.#queueCounts(this.#stack.stage(ref, 'queueUrl')),
            this.#queueCounts(this.#stack.stage(ref, 'dlqUrl')),
            this.#clients.lambda.send(
              new GetEventSourceMappingCommand({ UUID: this.#stack.stage(ref, 'eventSourceMappingUuid') }),
            ),
          ]);
          return { ref, queue, dlq, mapping };
        }),
      ),
      this.#metrics(refs).catch((error: unknown) =>
        explainError(error, { stack: this.#stack.stackName, region: this.#region }),
      ),
    ]);

    const notes: string[] = [];
    const haveMetrics = !(metrics instanceof CliError);
    if (!haveMetrics)
      notes.push(`CloudWatch metrics not read (${metrics.message}); age, processed, failed and rates are blank`);
    const pipelines: Record<string, Record<string, StageStatus>> = {};
    let inFlight = 0;
    rows.forEach(({ ref, queue, dlq, mapping }, i) => {
      const m = haveMetrics ? metrics.stages[i] : undefined;
      const waiting = queue.visible + queue.notVisible + queue.delayed;
      const dead = dlq.visible + dlq.notVisible + dlq.delayed;
      inFlight += waiting;
      const state = mapping.State ?? 'unknown';
      const age = m ? (m.ageSeconds ?? (waiting === 0 ? 0 : null)) : null;
      const deadAge = m ? (m.deadLetterAgeSeconds ?? (dead === 0 ? 0 : null)) : null;
      (pipelines[ref.warehouse] ??= {})[ref.stage] = {
        ...retentionFigures(age, queue.retentionSeconds, deadAge, dlq.retentionSeconds),
        ready: queue.visible,
        inFlight: queue.notVisible,
        delayed: queue.delayed,
        dlq: dead,
        oldestMessageAgeSeconds: age,
        succeeded: m?.succeeded ?? null,
        failed: m ? m.retried + m.deadLettered : null,
        retried: m?.retried ?? null,
        perSecond: m ? m.succeeded / METRICS_WINDOW_SECONDS : null,
        incomingPerSecond: m ? m.records / METRICS_WINDOW_SECONDS : null,
        failedPerSecond: m ? (m.retried + m.deadLettered) / METRICS_WINDOW_SECONDS : null,
        concurrency: { inUse: m?.concurrency ?? null, max: mapping.ScalingConfig?.MaximumConcurrency ?? null },
        paused: isPaused(mapping),
        ...(state !== 'Enabled' && state !== 'Disabled' ? { state } : {}),
      };
    });
    const dashboard = this.#stack.dashboardUrl;
    if (dashboard) notes.push(`CloudWatch dashboard: ${dashboard}`);
    const stageTotal = (name: 'succeeded' | 'ordersDeadLettered', which: (ref: StageRef) => boolean = () => true) =>
      haveMetrics ? metrics.stages.reduce((sum, s, i) => (which(refs[i] as StageRef) ? sum + s[name] : sum), 0) : null;
    return {
      source: this.description,
      at: new Date(this.#context.now()).toISOString(),
      window: 'queue depths now; counts over the last 5 min (CloudWatch), rates per second over them',
      pipelines,
      totals: {
        accepted: haveMetrics ? metrics.accepted : null,
        delivered: stageTotal('succeeded', (ref) => ref.stage === this.#stack.lastStage(ref.warehouse)),
        deadLettered: stageTotal('ordersDeadLettered'),
        inFlight,
      },
      notes,
    };
  }

  async submitOrders(orders: readonly unknown[]): Promise<IntakeResponse> {
    const response = await this.#api(
      `${this.#stack.apiUrl.replace(/\/?$/, '/')}orders`,
      'POST',
      JSON.stringify({ orders }),
    );
    const retryAfter = Number(response.headers.get('retry-after'));
    return {
      status: response.status,
      body: await jsonOrText(response),
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
    };
  }

  async getOrder(orderId: string): Promise<Record<string, unknown> | undefined> {
    const response = await this.#api(
      `${this.#stack.apiUrl.replace(/\/?$/, '/')}orders/${encodeURIComponent(orderId)}`,
      'GET',
    );
    const body = await jsonOrText(response);
    if (response.status === 404) return undefined;
    if (response.status !== 200)
      throw new CliError(
        `the order API answered ${describeHttpProblem(response.status, body)}${response.status === 403 ? ' — your identity needs execute-api:Invoke on the API' : ''}`,
      );
    return body as Record<string, unknown>;
  }

  async listOrders(query: OrderListQuery): Promise<ListedOrders> {
    const tableName = this.#stack.statusTableName;
    if (!tableName)
      throw new CliError(
        `stack "${this.#stack.stackName}" has no ${StackOutput.statusTable} output — redeploy it with this version of Conveyor (\`npx cdk deploy\`)`,
      );
    const table = new DynamoDbTable(DynamoDBDocumentClient.from(this.#clients.dynamodb), tableName);
    return listOrders(table, ORDER_STATUS_LABELS, {
      states: query.states,
      limit: query.limit,
      ...(query.warehouse !== undefined ? { warehouseId: query.warehouse } : {}),
      ...(query.since !== undefined ? { since: query.since } : {}),
    });
  }

  async trace(orderId: string, options: TraceOptions): Promise<OrderTrace | undefined> {
    const record = (await this.getOrder(orderId)) as OrderRecord | undefined;
    const groups = this.#traceLogGroups(record?.warehouseId);
    const now = this.#context.now();
    const final = record !== undefined && (FINAL_STATUSES as readonly string[]).includes(record.status);
    const created = Date.parse(record?.createdAt ?? '');
    const updated = Date.parse(record?.updatedAt ?? '');
    const from =
      options.since ?? (Number.isFinite(created) ? created - TRACE_MARGIN_BEFORE_MS : now - TRACE_UNKNOWN_LOOKBACK_MS);
    const to = final && Number.isFinite(updated) ? Math.min(now, updated + TRACE_MARGIN_AFTER_MS) : now;
    const { lines, truncated } = await queryOrderLines(
      this.#clients.logs,
      groups,
      orderId,
      { from, to },
      {
        sleep: this.#context.sleep,
        now: this.#context.now,
        ...(this.#options.pollIntervalMs !== undefined ? { pollMs: this.#options.pollIntervalMs } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      },
    );
    if (!record && lines.length === 0) return undefined;
    return buildTrace(orderId, record, lines, {
      source: `CloudWatch Logs Insights over ${groups.length} log groups (${record?.warehouseId ? `${record.warehouseId}'s stages` : 'every stage'}, the intake, the dead-letter auditor)`,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      ...(truncated
        ? { incomplete: 'the query returned its maximum of rows; later lines may be missing — narrow it with --since' }
        : {}),
    });
  }

  /** The log groups a trace searches: the warehouse's stages (every stage when unknown), the intake, the auditor. */
  #traceLogGroups(warehouse: string | undefined): TracedLogGroup[] {
    const { manifest, stackName } = this.#stack;
    const pipelines = manifest.pipelines.filter((p) => warehouse === undefined || p.id === warehouse);
    const stages = (pipelines.length > 0 ? pipelines : manifest.pipelines).flatMap((p) => p.stages);
    const named = stages.flatMap((s) => (s.logGroup ? [{ name: s.logGroup, source: s.name }] : []));
    if (!manifest.logGroups || named.length < stages.length) {
      throw new StackError(
        `stack "${stackName}" does not publish its log groups in its ${StackOutput.topology} output (deployed with an earlier version) — redeploy it with this version of Conveyor (\`npx cdk deploy\`) to trace orders`,
      );
    }
    return [
      ...named,
      { name: manifest.logGroups.intake, source: 'intake' },
      { name: manifest.logGroups.deadLetterAuditor, source: 'dead-letter-auditor' },
    ];
  }

  async cancelOrder(orderId: string): Promise<CancelResult | undefined> {
    const response = await this.#api(
      `${this.#stack.apiUrl.replace(/\/?$/, '/')}orders/${encodeURIComponent(orderId)}`,
      'DELETE',
    );
    const body = await jsonOrText(response);
    const result = cancelResultOf(response.status, body);
    if (result !== 'unexpected') return result;
    throw new CliError(
      `the order API answered ${describeHttpProblem(response.status, body)}${response.status === 403 ? ' — your identity needs execute-api:Invoke on the API' : ''}`,
    );
  }

  async peekDeadLetters(ref: StageRef, limit: number, filter?: DeadLetterFilter): Promise<DeadLetterPage> {
    return findDeadLetters(this.#clients.sqs, this.#stack.stage(ref, 'dlqUrl'), {
      limit,
      queue: await this.#deadLetterQueue(ref),
      confirmEmpty: true,
      ...(filter ? { filter } : {}),
    });
  }

  async exportDeadLetters(ref: StageRef, limit: number, filter?: DeadLetterFilter): Promise<DeadLetterPage> {
    const page = await findDeadLetters(this.#clients.sqs, this.#stack.stage(ref, 'dlqUrl'), {
      limit: Math.min(limit, MAX_EXPORT),
      queue: await this.#deadLetterQueue(ref),
      fullBody: true,
      confirmEmpty: true,
      ...(filter ? { filter } : {}),
    });
    this.#audit(exportAudit(operatorName(this.#context), stageKey(ref), filter, page.letters.length, page.scanned));
    return page;
  }

  async redrive(ref: StageRef, options: RedriveOptions): Promise<RedriveResult> {
    // SQS's move task takes a whole queue: a filter (or a look first) needs receive, send and delete.
    if (options.dryRun || !isEmptyFilter(options.filter)) return this.#redriveMatching(ref, options);
    const sourceArn = this.#stack.stage(ref, 'dlqArn');
    const { TaskHandle = '' } = await this.#clients.sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: sourceArn,
        DestinationArn: this.#stack.stage(ref, 'queueArn'),
        ...(options.ratePerSecond === undefined ? {} : { MaxNumberOfMessagesPerSecond: options.ratePerSecond }),
      }),
    );
    let task = await this.#moveTask(sourceArn, TaskHandle);
    const started: RedriveResult = {
      kind: 'task',
      taskHandle: TaskHandle,
      approximateNumberToMove: task?.ApproximateNumberOfMessagesToMove ?? null,
    };
    this.#audit(
      moveTaskAudit(
        operatorName(this.#context),
        stageKey(ref),
        TaskHandle,
        started.approximateNumberToMove,
        options.ratePerSecond,
      ),
    );
    if (!options.wait) return started;
    const deadline = this.#context.now() + MAX_REDRIVE_WAIT_MS;
    while (task?.Status === 'RUNNING' || task?.Status === 'CANCELLING') {
      options.onProgress?.(task.ApproximateNumberOfMessagesMoved ?? 0, task.ApproximateNumberOfMessagesToMove ?? null);
      if (this.#context.now() > deadline) {
        throw new CliError(
          `the move task is still running after ${MAX_REDRIVE_WAIT_MS / 60_000} min — follow it with \`aws sqs list-message-move-tasks --source-arn ${sourceArn}\``,
        );
      }
      await this.#context.sleep(this.#options.pollIntervalMs ?? 2000);
      task = await this.#moveTask(sourceArn, TaskHandle);
    }
    return {
      ...started,
      ...(task?.Status ? { status: task.Status } : {}),
      ...(task?.ApproximateNumberOfMessagesMoved === undefined ? {} : { moved: task.ApproximateNumberOfMessagesMoved }),
      ...(task?.FailureReason ? { failureReason: task.FailureReason } : {}),
    };
  }

  async pause(ref: StageRef): Promise<StageControlResult> {
    return controlResult(
      await this.#clients.lambda.send(
        new UpdateEventSourceMappingCommand({ UUID: this.#stack.stage(ref, 'eventSourceMappingUuid'), Enabled: false }),
      ),
    );
  }

  async resume(ref: StageRef): Promise<StageControlResult> {
    return controlResult(
      await this.#clients.lambda.send(
        new UpdateEventSourceMappingCommand({ UUID: this.#stack.stage(ref, 'eventSourceMappingUuid'), Enabled: true }),
      ),
    );
  }

  async scale(ref: StageRef, maxConcurrency: number): Promise<StageControlResult> {
    return controlResult(
      await this.#clients.lambda.send(
        new UpdateEventSourceMappingCommand({
          UUID: this.#stack.stage(ref, 'eventSourceMappingUuid'),
          ScalingConfig: { MaximumConcurrency: maxConcurrency },
        }),
      ),
    );
  }

  async queueRetention(ref: StageRef): Promise<QueueRetention> {
    const queueUrl = this.#stack.stage(ref, 'queueUrl');
    const [counts, age] = await Promise.all([
      this.#queueCounts(queueUrl),
      this.#oldestMessageAge(queueUrl).catch((error: unknown) =>
        explainError(error, { stack: this.#stack.stackName, region: this.#region }),
      ),
    ]);
    const waiting = counts.visible + counts.notVisible + counts.delayed;
    if (age instanceof CliError)
      return {
        retentionSeconds: counts.retentionSeconds,
        oldestMessageAgeSeconds: null,
        nearsRetention: false,
        note: `age of the oldest message not read (${age.message})`,
      };
    const oldest = age ?? (waiting === 0 ? 0 : null);
    return {
      retentionSeconds: counts.retentionSeconds,
      oldestMessageAgeSeconds: oldest,
      nearsRetention:
        oldest !== null && counts.retentionSeconds !== null && nearsRetention(oldest, counts.retentionSeconds),
    };
  }

  async queueDepth(ref: StageRef): Promise<number> {
    const counts = await this.#queueCounts(this.#stack.stage(ref, 'queueUrl'));
    return counts.visible + counts.notVisible + counts.delayed;
  }

  async purge(ref: StageRef): Promise<void> {
    await this.#clients.sqs.send(new PurgeQueueCommand({ QueueUrl: this.#stack.stage(ref, 'queueUrl') }));
  }

  async breaker(ref: StageRef, state: BreakerOverride): Promise<StageBreaker> {
    return overrideBreaker(this.#clients.lambda, this.#stack, ref, state);
  }

  async breakers(): Promise<Record<string, StageBreaker>> {
    return readBreakers(this.#clients.lambda, this.#stack);
  }

  close(): void {
    for (const client of Object.values(this.#clients)) client.destroy();
  }

  async #queueCounts(
    queueUrl: string,
  ): Promise<{ visible: number; notVisible: number; delayed: number; retentionSeconds: number | null }> {
    const { Attributes = {} } = await this.#clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: [...QUEUE_ATTRIBUTES] }),
    );
    const retention = Number(Attributes.MessageRetentionPeriod);
    return {
      visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
      notVisible: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
      delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0),
      retentionSeconds:
        Attributes.MessageRetentionPeriod !== undefined && Number.isFinite(retention) ? retention : null,
    };
  }

  /** CloudWatch's ApproximateAgeOfOldestMessage of one queue, its newest datapoint of the window (undefined: none). */
  async #oldestMessageAge(queueUrl: string): Promise<number | undefined> {
    const end = this.#context.now();
    const { MetricDataResults = [] } = await this.#clients.cloudwatch.send(
      new GetMetricDataCommand({
        MetricDataQueries: [
          {
            Id: 'age',
            MetricStat: {
              Metric: {
                Namespace: 'AWS/SQS',
                MetricName: 'ApproximateAgeOfOldestMessage',
                Dimensions: [{ Name: 'QueueName', Value: queueName(queueUrl) }],
              },
              Period: 60,
              Stat: 'Maximum',
            },
            ReturnData: true,
          },
        ],
        StartTime: new Date(end - METRICS_WINDOW_SECONDS * 1000),
        EndTime: new Date(end),
        ScanBy: 'TimestampDescending',
      }),
    );
    return MetricDataResults[0]?.Values?.[0];
  }

  /** The stage's DLQ as peek and redrive read it: maxReceiveCount from the stage queue's redrive policy. */
  async #deadLetterQueue(ref: StageRef): Promise<DeadLetterQueueRef> {
    let found = this.#queues.get(stageKey(ref));
    if (!found) {
      const { Attributes = {} } = await this.#clients.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: this.#stack.stage(ref, 'queueUrl'),
          AttributeNames: ['RedrivePolicy'],
        }),
      );
      let maxReceiveCount = Number.NaN;
      try {
        maxReceiveCount = Number(
          (JSON.parse(Attributes.RedrivePolicy ?? '{}') as { maxReceiveCount?: unknown }).maxReceiveCount,
        );
      } catch {
        // An unreadable policy: the count stays unknown.
      }
      found = {
        pipelineId: ref.warehouse,
        stage: ref.stage,
        maxReceiveCount: Number.isInteger(maxReceiveCount) && maxReceiveCount > 0 ? maxReceiveCount : undefined,
      };
      this.#queues.set(stageKey(ref), found);
    }
    return found;
  }

  /** A filtered redrive (or a dry run): receive, send, delete, journaled on this machine. */
  async #redriveMatching(ref: StageRef, options: RedriveOptions): Promise<RedriveResult> {
    const path = redriveJournalPath(
      this.#context.env,
      `${this.#stack.stackName}-${this.#region}-${ref.warehouse}-${ref.stage}`,
    );
    let report: RedriveReport;
    try {
      report = await redriveMatching(this.#clients.sqs, {
        deadLetterQueueUrl: this.#stack.stage(ref, 'dlqUrl'),
        queueUrl: this.#stack.stage(ref, 'queueUrl'),
        queue: await this.#deadLetterQueue(ref),
        journal: new FileJournal(path),
        confirmEmpty: true,
        now: this.#context.now,
        sleep: this.#context.sleep,
        ...(options.filter ? { filter: options.filter } : {}),
        ...(options.dryRun ? { dryRun: true } : {}),
        ...(options.ratePerSecond === undefined ? {} : { ratePerSecond: options.ratePerSecond }),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onProgress ? { onProgress: (moved: number) => options.onProgress?.(moved, null) } : {}),
      });
    } catch (error) {
      if (error instanceof RedriveFailedError)
        this.#audit(
          redriveAudit(operatorName(this.#context), stageKey(ref), options.filter, error.report, options.ratePerSecond),
        );
      throw error instanceof RedriveFailedError
        ? new CliError(`${stageKey(ref)}: ${error.message} — check the queue's policy and try again; nothing was lost`)
        : error;
    }
    this.#audit(
      redriveAudit(operatorName(this.#context), stageKey(ref), options.filter, report, options.ratePerSecond),
    );
    if (report.dryRun)
      return { kind: 'dry-run', matched: report.matched, scanned: report.scanned, letters: report.letters };
    const { moved, matched, scanned, finished, resent, notDeleted, interrupted } = report;
    return { kind: 'moved', moved, matched, scanned, finished, resent, notDeleted, interrupted };
  }

  /** The CLI's own audit line (stderr, JSON): who did what to which dead letters, for the operator's logs. */
  #audit(line: AuditLine): void {
    this.#context.stderr.write(
      `conveyor: audit ${JSON.stringify({ at: new Date(this.#context.now()).toISOString(), message: line.message, target: this.description, ...line.fields })}\n`,
    );
  }

  async #moveTask(sourceArn: string, taskHandle: string) {
    const { Results = [] } = await this.#clients.sqs.send(
      new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 1 }),
    );
    return Results.find((r) => r.TaskHandle === taskHandle) ?? Results[0];
  }

  /** Per stage, over the window: the stage's EMF metrics, its queue's age and its function's concurrency; plus orders accepted. */
  async #metrics(refs: readonly StageRef[]) {
    const end = this.#context.now();
    const queries: MetricDataQuery[] = [];
    // Namespace and service as the stack's own functions emit them (its manifest says which).
    const { namespace, service } = this.#stack.metrics;
    const conveyor = (id: string, metricName: string, dimensions: Record<string, string>): MetricDataQuery => ({
      Id: id,
      MetricStat: {
        Metric: {
          Namespace: namespace,
          MetricName: metricName,
          Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
        },
        Period: 60,
        Stat: 'Sum',
      },
      ReturnData: true,
    });
    refs.forEach((ref, i) => {
      const dims = stageMetricDimensions(service, ref.warehouse, ref.stage);
      queries.push(
        conveyor(`s${i}_succeeded`, StageMetric.Succeeded, dims),
        conveyor(`s${i}_failed`, StageMetric.Failed, dims),
        conveyor(`s${i}_deadlettered`, StageMetric.DeadLettered, dims),
        conveyor(`s${i}_records`, StageMetric.Records, dims),
        conveyor(`s${i}_ordersdl`, StageMetric.OrdersDeadLettered, dims),
        {
          Id: `s${i}_age`,
          MetricStat: {
            Metric: {
              Namespace: 'AWS/SQS',
              MetricName: 'ApproximateAgeOfOldestMessage',
              Dimensions: [{ Name: 'QueueName', Value: queueName(this.#stack.stage(ref, 'queueUrl')) }],
            },
            Period: 60,
            Stat: 'Maximum',
          },
          ReturnData: true,
        },
        {
          Id: `s${i}_dlqage`,
          MetricStat: {
            Metric: {
              Namespace: 'AWS/SQS',
              MetricName: 'ApproximateAgeOfOldestMessage',
              Dimensions: [{ Name: 'QueueName', Value: queueName(this.#stack.stage(ref, 'dlqUrl')) }],
            },
            Period: 60,
            Stat: 'Maximum',
          },
          ReturnData: true,
        },
        {
          Id: `s${i}_concurrency`,
          MetricStat: {
            Metric: {
              Namespace: 'AWS/Lambda',
              MetricName: 'ConcurrentExecutions',
              Dimensions: [{ Name: 'FunctionName', Value: this.#stack.stage(ref, 'functionName') }],
            },
            Period: 60,
            Stat: 'Maximum',
          },
          ReturnData: true,
        },
      );
    });
    queries.push(conveyor('accepted', IntakeMetric.OrdersAccepted, intakeMetricDimensions(service)));

    const values = new Map<string, number[]>();
    let nextToken: string | undefined;
    do {
      const page = await this.#clients.cloudwatch.send(
        new GetMetricDataCommand({
          MetricDataQueries: queries,
          StartTime: new Date(end - METRICS_WINDOW_SECONDS * 1000),
          EndTime: new Date(end),
          ScanBy: 'TimestampDescending',
          ...(nextToken ? { NextToken: nextToken } : {}),
        }),
      );
      for (const result of page.MetricDataResults ?? [])
        if (result.Id) values.set(result.Id, [...(values.get(result.Id) ?? []), ...(result.Values ?? [])]);
      nextToken = page.NextToken;
    } while (nextToken);

    const sum = (id: string) => (values.get(id) ?? []).reduce((a, b) => a + b, 0);
    const newest = (id: string) => values.get(id)?.[0];
    return {
      accepted: sum('accepted'),
      stages: refs.map((_, i) => ({
        succeeded: sum(`s${i}_succeeded`),
        retried: sum(`s${i}_failed`),
        deadLettered: sum(`s${i}_deadlettered`),
        records: sum(`s${i}_records`),
        ordersDeadLettered: sum(`s${i}_ordersdl`),
        ageSeconds: newest(`s${i}_age`),
        deadLetterAgeSeconds: newest(`s${i}_dlqage`),
        concurrency: newest(`s${i}_concurrency`) ?? 0,
      })),
    };
  }

  /** The order API, signed (IAM) and with the API key when the stack uses one. */
  async #api(url: string, method: string, body?: string): Promise<Response> {
    if (!this.#signedFetch) {
      const keyId = this.#stack.apiKeyId;
      const apiKey = this.#options.apiKey;
      if (keyId && !apiKey) {
        throw new UsageError(
          `the API of stack ${this.#stack.stackName} takes an API key — pass --api-key or set CONVEYOR_API_KEY (read it with \`aws apigateway get-api-key --api-key ${keyId} --include-value --query value --output text\`)`,
        );
      }
      this.#signedFetch = createSignedFetch({
        region: this.#region,
        credentials: this.#credentials,
        fetch: this.#context.fetch,
        ...(apiKey ? { apiKey } : {}),
      });
    }
    try {
      return await this.#signedFetch(url, {
        method,
        ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
      });
    } catch (error) {
      throw explainError(error, { stack: this.#stack.stackName, region: this.#region });
    }
  }
}

/** Retention of a stage's queue and DLQ, judged as the local runtime judges it (lib/topology/limits.ts). */
function retentionFigures(
  age: number | null,
  retention: number | null,
  deadAge: number | null,
  deadRetention: number | null,
) {
  const nears = (a: number | null, r: number | null) => a !== null && r !== null && nearsRetention(a, r);
  return {
    retentionSeconds: retention,
    nearsRetention: nears(age, retention),
    oldestDeadLetterAgeSeconds: deadAge,
    deadLetterRetentionSeconds: deadRetention,
    deadLettersNearRetention: nears(deadAge, deadRetention),
  };
}

function isPaused(mapping: Pick<EventSourceMappingConfiguration, 'State'>): boolean {
  return mapping.State === 'Disabled' || mapping.State === 'Disabling';
}

function controlResult(mapping: EventSourceMappingConfiguration): StageControlResult {
  return {
    paused: isPaused(mapping),
    maxConcurrency: mapping.ScalingConfig?.MaximumConcurrency ?? null,
    ...(mapping.State ? { state: mapping.State } : {}),
  };
}

/** `https://sqs.eu-west-1.amazonaws.com/123/Conveyor-wh1-picking` → `Conveyor-wh1-picking`. */
function queueName(queueUrl: string): string {
  return queueUrl.slice(queueUrl.lastIndexOf('/') + 1);
}

async function jsonOrText(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return text;
  }
}
