/**
 * Least privilege, proven from the template: every function has its own role with inline policies
 * only, and its SQS / DynamoDB / Logs actions name exactly the resources it uses — found by
 * following references (event source → queue → redrive target, env → next queue), not by names.
 * That every call the handlers actually make is granted is proven by test/contract.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { STATUS_TABLE_ACTIONS } from '../../lib/infra/permissions.ts';
import { statusTableDefinition } from '../../lib/local/ledger-table.ts';
import { findStage } from '../../lib/topology/index.ts';
import {
  cleanupAssemblies,
  grantsOf,
  roleGrants,
  type Grant,
  logicalId,
  onlyResourceOf,
  referencedId,
  resourcesOf,
  stagesInTemplate,
  synthConveyor,
} from '../support/cdk-app.ts';

const { stack, json } = synthConveyor();
const stages = stagesInTemplate(json);
const [tableId] = onlyResourceOf(json, 'AWS::DynamoDB::Table');

afterAll(cleanupAssemblies);

/** action → sorted resources, for the actions of one service. */
function byAction(grants: Grant[], service: string): Record<string, string[]> {
  const map: Record<string, string[]> = {};
  for (const g of grants.filter((x) => x.action.startsWith(`${service}:`))) (map[g.action] ??= []).push(g.resource);
  for (const list of Object.values(map)) list.sort();
  return map;
}

/** The declared status-table actions (lib/infra/permissions.ts: what the ledger code calls), each on the table alone. */
const onTable = (actions: readonly string[]) => Object.fromEntries(actions.map((a) => [a, [tableId]]));

const logGroupOf = (functionId: string) => referencedId(json.Resources[functionId]!.Properties.LoggingConfig.LogGroup);

describe('roles', () => {
  it('gives every function its own role, with inline policies only (no managed policies, no shared policy)', () => {
    const functions = resourcesOf(json, 'AWS::Lambda::Function');
    const roles = functions.map(([, fn]) => referencedId(fn.Properties.Role, 'Arn'));
    expect(new Set(roles).size).toBe(functions.length);
    for (const [id, role] of resourcesOf(json, 'AWS::IAM::Role')) {
      expect(role.Properties.ManagedPolicyArns, id).toBeUndefined();
    }
    expect(resourcesOf(json, 'AWS::IAM::Policy')).toEqual([]);
    expect(resourcesOf(json, 'AWS::IAM::ManagedPolicy')).toEqual([]);
  });

  it('never allows an sqs: or dynamodb: action on "*" or on a wildcard ARN, in any role', () => {
    for (const [id] of resourcesOf(json, 'AWS::IAM::Role')) {
      for (const g of roleGrants(json, id).filter((x) => /^(sqs|dynamodb):/.test(x.action))) {
        expect(g.action, id).not.toContain('*');
        expect(g.resource, `${id} ${g.action}`).not.toContain('*');
        expect(json.Resources[g.resource], `${id} ${g.action} → ${g.resource}`).toBeDefined();
      }
    }
  });
});

describe('stage functions', () => {
  it.each(stages.map((s) => [`${s.pipelineId}/${s.stage}`, s] as const))(
    '%s touches only its queue, its DLQ, the next queue and the table',
    (_key, s) => {
      const grants = grantsOf(json, s.functionId);
      const consume = [
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:ReceiveMessage',
      ];
      expect(byAction(grants, 'sqs')).toEqual({
        ...Object.fromEntries(consume.map((a) => [a, [s.queueId]])),
        'sqs:SendMessage': [s.deadLetterQueueId, ...(s.nextQueueId ? [s.nextQueueId] : [])].sort(),
      });
      expect(byAction(grants, 'dynamodb')).toEqual(onTable(STATUS_TABLE_ACTIONS.stage));
      expect(byAction(grants, 'logs')).toEqual({
        'logs:CreateLogStream': [logGroupOf(s.functionId)],
        'logs:PutLogEvents': [logGroupOf(s.functionId)],
      });
      // The only other permission: X-Ray, which has no resource-level permissions.
      expect(grants.filter((g) => !/^(sqs|dynamodb|logs):/.test(g.action))).toEqual([
        { action: 'xray:PutTelemetryRecords', resource: '*' },
        { action: 'xray:PutTraceSegments', resource: '*' },
      ]);
    },
  );

  it('forwards to the next stage of the same pipeline only', () => {
    for (const s of stages.filter((x) => x.nextQueueId)) {
      const next = stages.find((x) => x.queueId === s.nextQueueId)!;
      expect(next.pipelineId).toBe(s.pipelineId);
      // The next stage in its own pipeline's chain.
      expect(next.stage).toBe(findStage(stack.topology, s.pipelineId, s.stage)?.next);
    }
  });
});

describe('intake function', () => {
  it('may enqueue only to each pipeline’s first stage and read/write only the status table', () => {
    const intakeId = logicalId(stack.orderApi.function);
    const grants = grantsOf(json, intakeId);
    const firstQueues = stages
      .filter((s) => stack.topology.pipelines.some((p) => p.id === s.pipelineId && p.stages[0]?.name === s.stage))
      .map((s) => s.queueId);
    expect(firstQueues).toHaveLength(2);
    expect(byAction(grants, 'sqs')).toEqual({ 'sqs:SendMessage': firstQueues.sort() });
    expect(byAction(grants, 'dynamodb')).toEqual(onTable(STATUS_TABLE_ACTIONS.intake));
    expect(byAction(grants, 'logs')).toEqual({
      'logs:CreateLogStream': [logGroupOf(intakeId)],
      'logs:PutLogEvents': [logGroupOf(intakeId)],
    });
  });
});

describe('the listing index of the status table', () => {
  it('is the index the local runtime declares (name, keys, projection, key types)', () => {
    const table = json.Resources[tableId]!.Properties;
    const local = statusTableDefinition('local');
    const sorted = <T>(list: readonly T[] = []) =>
      [...list].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    expect(table.GlobalSecondaryIndexes).toEqual(local.GlobalSecondaryIndexes);
    expect(sorted(table.AttributeDefinitions)).toEqual(sorted(local.AttributeDefinitions));
  });

  it('is read by no function: no role names an index of the table (operators query it, see README)', () => {
    for (const [id] of resourcesOf(json, 'AWS::IAM::Role')) {
      for (const g of roleGrants(json, id).filter((x) => x.action.startsWith('dynamodb:')))
        expect(`${id} ${g.action} ${g.resource}`).not.toMatch(/index/i);
    }
  });
});
