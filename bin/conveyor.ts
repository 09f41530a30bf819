/**
 * The CDK app (`cdk.json` runs `node bin/conveyor.ts`): one ConveyorStack built from the topology
 * in context `conveyor`, checked by cdk-nag on every synth.
 *
 *   npm run synth                                           # cdk synth --quiet
 *   npx cdk synth -c conveyor='{"warehouses":["wh-1"]}'     # override the topology (JSON string)
 *   npx cdk deploy -c stackName=Conveyor-Staging            # another copy of the stack
 *   npx cdk deploy -c manageApiGatewayAccountLogRole=false  # the account's API Gateway log role is managed elsewhere
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

const app = new App();

const stackName = String(app.node.tryGetContext('stackName') ?? 'Conveyor');
if (!STACK_NAME_PATTERN.test(stackName)) {
  fail(`Invalid context "stackName": "${stackName}" is not a CloudFormation stack name; use a letter, then letters, digits or dashes (at most 128).`);
}

try {
  const stack = new ConveyorStack(app, stackName, {
    stackName,
    topology: loadTopology(app.node.tryGetContext('conveyor')),
    // -c passes strings: "false" must mean false.
    manageApiGatewayAccountLogRole: String(app.node.tryGetContext('manageApiGatewayAccountLogRole') ?? 'true') !== 'false',
  });
  attachNag(stack);
} catch (error) {
  if (!(error instanceof TopologyError)) throw error;
  fail(error.message);
}
