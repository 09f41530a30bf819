/**
 * ConveyorStack — the whole pipeline on AWS as a stack of its own: a thin stack around the `Conveyor`
 * construct (conveyor.ts: what it builds, and why), which is what `npm run synth` and `npx cdk deploy`
 * deploy (bin/conveyor.ts). To put Conveyor in a stack of your own app, use the construct instead
 * (README "Use it in your own CDK app").
 *
 * Change sizes, concurrency, retries or warehouses in cdk.json (context `conveyor`), never here.
 */
import { Stack, Tags, type CfnOutput, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { Topology } from '../topology/index.ts';
import { Conveyor } from './conveyor.ts';
import type { CircuitBreakers } from './breaker.ts';
import type { ConveyorDashboard } from './dashboard.ts';
import type { DeadLetterAuditor } from './dead-letter-auditor.ts';
import type { Monitoring } from './monitoring.ts';
import type { OrderApi } from './order-api.ts';
import type { PipelineStage } from './stage.ts';
import type { StatusTable } from './status-table.ts';

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

/**
 * The construct's id: `Default` is left out of logical ids, so every resource and output keeps the
 * logical id it had when the stack built everything itself — a deployed stack updates in place.
 */
const CONVEYOR_ID = 'Default';

export class ConveyorStack extends Stack {
  /** Everything the stack deploys. */
  public readonly conveyor: Conveyor;
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
  /** Every stage's circuit breaker: failure-rate alarms and the function that switches the stages' event source mappings. */
  public readonly breakers: CircuitBreakers;
  /** The outputs the CLI reads, by key (`StackOutput`). */
  public readonly outputs: ReadonlyMap<string, CfnOutput>;

  constructor(scope: Construct, id: string, props: ConveyorStackProps) {
    super(scope, id, {
      description: 'Conveyor: serverless staged order pipeline (orders → picking → packing → delivery)',
      ...props,
    });
    this.conveyor = new Conveyor(this, CONVEYOR_ID, {
      topology: props.topology,
      manageApiGatewayAccountLogRole: props.manageApiGatewayAccountLogRole,
      handlersDir: props.handlersDir,
    });
    // The stack itself is tagged too (the construct tags its resources), as `cdk deploy` passes stack tags on.
    Tags.of(this).add('Application', 'Conveyor');
    this.topology = this.conveyor.topology;
    this.statusTable = this.conveyor.statusTable;
    this.stages = this.conveyor.stages;
    this.orderApi = this.conveyor.orderApi;
    this.deadLetterAuditor = this.conveyor.deadLetterAuditor;
    this.monitoring = this.conveyor.monitoring;
    this.dashboard = this.conveyor.dashboard;
    this.breakers = this.conveyor.breakers;
    this.outputs = this.conveyor.outputs;
  }
}
