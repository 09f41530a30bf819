/**
 * Conveyor — the whole pipeline as one construct, generated from one `Topology`, to place in any
 * stack: `ConveyorStack` (bin/conveyor.ts) is a thin stack around it, and an app of your own can put
 * it in one of its stacks beside its other resources.
 *
 *   client ──SigV4 / API key──▶ API Gateway (OrderApi: validates, throttles, logs, traces)
 *                                   │ POST /orders, GET and DELETE /orders/{orderId}
 *                                   ▼
 *                               intake λ ──▶ status table (DynamoDB: the order ledger)
 *                                   │ SendMessage                  ▲
 *                                   ▼                              │ every stage records progress
 *   per warehouse:  first queue ─▶ stage λ ─▶ next queue ─▶ stage λ ─▶ … ─▶ last stage λ
 *                        │ after maxReceiveCount   │
 *                        ▼                         ▼
 *                       DLQ                       DLQ          (the dead-letter auditor records what lands there)
 *
 * Each stage's function receives batches (the aggregator) through an SQS event source with
 * ReportBatchItemFailures: failed records are retried with backoff, the rest move on. Every
 * function has its own role with exactly the actions it calls on exactly its own resources.
 * Circuit breakers (breaker.ts): per stage, a failure-rate alarm; the breaker function stops a failing
 * stage's event source mapping, probes it after a while and resumes it, and says so on the alarm topic.
 * Monitoring (monitoring.ts, dashboard.ts): stage alarms feeding one composite per pipeline, API-level
 * alarms, one encrypted SNS topic, one dashboard, saved queries.
 *
 * Outputs (what `npx conveyor … --target aws --stack <stack>` reads): `ApiUrl`, `StatusTableName`,
 * `ApiKeyId` (API-key mode), `AlarmTopicArn`, `DashboardName`, `DashboardUrl`, and `Topology` — the
 * topology manifest (lib/contract/manifest.ts). Their keys are fixed, so a stack holds one Conveyor.
 */
import { CfnOutput, CfnResource, Stack, Tags } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { StackOutput } from '../contract/index.ts';
import { allStages, TopologyError, type Topology } from '../topology/index.ts';
import { CircuitBreakers } from './breaker.ts';
import { ConveyorDashboard } from './dashboard.ts';
import { DeadLetterAuditor } from './dead-letter-auditor.ts';
import { serviceNameOf } from './defaults.ts';
import { Monitoring } from './monitoring.ts';
import { OrderApi } from './order-api.ts';
import { addTopologyManifestOutput, pascalCase, topologyManifest } from './outputs.ts';
import { PipelineStage } from './stage.ts';
import { StatusTable } from './status-table.ts';

export interface ConveyorProps {
  /** What to build: pipelines, stages and their limits (`loadTopology()`). */
  readonly topology: Topology;
  /**
   * The deployment's name: the prefix of its alarm names (`<prefix>-<warehouse>-<stage>-<kind>`),
   * its dashboard, its saved queries (`<prefix>/…`) and its API (`<prefix>-orders`), and the service
   * name of every log line and metric. Alarm and dashboard names are unique per account and region:
   * two deployments there need two prefixes. A letter, then letters, digits, `-` or `_` (at most 128).
   * @default the stack's name
   */
  readonly namePrefix?: string;
  /**
   * Let this deployment set the account's API Gateway CloudWatch Logs role (see `OrderApiProps`): an
   * account-wide, per-region setting, so only on request.
   * @default false
   */
  readonly manageApiGatewayAccountLogRole?: boolean;
  /**
   * Directory holding the handler modules (`<stage handler>.ts`, `intake.ts`, `dead-letter-auditor.ts`).
   * @default the project's `handlers/`
   */
  readonly handlersDir?: string;
}

/** What a name prefix may be: what dashboard and alarm names take, as stack names start. */
const NAME_PREFIX_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,127}$/;
/** CloudFormation's limit of resources per stack. */
const MAX_STACK_RESOURCES = 500;

/**
 * @example
 * class ShopStack extends Stack {
 *   constructor(scope: Construct, id: string) {
 *     super(scope, id);
 *     new Conveyor(this, 'Fulfilment', { topology: loadTopology({ warehouses: ['berlin'] }), namePrefix: 'shop-fulfilment' });
 *   }
 * }
 */
export class Conveyor extends Construct {
  public readonly topology: Topology;
  /** The name prefix and service name of this deployment. */
  public readonly namePrefix: string;
  public readonly statusTable: StatusTable;
  /** Every stage, keyed by `stage.key` (e.g. `wh-1/picking`), in flow order. */
  public readonly stages: ReadonlyMap<string, PipelineStage>;
  public readonly orderApi: OrderApi;
  /** Records in the ledger what SQS's redrive policies move to the DLQs. */
  public readonly deadLetterAuditor: DeadLetterAuditor;
  /** Alarms, their SNS topic and the saved Logs Insights queries. */
  public readonly monitoring: Monitoring;
  public readonly dashboard: ConveyorDashboard;
  /** Every stage's circuit breaker: failure-rate alarms and the function that switches the stages' event source mappings. */
  public readonly breakers: CircuitBreakers;
  /** The outputs the CLI reads, by key (`StackOutput`). */
  public readonly outputs: ReadonlyMap<string, CfnOutput>;

  constructor(scope: Construct, id: string, props: ConveyorProps) {
    super(scope, id);
    const { topology } = props;
    this.topology = topology;
    this.namePrefix = namePrefixOf(this, props.namePrefix);
    assertDistinctNames(topology);
    assertOnePerStack(this);
    Tags.of(this).add('Application', 'Conveyor');
    const common = { handlersDir: props.handlersDir, namePrefix: this.namePrefix };

    this.statusTable = new StatusTable(this, 'StatusTable');
    const table = this.statusTable.table;
    this.stages = this.buildStages(topology, table, common);
    this.orderApi = new OrderApi(this, 'OrderApi', {
      topology,
      statusTable: table,
      entryQueues: Object.fromEntries(topology.pipelines.map((p) => [p.id, this.stages.get(p.stages[0]!.key)!.queue])),
      manageAccountLogRole: props.manageApiGatewayAccountLogRole,
      ...common,
    });
    this.deadLetterAuditor = new DeadLetterAuditor(this, 'DeadLetterAuditor', {
      topology,
      stages: this.stages,
      statusTable: table,
      ...common,
    });
    this.monitoring = new Monitoring(this, 'Monitoring', {
      topology,
      stages: this.stages,
      orderApi: this.orderApi,
      statusTable: table,
      namePrefix: this.namePrefix,
    });
    this.breakers = new CircuitBreakers(this, 'CircuitBreakers', {
      topology,
      stages: this.stages,
      statusTable: table,
      topic: this.monitoring.topic,
      topicKey: this.monitoring.topicKey,
      ...common,
    });
    this.dashboard = new ConveyorDashboard(this, 'Dashboard', {
      topology,
      stages: this.stages,
      orderApi: this.orderApi,
      monitoring: this.monitoring,
      breakerAlarms: this.breakers.alarms,
      dashboardName: this.namePrefix,
    });

    this.outputs = this.addOutputs();
    assertFitsOneStack(this, topology);
  }

  /** Each stage forwards to the next, so a pipeline is built from its last stage backwards; returned in flow order. */
  private buildStages(
    topology: Topology,
    table: StatusTable['table'],
    common: { handlersDir?: string; namePrefix: string },
  ): ReadonlyMap<string, PipelineStage> {
    const built = new Map<string, PipelineStage>();
    for (const pipeline of topology.pipelines) {
      let next: PipelineStage | undefined;
      for (const stage of [...pipeline.stages].reverse()) {
        next = new PipelineStage(this, pascalCase(`${pipeline.id}-${stage.name}`), {
          topology,
          stage,
          statusTable: table,
          nextQueue: next?.queue,
          ...common,
        });
        built.set(stage.key, next);
      }
    }
    return new Map(allStages(topology).map((s) => [s.key, built.get(s.key)!]));
  }

  /** The outputs under the keys the CLI looks for, wherever in its stack this construct sits. */
  private addOutputs(): ReadonlyMap<string, CfnOutput> {
    const outputs = new Map<string, CfnOutput>();
    const add = (key: string, value: string, description: string) => {
      const output = new CfnOutput(this, key, { value, description });
      output.overrideLogicalId(key);
      outputs.set(key, output);
    };
    add(StackOutput.apiUrl, this.orderApi.api.url, 'Order API base URL (POST orders, GET and DELETE orders/{orderId})');
    add(StackOutput.statusTable, this.statusTable.table.tableName, 'Order status table');
    if (this.orderApi.apiKey)
      add(
        StackOutput.apiKeyId,
        this.orderApi.apiKey.keyId,
        'aws apigateway get-api-key --include-value --api-key <id>',
      );
    add(
      StackOutput.alarmTopic,
      this.monitoring.topic.topicArn,
      'SNS topic the pipeline composites and the API alarms notify (ALARM and OK)',
    );
    add(StackOutput.dashboardName, this.dashboard.dashboardName, 'CloudWatch dashboard');
    add(StackOutput.dashboardUrl, this.dashboard.url, 'CloudWatch dashboard in the console');
    const manifest = addTopologyManifestOutput(
      this,
      topologyManifest(
        this.topology,
        this.stages,
        this.namePrefix,
        {
          intake: this.orderApi.intake.logGroup.logGroupName,
          deadLetterAuditor: this.deadLetterAuditor.worker.logGroup.logGroupName,
        },
        { breakerFunctionName: this.breakers.function.functionName },
      ),
    );
    manifest.overrideLogicalId(StackOutput.topology);
    outputs.set(StackOutput.topology, manifest);
    return outputs;
  }
}

function namePrefixOf(scope: Construct, given: string | undefined): string {
  const prefix = serviceNameOf(scope, given);
  if (!NAME_PREFIX_PATTERN.test(prefix)) {
    throw new Error(
      `Conveyor ${scope.node.path}: namePrefix ${JSON.stringify(prefix)} cannot name alarms and a dashboard; use a letter, then letters, digits, "-" or "_" (at most 128), e.g. "shop-fulfilment"`,
    );
  }
  return prefix;
}

/** The outputs' keys are what the CLI reads: a second Conveyor in the same stack would reuse them. */
function assertOnePerStack(conveyor: Conveyor): void {
  const stack = Stack.of(conveyor);
  const other = stack.node.findAll().find((c) => c instanceof Conveyor && c !== conveyor && Stack.of(c) === stack);
  if (other) {
    throw new Error(
      `Conveyor ${conveyor.node.path}: stack ${stack.stackName} already holds a Conveyor (${other.node.path}); its outputs name the deployment for the CLI, so put the second one in a stack of its own`,
    );
  }
}

/**
 * Every warehouse adds about 46 resources (queues, policies, functions, roles, log groups, event
 * sources, alarms): too many warehouses fail at deploy time. Say so at synth, with the way out —
 * counting every resource of the stack so far, the user's own included.
 */
function assertFitsOneStack(conveyor: Conveyor, topology: Topology): void {
  const stack = Stack.of(conveyor);
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
