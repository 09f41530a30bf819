/**
 * The largest topology the loader accepts fits one stack — proven by synthesizing it with
 * CloudFormation's own validation on (the CDK's built-in CloudFormation Validate plugin, errors
 * fatal): outputs, resources and template size within CloudFormation's limits — plus the
 * CloudWatch limits that validation does not know (alarms per alarm-status widget, widgets per
 * dashboard, metrics per alarm, composite rule length). And one warehouse more does not fit.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, CfnOutput, CfnWaitConditionHandle, Stack } from 'aws-cdk-lib';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { MAX_WAREHOUSES_PER_STACK } from '../../lib/contract/index.ts';
import { ConveyorStack } from '../../lib/infra/conveyor-stack.ts';
import { loadTopology, TopologyError, type Topology } from '../../lib/topology/index.ts';
import {
  CDK_CONTEXT,
  cleanupAssemblies,
  onlyResourceOf,
  resolveCfn,
  resourcesOf,
  testApp,
  type CfnTemplate,
} from '../support/cdk-app.ts';

afterAll(cleanupAssemblies);

// CloudFormation's quotas (docs: "CloudFormation quotas") and CloudWatch's ("CloudWatch service quotas").
const CLOUDFORMATION = { resources: 500, outputs: 200, templateBytes: 1_048_576 };
const CLOUDWATCH = {
  alarmsPerStatusWidget: 100,
  widgetsPerDashboard: 500,
  metricsPerGraph: 500,
  metricsPerAlarm: 10,
  compositeRuleChars: 10_240,
};
/** CloudFormation stack names may be this long; alarm names and ARNs grow with it. */
const LONGEST_STACK_NAME = `C${'x'.repeat(127)}`;

/** Every optional feature on: each adds resources (email: a subscription, its DLQ and alarm; API keys; WAF; the account log role). */
const largestAccepted = {
  warehouses: Array.from({ length: MAX_WAREHOUSES_PER_STACK }, (_, i) => `warehouse-${String(i + 1).padStart(2, '0')}`),
  alarms: { email: 'oncall@example.com' },
  api: {
    authorization: 'api-key',
    wafWebAclArn: 'arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/conveyor/0f1e2d3c',
  },
};

describe('the largest topology the loader accepts', () => {
  it('synthesizes with CloudFormation validation on, errors fatal, within every CloudFormation and CloudWatch limit', () => {
    // Validation runs unless CDK_VALIDATION=false; its errors fail synth only with this flag on (else they are warnings).
    expect(process.env.CDK_VALIDATION).not.toBe('false');
    expect(CDK_CONTEXT[cxapi.VALIDATE_AGAINST_DEFAULT_RULES]).toBe(true);
    const app = validatingApp();
    const topology = loadTopology(largestAccepted);
    new ConveyorStack(app, LONGEST_STACK_NAME, { topology, manageApiGatewayAccountLogRole: true });

    const assembly = app.synth();

    const file = join(assembly.directory, assembly.getStackByName(LONGEST_STACK_NAME).templateFile);
    expect(existsSync(file)).toBe(true);
    const json = JSON.parse(readFileSync(file, 'utf8')) as CfnTemplate;
    expect(Object.keys(json.Resources).length).toBeLessThanOrEqual(CLOUDFORMATION.resources);
    expect(Object.keys(json.Outputs).length).toBeLessThanOrEqual(CLOUDFORMATION.outputs);
    expect(Buffer.byteLength(readFileSync(file))).toBeLessThanOrEqual(CLOUDFORMATION.templateBytes);
    expectWithinCloudWatchLimits(json, topology);
  });

  it('is checked by a validation with teeth: the same App refuses a template over a CloudFormation limit', () => {
    const app = validatingApp();
    const stack = new Stack(app, 'TooManyOutputs');
    new CfnWaitConditionHandle(stack, 'Something');
    for (let i = 0; i <= CLOUDFORMATION.outputs; i++) new CfnOutput(stack, `Output${i}`, { value: String(i) });
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(() => app.synth()).toThrow(
        `Template has ${CLOUDFORMATION.outputs + 1} outputs, maximum is ${CLOUDFORMATION.outputs} (CloudFormation Validate)`,
      );
    } finally {
      quiet.mockRestore();
    }
  });

  it('is the largest: one warehouse more does not fit one stack, and the loader says what to do instead', () => {
    const tooMany = { ...largestAccepted, warehouses: [...largestAccepted.warehouses, 'one-more'] };
    expect(() => loadTopology(tooMany)).toThrow(TopologyError);
    expect(() => loadTopology(tooMany)).toThrow(
      new RegExp(
        `at most ${MAX_WAREHOUSES_PER_STACK} warehouses per stack .*deploy the others as a second stack: npx cdk deploy -c stackName=`,
      ),
    );

    // Past the loader (its cap taken away), the stack itself counts the resources and refuses.
    const accepted = loadTopology(largestAccepted);
    const extra = accepted.pipelines[0]!;
    const bypassed: Topology = {
      ...accepted,
      pipelines: [
        ...accepted.pipelines,
        {
          id: 'one-more',
          stages: extra.stages.map((s) => ({ ...s, pipelineId: 'one-more', key: `one-more/${s.name}` })),
        },
      ],
    };
    expect(
      () =>
        new ConveyorStack(testApp(), LONGEST_STACK_NAME, { topology: bypassed, manageApiGatewayAccountLogRole: true }),
    ).toThrow(
      new RegExp(`need (\\d+) CloudFormation resources, but one stack holds at most ${CLOUDFORMATION.resources}`),
    );
  });
});

/** An App as `cdk synth` runs it (cdk.json's context, built-in CloudFormation validation on); bundling skipped. */
function validatingApp(): App {
  return new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: true });
}

function expectWithinCloudWatchLimits(json: CfnTemplate, topology: Topology): void {
  const [, dashboard] = onlyResourceOf(json, 'AWS::CloudWatch::Dashboard');
  const body = JSON.parse(resolveCfn(dashboard.Properties.DashboardBody, ({ logicalId }) => logicalId)) as {
    widgets: Array<{ type: string; properties: { alarms?: unknown[]; metrics?: unknown[] } }>;
  };
  expect(body.widgets.length).toBeLessThanOrEqual(CLOUDWATCH.widgetsPerDashboard);
  for (const widget of body.widgets) {
    if (widget.type === 'alarm')
      expect(widget.properties.alarms!.length).toBeLessThanOrEqual(CLOUDWATCH.alarmsPerStatusWidget);
    if (widget.type === 'metric')
      expect(widget.properties.metrics!.length).toBeLessThanOrEqual(CLOUDWATCH.metricsPerGraph);
  }
  for (const [id, alarm] of resourcesOf(json, 'AWS::CloudWatch::Alarm')) {
    expect((alarm.Properties.Metrics ?? []).length, id).toBeLessThanOrEqual(CLOUDWATCH.metricsPerAlarm);
    expect(alarm.Properties.AlarmName.length, id).toBeLessThanOrEqual(255);
  }
  const composites = resourcesOf(json, 'AWS::CloudWatch::CompositeAlarm');
  expect(composites).toHaveLength(topology.pipelines.length);
  for (const [id, composite] of composites) {
    // As deployed: every referenced alarm's ARN written out in full.
    const rule = resolveCfn(composite.Properties.AlarmRule, ({ logicalId }) =>
      logicalId.startsWith('AWS::')
        ? 'eu-west-1'
        : `arn:aws:cloudwatch:eu-west-1:123456789012:alarm:${json.Resources[logicalId]?.Properties.AlarmName ?? logicalId}`,
    );
    expect(rule.length, id).toBeLessThanOrEqual(CLOUDWATCH.compositeRuleChars);
  }
}
