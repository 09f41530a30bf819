/**
 * ConveyorStack — the whole pipeline on AWS, generated from one `Topology`.
 *
 *   client ──SigV4 / API key──▶ API Gateway (OrderApi: validates, throttles, logs, traces)
 *                                   │ POST /orders, GET /orders/{orderId}
 *                                   ▼
 *                               intake λ ──▶ status table (DynamoDB: orderId → status, history)
 *                                   │ SendMessage                  ▲
 *                                   ▼                              │ every stage records progress
 *   per warehouse:  picking queue ─▶ picking λ ─▶ packing queue ─▶ packing λ ─▶ delivery queue ─▶ delivery λ
 *                        │ after maxReceiveCount   │                             │
 *                        ▼                         ▼                             ▼
 *                   picking DLQ               packing DLQ                   delivery DLQ
 *
 * Each stage's function receives batches (the aggregator) through an SQS event source with
 * ReportBatchItemFailures: failed records are retried with backoff, the rest move on. Every
 * function has its own role with exactly the actions it calls on exactly its own resources.
 * Change sizes, concurrency, retries or warehouses in cdk.json (context `conveyor`), never here.
 *
 * Monitoring (monitoring.ts, dashboard.ts): per stage, alarms on dead letters, backlog, function
 * error rate, throttles and messages nearing their retention, feeding one composite alarm per
 * pipeline; the composites and the API-level alarms (5xx rate, latency, intake errors and throttles,
 * status-table throttles and errors) notify one encrypted SNS topic; one dashboard; saved queries.
 *
 * Outputs (for `npx conveyor … --target aws`): `ApiUrl`, `StatusTableName`, `ApiKeyId` (API-key
 * mode), `AlarmTopicArn`, `DashboardName`, `DashboardUrl`, and `Topology`: the topology manifest
 * (JSON: every pipeline and stage with its queue, DLQ, function and event source mapping, and the
 * metrics' namespace and service; see lib/contract/manifest.ts).
 */
import { CfnOutput, CfnResource, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { allStages, TopologyError, type Topology } from '../topology/index.ts';
import { ConveyorDashboard } from './dashboard.ts';
import { DeadLetterAuditor } from './dead-letter-auditor.ts';
import { Monitoring } from './monitoring.ts';
import { OrderApi } from './order-api.ts';
import { serviceNameOf } from './defaults.ts';
import { addTopologyManifestOutput, pascalCase, StackOutput, topologyManifest } from './outputs.ts';
import { PipelineStage } from './stage.ts';
import { StatusTable } from './status-table.ts';

export { StackOutput } from './outputs.ts';

export interface ConveyorStackProps extends StackProps {
  /** What to build: pipelines, stages and their limits (`loadTopology()`). */
  readonly topology: Topology;
  /**
   * Let this stack set the account's API Gateway CloudWatch Logs role (see `OrderApiProps`): an
   * account-wide, per-region setting, so only on request (`-c manageApiGatewayAccountLogRole=true`).
   * @default false
   */
  readonly manageApiGatewayAccountLogRole?: boolean;
  /**
   * Directory holding the handler modules.
   * @default the project's `handlers/`
   */
  readonly handlersDir?: string;
}

export class ConveyorStack extends Stack {
  public readonly topology: Topology;
  public readonly statusTable: StatusTable;
  /** Every stage, keyed by `stage.key` (e.g. `wh-1/picking`), in flow order. */
  public readonly stages: ReadonlyMap<string, PipelineStage>;
  public readonly orderApi: OrderApi;
  /** Records in the ledger what SQS's redrive policies move to the DLQs. */
  public readonly deadLetterAuditor: DeadLetterAuditor;
  /** Alarms, their SNS topic and the saved Logs Insights queries. */
  public readonly monitoring: Monitoring;
  public readonly dashboard: ConveyorDashboard;

  constructor(scope: Construct, id: string, props: ConveyorStackProps) {
    super(scope, id, { description: 'Conveyor: serverless staged order pipeline (orders → picking → packing → delivery)', ...props });
    const { topology } = props;
    this.topology = topology;
    assertDistinctNames(topology);
    Tags.of(this).add('Application', 'Conveyor');

    this.statusTable = new StatusTable(this, 'StatusTable');
    const table = this.statusTable.table;

    const stages = new Map<string, PipelineStage>();
    for (const pipeline of topology.pipelines) {
      // Each stage forwards to the next, so a pipeline is built from its last stage backwards.
      let next: PipelineStage | undefined;
      for (const stage of [...pipeline.stages].reverse()) {
        next = new PipelineStage(this, pascalCase(`${pipeline.id}-${stage.name}`), {
          topology,
          stage,
          statusTable: table,
          nextQueue: next?.queue,
          handlersDir: props.handlersDir,
        });
        stages.set(stage.key, next);
      }
    }
    this.stages = new Map(allStages(topology).map((s) => [s.key, stages.get(s.key)!]));

    this.orderApi = new OrderApi(this, 'OrderApi', {
      topology,
      statusTable: table,
      entryQueues: Object.fromEntries(topology.pipelines.map((p) => [p.id, stages.get(p.stages[0]!.key)!.queue])),
      manageAccountLogRole: props.manageApiGatewayAccountLogRole,
      handlersDir: props.handlersDir,
    });

    this.deadLetterAuditor = new DeadLetterAuditor(this, 'DeadLetterAuditor', { topology, stages: this.stages, statusTable: table, handlersDir: props.handlersDir });
    this.monitoring = new Monitoring(this, 'Monitoring', { topology, stages: this.stages, orderApi: this.orderApi, statusTable: table });
    this.dashboard = new ConveyorDashboard(this, 'Dashboard', { topology, stages: this.stages, orderApi: this.orderApi, monitoring: this.monitoring });

    this.addOutputs();
    assertFitsOneStack(this, topology);
  }

  private addOutputs(): void {
    new CfnOutput(this, StackOutput.apiUrl, { value: this.orderApi.api.url, description: 'Order API base URL (POST orders, GET orders/{orderId})' });
    new CfnOutput(this, StackOutput.statusTable, { value: this.statusTable.table.tableName, description: 'Order status table' });
    if (this.orderApi.apiKey) {
      new CfnOutput(this, StackOutput.apiKeyId, { value: this.orderApi.apiKey.keyId, description: 'aws apigateway get-api-key --include-value --api-key <id>' });
    }
    new CfnOutput(this, StackOutput.alarmTopic, { value: this.monitoring.topic.topicArn, description: 'SNS topic the pipeline composites and the API alarms notify (ALARM and OK)' });
    new CfnOutput(this, StackOutput.dashboardName, { value: this.dashboard.dashboardName, description: 'CloudWatch dashboard' });
    new CfnOutput(this, StackOutput.dashboardUrl, { value: this.dashboard.url, description: 'CloudWatch dashboard in the console' });
    addTopologyManifestOutput(
      this,
      topologyManifest(this.topology, this.stages, serviceNameOf(this), { intake: this.orderApi.intake.logGroup.logGroupName, deadLetterAuditor: this.deadLetterAuditor.worker.logGroup.logGroupName }),
    );
  }
}

/** CloudFormation's limit of resources per stack. */
const MAX_STACK_RESOURCES = 500;

/**
 * Every warehouse adds about 37 resources (queues, policies, functions, roles, log groups, event
 * sources, alarms): too many warehouses fail at deploy time. Say so at synth, with the way out.
 */
function assertFitsOneStack(stack: Stack, topology: Topology): void {
  const count = stack.node.findAll().filter((c) => c instanceof CfnResource && Stack.of(c) === stack).length;
  if (count > MAX_STACK_RESOURCES) {
    throw new TopologyError('cdk.json context "conveyor"', [
      `warehouses: ${topology.pipelines.length} warehouses need ${count} CloudFormation resources, but one stack holds at most ${MAX_STACK_RESOURCES}; ` +
        'deploy fewer warehouses per stack and the others as another stack (-c stackName=… -c conveyor=\'{"warehouses": [...]}\')',
    ]);
  }
}

/** Warehouse ids become construct and output names; `wh-1` and `wh1` would both be `Wh1`. */
function assertDistinctNames(topology: Topology): void {
  const seen = new Map<string, string>();
  for (const { id } of topology.pipelines) {
    const name = pascalCase(id);
    const other = seen.get(name);
    if (other !== undefined) {
      throw new TopologyError('cdk.json context "conveyor"', [
        `warehouses: "${other}" and "${id}" both become "${name}" in stack output names; rename one of them`,
      ]);
    }
    seen.set(name, id);
  }
}
