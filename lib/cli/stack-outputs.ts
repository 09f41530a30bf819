/**
 * A deployed Conveyor stack as the CLI sees it: its CloudFormation outputs (`ApiUrl`,
 * `StatusTableName`, and per stage `outputName(warehouse, stage, kind)` — see lib/infra/outputs.ts),
 * read once with `DescribeStacks`.
 */
import { DescribeStacksCommand, type CloudFormationClient, type Output } from '@aws-sdk/client-cloudformation';
import { API_KEY_ID_OUTPUT, API_URL_OUTPUT, outputName, pascalCase, STAGE_OUTPUT_KINDS, STATUS_TABLE_OUTPUT, type StageOutputKind } from '../infra/outputs.ts';
import { STAGE_NAMES } from '../topology/model.ts';
import { StackError } from './errors.ts';
import { stageKey, type StageRef } from './target.ts';

export class StackResources {
  readonly stackName: string;
  readonly outputs: ReadonlyMap<string, string>;
  /** Warehouse ids found in the outputs, e.g. `['wh-1', 'wh-2']`. */
  readonly warehouses: readonly string[];

  constructor(stackName: string, outputs: readonly Output[]) {
    this.stackName = stackName;
    this.outputs = new Map(outputs.filter((o) => o.OutputKey && o.OutputValue !== undefined).map((o) => [o.OutputKey as string, o.OutputValue as string]));
    this.warehouses = findWarehouses(outputs);
    if (this.warehouses.length === 0) {
      const found = [...this.outputs.keys()].slice(0, 6).join(', ');
      throw new StackError(
        `stack "${stackName}" has no Conveyor outputs (${found ? `found only ${found}${this.outputs.size > 6 ? ', …' : ''}` : 'it has no outputs at all'}; expected ${API_URL_OUTPUT} and per stage e.g. ${outputName('wh-1', 'picking', 'QueueUrl')}) — pass --stack with the name of a Conveyor stack (\`npx cdk deploy\` prints it)`,
      );
    }
  }

  get apiUrl(): string {
    return this.#require(API_URL_OUTPUT, 'the order API');
  }

  get statusTableName(): string | undefined {
    return this.outputs.get(STATUS_TABLE_OUTPUT);
  }

  /** Present when the API takes an API key instead of IAM signatures. */
  get apiKeyId(): string | undefined {
    return this.outputs.get(API_KEY_ID_OUTPUT);
  }

  /**
   * One resource of one stage.
   * @example
   * stack.stage({ warehouse: 'wh-1', stage: 'picking' }, 'DlqArn'); // 'arn:aws:sqs:…:Conveyor-wh1-picking-dlq'
   */
  stage(ref: StageRef, kind: StageOutputKind): string {
    return this.#require(outputName(ref.warehouse, ref.stage, kind), `${stageKey(ref)}'s ${kind}`);
  }

  /** Outputs that are none of the above (e.g. the monitoring dashboard's), for notes. */
  extras(): Array<[string, string]> {
    const known = new Set<string>([API_URL_OUTPUT, STATUS_TABLE_OUTPUT, API_KEY_ID_OUTPUT]);
    for (const w of this.warehouses) for (const s of STAGE_NAMES) for (const k of STAGE_OUTPUT_KINDS) known.add(outputName(w, s, k));
    return [...this.outputs].filter(([key]) => !known.has(key));
  }

  #require(key: string, what: string): string {
    const value = this.outputs.get(key);
    if (value === undefined || value === '') {
      throw new StackError(`stack "${this.stackName}" has no output ${key} (${what}) — redeploy it with this version of Conveyor (\`npx cdk deploy\`)`);
    }
    return value;
  }
}

/**
 * Reads the stack's outputs.
 * @throws StackError when the stack has none of Conveyor's outputs (a missing stack surfaces as the SDK's ValidationError).
 */
export async function readStack(cloudformation: CloudFormationClient, stackName: string): Promise<StackResources> {
  const { Stacks = [] } = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
  const stack = Stacks[0];
  if (!stack) throw new StackError(`stack "${stackName}" does not exist — deploy it with \`npx cdk deploy\`, or pass --stack NAME and --region R`);
  if (stack.StackStatus && /(_FAILED|ROLLBACK_COMPLETE|DELETE_)/.test(stack.StackStatus) && !stack.Outputs?.length) {
    throw new StackError(`stack "${stackName}" is ${stack.StackStatus} and has no outputs — fix and redeploy it (\`npx cdk deploy\`)`);
  }
  return new StackResources(stack.StackName ?? stackName, stack.Outputs ?? []);
}

const STAGE_OUTPUT = new RegExp(`^(.+?)(${STAGE_NAMES.map(pascalCase).join('|')})(${STAGE_OUTPUT_KINDS.join('|')})$`);
const STAGE_DESCRIPTION = new RegExp(`^(\\S+)/(${STAGE_NAMES.join('|')}) (${STAGE_OUTPUT_KINDS.join('|')})$`);

/**
 * Warehouse ids from the stage outputs: each output's description says `wh-1/picking QueueUrl`;
 * without one, the id is read back from the output name (`Wh1…` → `wh-1`).
 */
function findWarehouses(outputs: readonly Output[]): string[] {
  const found = new Map<string, string>(); // pascal prefix → id
  for (const output of outputs) {
    const match = STAGE_OUTPUT.exec(output.OutputKey ?? '');
    if (!match) continue;
    const prefix = match[1] as string;
    const described = STAGE_DESCRIPTION.exec(output.Description ?? '');
    const id = described && pascalCase(described[1] as string) === prefix ? (described[1] as string) : guessId(prefix);
    if (!found.has(prefix) || described) found.set(prefix, id);
  }
  return [...found.values()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

/** `Wh1` → `wh-1`, `EuWest` → `eu-west`: the usual shape of warehouse ids. */
function guessId(prefix: string): string {
  return prefix
    .replace(/([a-z])([A-Z0-9])/g, '$1-$2')
    .replace(/([0-9])([A-Za-z])/g, '$1-$2')
    .toLowerCase();
}
