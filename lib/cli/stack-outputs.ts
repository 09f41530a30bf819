/**
 * A deployed Conveyor stack as the CLI sees it, read once with `DescribeStacks`: the stack-wide
 * outputs (`ApiUrl`, `StatusTableName`, …) and the topology manifest (`Topology`: every pipeline
 * and stage with its queue, DLQ, function and event source mapping, and where its metrics are —
 * lib/contract/manifest.ts). Nothing is guessed from output names.
 */
import { DescribeStacksCommand, type CloudFormationClient, type Output } from '@aws-sdk/client-cloudformation';
import { readTopologyManifest, StackOutput, type StageResourceKind, type TopologyManifest } from '../contract/index.ts';
import { StackError } from './errors.ts';
import { stageKey, type StageRef } from './target.ts';

export class StackResources {
  readonly stackName: string;
  readonly outputs: ReadonlyMap<string, string>;
  readonly manifest: TopologyManifest;

  constructor(stackName: string, outputs: readonly Output[]) {
    this.stackName = stackName;
    this.outputs = new Map(
      outputs
        .filter((o) => o.OutputKey && o.OutputValue !== undefined)
        .map((o) => [o.OutputKey as string, o.OutputValue as string]),
    );
    const value = this.outputs.get(StackOutput.topology);
    if (value === undefined) {
      const found = [...this.outputs.keys()].slice(0, 6).join(', ');
      throw new StackError(
        `stack "${stackName}" has no Conveyor ${StackOutput.topology} output (${found ? `found only ${found}${this.outputs.size > 6 ? ', …' : ''}` : 'it has no outputs at all'}) — ` +
          'pass --stack with the name of a Conveyor stack, or redeploy it with this version of Conveyor (`npx cdk deploy`)',
      );
    }
    const read = readTopologyManifest(value);
    if (!read.ok) {
      throw new StackError(
        `stack "${stackName}" has an unreadable ${StackOutput.topology} output (${read.problem}) — redeploy it with this version of Conveyor (\`npx cdk deploy\`)`,
      );
    }
    this.manifest = read.manifest;
  }

  /** Warehouse ids, as the stack's topology lists them. */
  get warehouses(): string[] {
    return this.manifest.pipelines.map((p) => p.id);
  }

  /** Every stage of every warehouse, in flow order. */
  get stages(): StageRef[] {
    return this.manifest.pipelines.flatMap((p) => p.stages.map((s) => ({ warehouse: p.id, stage: s.name })));
  }

  /** The last stage of a warehouse (the one that delivers). */
  lastStage(warehouse: string): string | undefined {
    return this.manifest.pipelines.find((p) => p.id === warehouse)?.stages.at(-1)?.name;
  }

  /** Where the handlers' metrics are: namespace and `service` dimension. */
  get metrics(): TopologyManifest['metrics'] {
    return this.manifest.metrics;
  }

  get apiUrl(): string {
    const value = this.outputs.get(StackOutput.apiUrl);
    if (value === undefined || value === '') {
      throw new StackError(
        `stack "${this.stackName}" has no output ${StackOutput.apiUrl} (the order API) — redeploy it with this version of Conveyor (\`npx cdk deploy\`)`,
      );
    }
    return value;
  }

  get statusTableName(): string | undefined {
    return this.outputs.get(StackOutput.statusTable);
  }

  /** Present when the API takes an API key instead of IAM signatures. */
  get apiKeyId(): string | undefined {
    return this.outputs.get(StackOutput.apiKeyId);
  }

  get dashboardUrl(): string | undefined {
    return this.outputs.get(StackOutput.dashboardUrl);
  }

  /**
   * One resource of one stage.
   * @example
   * stack.stage({ warehouse: 'wh-1', stage: 'picking' }, 'dlqArn'); // 'arn:aws:sqs:…'
   */
  stage(ref: StageRef, kind: StageResourceKind): string {
    const stage = this.manifest.pipelines.find((p) => p.id === ref.warehouse)?.stages.find((s) => s.name === ref.stage);
    if (!stage) {
      throw new StackError(
        `stack "${this.stackName}" has no stage ${stageKey(ref)} — its stages are ${this.stages.map(stageKey).join(', ')}`,
      );
    }
    return stage[kind];
  }
}

/**
 * Reads the stack's outputs.
 * @throws StackError when the stack has no Conveyor manifest (a missing stack surfaces as the SDK's ValidationError).
 */
export async function readStack(cloudformation: CloudFormationClient, stackName: string): Promise<StackResources> {
  const { Stacks = [] } = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
  const stack = Stacks[0];
  if (!stack)
    throw new StackError(
      `stack "${stackName}" does not exist — deploy it with \`npx cdk deploy\`, or pass --stack NAME and --region R`,
    );
  if (stack.StackStatus && /(_FAILED|ROLLBACK_COMPLETE|DELETE_)/.test(stack.StackStatus) && !stack.Outputs?.length) {
    throw new StackError(
      `stack "${stackName}" is ${stack.StackStatus} and has no outputs — fix and redeploy it (\`npx cdk deploy\`)`,
    );
  }
  return new StackResources(stack.StackName ?? stackName, stack.Outputs ?? []);
}
