/**
 * Conveyor in someone else's CDK app: the README's sample ("Use it in your own CDK app") taken
 * verbatim — only its imports pointed at this repository — builds the `Conveyor` construct inside a
 * foreign stack (another name, another construct path, next to the stack's own resources) and
 * synthesizes it with cdk-nag's AwsSolutions and Serverless packs and CloudFormation's validation on:
 * clean, with the names it was given and the outputs the CLI reads.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTopologyManifest, StackOutput } from '../../lib/contract/index.ts';
import { Conveyor } from '../../lib/infra/index.ts';
import { loadTopology } from '../../lib/topology/index.ts';
import { codeBlocks, readmeSection } from '../support/readme.ts';
import {
  CDK_CONTEXT,
  cleanupAssemblies,
  onlyResourceOf,
  resolveCfn,
  resourcesOf,
  testApp,
  type CfnTemplate,
} from '../support/cdk-app.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The README's sample imports Conveyor from `./conveyor/…` (a copy inside the user's app). */
const SAMPLE_ROOT = './conveyor/';
const SAMPLE_DIR = join(ROOT, 'cdk.out', `readme-own-app-${process.pid}`);

let app: App;
let stack: Stack;
let conveyor: Conveyor;
let json: CfnTemplate;

beforeAll(async () => {
  const [sample] = codeBlocks(readmeSection('Use it in your own CDK app'), 'ts');
  expect(sample).toContain(SAMPLE_ROOT);
  mkdirSync(SAMPLE_DIR, { recursive: true });
  const file = join(SAMPLE_DIR, 'shop-stack.ts');
  writeFileSync(file, sample!.replaceAll(`'${SAMPLE_ROOT}`, `'${ROOT}`));
  const { ShopStack } = (await import(file)) as { ShopStack: new (scope: App, id: string) => Stack };

  // As `cdk synth` runs it: CloudFormation's validation on; only the bundling (esbuild) skipped.
  app = new App({
    context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: true,
    treeMetadata: false,
  });
  stack = new ShopStack(app, 'Shop');
  conveyor = stack.node.findAll().find((c): c is Conveyor => c instanceof Conveyor)!;
  const assembly = app.synth();
  json = JSON.parse(
    readFileSync(join(assembly.directory, assembly.getStackByName('Shop').templateFile), 'utf8'),
  ) as CfnTemplate;
}, 120_000);

afterAll(() => {
  rmSync(SAMPLE_DIR, { recursive: true, force: true });
  cleanupAssemblies();
});

describe("the README's own-app sample", () => {
  it('places Conveyor in a foreign stack, under its own construct path, next to the stack’s other resources', () => {
    expect(conveyor).toBeDefined();
    expect(conveyor.node.path.startsWith(`${stack.node.path}/`)).toBe(true);
    expect(Stack.of(conveyor)).toBe(stack);
    // The stack's own resource, wired to Conveyor's API.
    const [, parameter] = onlyResourceOf(json, 'AWS::SSM::Parameter');
    expect(resolveCfn(parameter.Properties.Value, ({ logicalId }) => logicalId)).toContain(
      stack.getLogicalId(conveyor.orderApi.api.node.defaultChild as never),
    );
  });

  it('synthesizes with no cdk-nag finding and no CDK warning or error', () => {
    const findings = [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
      pack
        .validateScope(app)
        .violations.flatMap((v) => v.violatingResources.map((r) => `${v.severity} ${v.ruleName} @ ${r.constructPath}`)),
    );
    expect(findings).toEqual([]);
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
    expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
    // Acknowledgements stay on Conveyor's constructs: nothing of the user's is exempted.
    const acknowledged = app.node
      .findAll()
      .filter((c) => c.node.metadata.some((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY));
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const c of acknowledged) expect(c.node.path.startsWith(`${conveyor.node.path}/`), c.node.path).toBe(true);
  });

  it('builds every stage of the topology it was given, each function traced', () => {
    const functions = resourcesOf(json, 'AWS::Lambda::Function');
    const stageCount = conveyor.topology.pipelines.reduce((n, p) => n + p.stages.length, 0);
    expect(resourcesOf(json, 'AWS::Lambda::EventSourceMapping')).toHaveLength(stageCount);
    expect(functions).toHaveLength(stageCount + 3); // and the intake, the dead-letter auditor and the circuit breakers
    for (const [id, fn] of functions) expect(fn.Properties.TracingConfig, id).toEqual({ Mode: 'Active' });
  });

  it('names alarms, the dashboard, the API and every function’s service after its name prefix, not the stack', () => {
    const prefix = conveyor.namePrefix;
    expect(prefix).not.toBe(stack.stackName);
    for (const [id, alarm] of resourcesOf(json, 'AWS::CloudWatch::Alarm'))
      expect(String(alarm.Properties.AlarmName).startsWith(`${prefix}-`), id).toBe(true);
    expect(resourcesOf(json, 'AWS::CloudWatch::Dashboard').map(([, d]) => d.Properties.DashboardName)).toEqual([
      prefix,
    ]);
    expect(resourcesOf(json, 'AWS::ApiGateway::RestApi').map(([, a]) => a.Properties.Name)).toEqual([
      `${prefix}-orders`,
    ]);
    for (const [id, fn] of resourcesOf(json, 'AWS::Lambda::Function'))
      expect(fn.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME, id).toBe(prefix);
  });

  it('publishes the outputs the CLI reads, under their keys, the manifest naming the prefix as the metrics service', () => {
    for (const key of [
      StackOutput.apiUrl,
      StackOutput.statusTable,
      StackOutput.alarmTopic,
      StackOutput.dashboardName,
      StackOutput.dashboardUrl,
      StackOutput.topology,
    ]) {
      expect(Object.keys(json.Outputs)).toContain(key);
    }
    const manifest = readTopologyManifest(
      resolveCfn(
        json.Outputs[StackOutput.topology]!.Value,
        ({ logicalId, attribute }) => `${logicalId}${attribute ? `.${attribute}` : ''}`,
      ),
    );
    expect(manifest.ok && manifest.manifest.metrics.service).toBe(conveyor.namePrefix);
    expect(manifest.ok && manifest.manifest.pipelines.map((p) => p.id)).toEqual(
      conveyor.topology.pipelines.map((p) => p.id),
    );
  });

  it('leaves the account-wide API Gateway logging role alone unless asked', () => {
    expect(resourcesOf(json, 'AWS::ApiGateway::Account')).toEqual([]);
  });
});

describe('the Conveyor construct refuses, in one line that says what to do', () => {
  const topology = loadTopology(CDK_CONTEXT.conveyor);

  it('a second Conveyor in the same stack (the outputs the CLI reads would collide)', () => {
    const other = new Stack(testApp(), 'Shop');
    new Conveyor(other, 'Fulfilment', { topology });
    expect(() => new Conveyor(other, 'Returns', { topology, namePrefix: 'returns' })).toThrow(
      /already holds a Conveyor \(Shop\/Fulfilment\).*a stack of its own$/,
    );
  });

  it('a name prefix alarms and dashboards cannot take', () => {
    const other = new Stack(testApp(), 'Shop');
    expect(() => new Conveyor(other, 'Fulfilment', { topology, namePrefix: 'shop fulfilment!' })).toThrow(
      /namePrefix "shop fulfilment!" cannot name alarms and a dashboard; use a letter, then letters, digits/,
    );
  });

  it('takes the stack name as its prefix when given none', () => {
    const other = new Stack(testApp(), 'Warehouse-Ops');
    expect(new Conveyor(other, 'Fulfilment', { topology }).namePrefix).toBe(other.stackName);
  });
});
