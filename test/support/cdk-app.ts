/**
 * Test helpers for the CDK stack: an App configured like `cdk synth` (cdk.json's context: feature
 * flags and the default topology) but fast — no asset bundling, no built-in CloudFormation
 * validation, no tree metadata — and small readers over a synthesized template.
 */
import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CloudAssembly } from 'aws-cdk-lib/cx-api';
import type { IConstruct } from 'constructs';
import { ConveyorStack, type ConveyorStackProps } from '../../lib/infra/conveyor-stack.ts';
import { loadTopology } from '../../lib/topology/index.ts';

/** cdk.json's context: tests do not read cdk.json by themselves. */
export const CDK_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'),
).context;

/** An App with cdk.json's context, bundling skipped (no esbuild run, no handler needed at runtime). */
export function testApp(context: Record<string, unknown> = {}): App {
  return new App({
    context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context },
    builtinCloudFormationValidation: false,
    treeMetadata: false,
  });
}

export interface SynthesizedConveyor {
  readonly app: App;
  readonly stack: ConveyorStack;
  readonly template: Template;
  /** The raw template JSON. */
  readonly json: CfnTemplate;
}

/** Builds and synthesizes a ConveyorStack from cdk.json's default topology, or from `topology` overrides instead. */
export function synthConveyor(
  topology: unknown = CDK_CONTEXT.conveyor,
  props: Partial<Omit<ConveyorStackProps, 'topology'>> = {},
): SynthesizedConveyor {
  const { app, stack } = buildConveyor(topology, props);
  const template = Template.fromStack(stack);
  return { app, stack, template, json: template.toJSON() as CfnTemplate };
}

/** The same, not yet synthesized (e.g. to attach cdk-nag and synthesize inside a test). */
export function buildConveyor(
  topology: unknown = CDK_CONTEXT.conveyor,
  props: Partial<Omit<ConveyorStackProps, 'topology'>> = {},
): { app: App; stack: ConveyorStack } {
  const app = testApp();
  return { app, stack: new ConveyorStack(app, 'Conveyor', { ...props, topology: loadTopology(topology) }) };
}

/** Deletes the temporary cloud assemblies this process wrote; call from `afterAll`. */
export function cleanupAssemblies(): void {
  CloudAssembly.cleanupTemporaryDirectories();
}

/** The logical id of an L2 construct's CloudFormation resource. */
export function logicalId(construct: IConstruct): string {
  const child = construct.node.defaultChild;
  if (!child) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return Stack.of(construct).getLogicalId(child as never);
}

export interface CfnResource {
  readonly Type: string;
  readonly Properties: Record<string, any>;
  readonly DependsOn?: string[];
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Outputs: Record<string, { Value: unknown; Description?: string }>;
}

/** `[logicalId, resource]` of every resource of a type. */
export function resourcesOf(json: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(json.Resources).filter(([, r]) => r.Type === type);
}

/** The logical id behind `{"Ref": id}` or `{"Fn::GetAtt": [id, attr]}`; throws on anything else. */
export function referencedId(value: unknown, attribute?: string): string {
  const v = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  if (typeof v?.Ref === 'string' && attribute === undefined) return v.Ref;
  const getAtt = v?.['Fn::GetAtt'];
  if (Array.isArray(getAtt) && (attribute === undefined || getAtt[1] === attribute)) return getAtt[0];
  throw new Error(`expected a reference${attribute ? ` to .${attribute}` : ''}, got ${JSON.stringify(value)}`);
}

/** A policy statement's field as a list (IAM allows a single value or a list). */
export function asList<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** One stage as the template wires it, found by following references — not by trusting names. */
export interface TemplateStage {
  readonly pipelineId: string;
  readonly stage: string;
  readonly functionId: string;
  readonly function: CfnResource;
  readonly mappingId: string;
  readonly mapping: CfnResource;
  /** The queue the mapping consumes. */
  readonly queueId: string;
  readonly queue: CfnResource;
  /** The queue's redrive target. */
  readonly deadLetterQueueId: string;
  /** The queue named by the function's CONVEYOR_NEXT_QUEUE_URL, if any. */
  readonly nextQueueId?: string;
}

/** Every event source mapping → its function, queue, DLQ and next queue. */
export function stagesInTemplate(json: CfnTemplate): TemplateStage[] {
  return resourcesOf(json, 'AWS::Lambda::EventSourceMapping').map(([mappingId, mapping]) => {
    const functionId = referencedId(mapping.Properties.FunctionName);
    const fn = json.Resources[functionId]!;
    const queueId = referencedId(mapping.Properties.EventSourceArn, 'Arn');
    const queue = json.Resources[queueId]!;
    const env = fn.Properties.Environment.Variables as Record<string, unknown>;
    const next = env.CONVEYOR_NEXT_QUEUE_URL;
    return {
      pipelineId: env.CONVEYOR_PIPELINE as string,
      stage: env.CONVEYOR_STAGE as string,
      functionId,
      function: fn,
      mappingId,
      mapping,
      queueId,
      queue,
      deadLetterQueueId: referencedId(queue.Properties.RedrivePolicy?.deadLetterTargetArn, 'Arn'),
      ...(next === undefined ? {} : { nextQueueId: referencedId(next) }),
    };
  });
}

/** Every logical id referenced (Ref or Fn::GetAtt) anywhere inside a value, e.g. an Fn::Join. */
export function referencesIn(value: unknown): Set<string> {
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [key, inner] of Object.entries(v)) {
        if (key === 'Ref' && typeof inner === 'string' && !inner.startsWith('AWS::')) found.add(inner);
        else if (key === 'Fn::GetAtt' && Array.isArray(inner)) found.add(inner[0] as string);
        else walk(inner);
      }
    }
  };
  walk(value);
  return found;
}

/** Renders a string or `Fn::Join` with each reference replaced by `render(logicalId)`: reads tokenized JSON. */
export function renderString(value: unknown, render: (logicalId: string) => string): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map((part) => renderString(part, render)).join(join[0]);
  return render(referencedId(value));
}

/** `[logicalId, resource]` of the one resource of a type; throws unless there is exactly one. */
export function onlyResourceOf(json: CfnTemplate, type: string): [string, CfnResource] {
  const found = resourcesOf(json, type);
  if (found.length !== 1) throw new Error(`expected exactly one ${type}, found ${found.length}`);
  return found[0]!;
}

/** A `Ref` (no attribute) or `Fn::GetAtt` (with one) found while resolving a template value. */
export interface CfnReference {
  readonly logicalId: string;
  readonly attribute?: string;
}

/**
 * Resolves a template value (a string, `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Select`, `Fn::Split`)
 * to the string CloudFormation would produce, with every reference answered by `resolve`.
 */
export function resolveCfn(value: unknown, resolve: (reference: CfnReference) => string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const v = value as Record<string, any>;
  if (typeof v.Ref === 'string') return resolve({ logicalId: v.Ref });
  if (Array.isArray(v['Fn::GetAtt'])) return resolve({ logicalId: v['Fn::GetAtt'][0], attribute: v['Fn::GetAtt'][1] });
  if (Array.isArray(v['Fn::Join']))
    return (v['Fn::Join'][1] as unknown[]).map((part) => resolveCfn(part, resolve)).join(v['Fn::Join'][0]);
  if (Array.isArray(v['Fn::Select']))
    return resolveCfnList(v['Fn::Select'][1], resolve)[Number(v['Fn::Select'][0])] ?? '';
  throw new Error(`cannot resolve ${JSON.stringify(value).slice(0, 200)}`);
}

function resolveCfnList(value: unknown, resolve: (reference: CfnReference) => string): string[] {
  if (Array.isArray(value)) return value.map((item) => resolveCfn(item, resolve));
  const split = (value as Record<string, any>)['Fn::Split'];
  if (Array.isArray(split)) return resolveCfn(split[1], resolve).split(split[0]);
  throw new Error(`cannot resolve a list from ${JSON.stringify(value).slice(0, 200)}`);
}

export const FAKE_ACCOUNT = '123456789012';
export const FAKE_REGION = 'us-east-1';

/**
 * What a deployed stack's references would resolve to, shaped like the real thing (a queue's URL,
 * ARN and name; a function's name; a mapping's UUID), named after the logical id.
 */
export function fakeDeployedValue(
  json: CfnTemplate,
  stackName: string,
  { logicalId, attribute }: CfnReference,
): string {
  const pseudo: Record<string, string> = {
    'AWS::Region': FAKE_REGION,
    'AWS::AccountId': FAKE_ACCOUNT,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': stackName,
  };
  if (pseudo[logicalId] !== undefined) return pseudo[logicalId];
  const type = json.Resources[logicalId]?.Type;
  if (type === 'AWS::SQS::Queue') {
    if (attribute === 'Arn') return `arn:aws:sqs:${FAKE_REGION}:${FAKE_ACCOUNT}:${stackName}-${logicalId}`;
    if (attribute === 'QueueName') return `${stackName}-${logicalId}`;
    return `https://sqs.${FAKE_REGION}.amazonaws.com/${FAKE_ACCOUNT}/${stackName}-${logicalId}`;
  }
  if (type === 'AWS::Lambda::Function' && attribute === undefined) return `${stackName}-${logicalId}`;
  if (type === 'AWS::Lambda::EventSourceMapping' && attribute === undefined) return `uuid-${logicalId}`;
  return attribute === undefined ? logicalId : `${logicalId}.${attribute}`;
}

/** One (action, resource) pair a role allows; the resource as the logical id it is the ARN of, or as written. */
export interface Grant {
  readonly action: string;
  readonly resource: string;
}

/** Every (action, resource) pair the function's role allows. */
export function grantsOf(template: CfnTemplate, functionId: string): Grant[] {
  return roleGrants(template, referencedId(template.Resources[functionId]!.Properties.Role, 'Arn'));
}

/** Every (action, resource) pair a role's inline policies allow; anything but plain Allow statements is refused. */
export function roleGrants(template: CfnTemplate, roleId: string): Grant[] {
  const role = template.Resources[roleId]!;
  if (role.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is a ${role.Type}, not a role`);
  const grants: Grant[] = [];
  for (const policy of asList<Record<string, any>>(role.Properties.Policies)) {
    for (const statement of asList<Record<string, any>>(policy.PolicyDocument.Statement)) {
      if (statement.Effect !== 'Allow' || statement.NotAction || statement.NotResource)
        throw new Error(`${roleId} has a statement that is not a plain Allow: ${JSON.stringify(statement)}`);
      for (const action of asList<string>(statement.Action)) {
        for (const resource of asList<unknown>(statement.Resource))
          grants.push({ action, resource: describeResource(resource) });
      }
    }
  }
  return grants;
}

/** A resource ARN as the logical id it is the ARN of, or else as written (a literal or an Fn::Join). */
function describeResource(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  try {
    return referencedId(resource, 'Arn');
  } catch {
    return JSON.stringify(resource);
  }
}
