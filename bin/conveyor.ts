/**
 * The CDK app (`cdk.json` runs `node bin/conveyor.ts`): one ConveyorStack built from the topology
 * in context `conveyor`, checked by cdk-nag on every synth.
 *
 *   npm run synth                                           # cdk synth --quiet
 *   npx cdk synth -c conveyor='{"warehouses":["wh-1"]}'     # override the topology (JSON string)
 *   npx cdk deploy -c stackName=Conveyor-Staging            # another copy of the stack
 *   npx cdk deploy -c manageApiGatewayAccountLogRole=true   # also set the account's API Gateway log role (account-wide)
 */
import { App } from 'aws-cdk-lib';
import { ConveyorStack } from '../lib/infra/conveyor-stack.ts';
import { attachNag } from '../lib/infra/nag.ts';
import { loadTopology, TopologyError } from '../lib/topology/index.ts';

/** CloudFormation stack names: a letter, then letters, digits and dashes, up to 128 characters. */
const STACK_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

/** A configuration mistake: the message says what and where; a stack trace would only bury it. */
function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

/** A boolean context flag: -c passes strings ("true"/"false"), cdk.json booleans; anything else is a mistake. */
function flagOf(value: unknown, name: string): boolean {
  if (value === undefined || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  return fail(`Invalid context "${name}": ${JSON.stringify(value)}; use -c ${name}=true or -c ${name}=false.`);
}

const app = new App();

const stackName = String(app.node.tryGetContext('stackName') ?? 'Conveyor');
if (!STACK_NAME_PATTERN.test(stackName)) {
  fail(
    `Invalid context "stackName": "${stackName}" is not a CloudFormation stack name; use a letter, then letters, digits or dashes (at most 128).`,
  );
}

try {
  const stack = new ConveyorStack(app, stackName, {
    stackName,
    topology: loadTopology(app.node.tryGetContext('conveyor')),
    manageApiGatewayAccountLogRole: flagOf(
      app.node.tryGetContext('manageApiGatewayAccountLogRole'),
      'manageApiGatewayAccountLogRole',
    ),
  });
  attachNag(stack);
} catch (error) {
  if (!(error instanceof TopologyError)) throw error;
  fail(error.message);
}
