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
export const CDK_CONTEXT: Record<string, unknown> = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context;

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
