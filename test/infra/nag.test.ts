/**
 * cdk-nag (AWS Solutions + Serverless packs) passes with zero unacknowledged findings — errors and
 * warnings — and every acknowledgement is resource-level and explains itself.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Stack, Validations, type App } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { addNagChecks, attachNag, NAG_REASONS } from '../../lib/infra/nag.ts';
import { buildConveyor, CDK_CONTEXT, cleanupAssemblies, testApp } from '../support/cdk-app.ts';

afterAll(cleanupAssemblies);

/** Findings the packs report now, as `rule @ construct path` (acknowledged ones excluded). */
function findings(app: App): string[] {
  return [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
    pack
      .validateScope(app)
      .violations.flatMap((v) => v.violatingResources.map((r) => `${v.severity} ${v.ruleName} @ ${r.constructPath}`)),
  );
}

/** Every acknowledgement in the tree: where, which rule, why. */
function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node
    .findAll()
    .flatMap((c) =>
      c.node.metadata
        .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((m) =>
          Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id, reason })),
        ),
    );
}

/** A stack with cdk-nag attached, as bin/conveyor.ts builds it; each suite synthesizes it in its first test. */
function withNag(topology: unknown) {
  const built = buildConveyor(topology);
  attachNag(built.stack);
  return built;
}

describe('the default stack', () => {
  const { app, stack } = withNag(CDK_CONTEXT.conveyor);

  it('synthesizes with the packs attached and leaves no finding unacknowledged, warnings included', () => {
    expect(() => app.synth()).not.toThrow();
    expect(findings(app)).toEqual([]);
  });

  it('raises no CDK warnings or errors either', () => {
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
    expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
  });

  it('acknowledges only findings that do not apply, each on the resource it concerns, with a reason', () => {
    const acks = acknowledgements(app);
    const reasons = new Set<string>(Object.values(NAG_REASONS));
    for (const ack of acks) {
      expect(ack.reason.trim().length, `${ack.id} @ ${ack.path}`).toBeGreaterThan(40);
      expect(reasons, `${ack.id} @ ${ack.path}`).toContain(ack.reason);
      // Never blanket: not on the app or the stack, always below a resource-owning construct.
      expect(ack.path.split('/').length, `${ack.id} @ ${ack.path}`).toBeGreaterThanOrEqual(3);
    }
    expect([...new Set(acks.map((a) => a.id.replace(/^Annotation::/, '')))].sort()).toEqual([
      'AwsSolutions-APIG3',
      'AwsSolutions-COG4',
      'AwsSolutions-IAM5[Resource::*]',
      'Serverless-EventBusDLQ',
      'Serverless-LambdaDLQ',
      'Serverless-LambdaEventSourceMappingDestination',
      'Serverless-LambdaStarPermissions',
      'Serverless-SQSRedrivePolicy',
    ]);
  });

  it('acknowledges a missing redrive policy on dead-letter queues only', () => {
    const paths = acknowledgements(app)
      .filter((a) => a.id.endsWith('Serverless-SQSRedrivePolicy'))
      .map((a) => a.path);
    expect(paths).toHaveLength(6);
    for (const path of paths) expect(path).toMatch(/\/DeadLetterQueue$/);
  });
});

describe('with the account-wide API Gateway log role managed by the stack', () => {
  const built = buildConveyor(CDK_CONTEXT.conveyor, { manageApiGatewayAccountLogRole: true });
  attachNag(built.stack);

  it('is clean too: the role’s log-group wildcard is acknowledged on that role only', () => {
    expect(() => built.app.synth()).not.toThrow();
    expect(findings(built.app)).toEqual([]);
    const acks = acknowledgements(built.app).filter((a) => a.reason === NAG_REASONS.accountLogRole);
    expect(acks.map((a) => a.path)).toEqual([built.stack.orderApi.accountLogRole!.node.path]);
  });
});

describe('API-key authorization behind a WAF web ACL', () => {
  const { app, stack } = withNag({
    api: {
      authorization: 'api-key',
      wafWebAclArn: 'arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/conveyor/0f1e2d3c',
    },
  });

  it('is clean too: APIG4 is acknowledged for the key-protected methods (cancel included), APIG3 is satisfied, not acknowledged', () => {
    expect(() => app.synth()).not.toThrow();
    expect(findings(app)).toEqual([]);
    const ids = acknowledgements(app).map((a) => `${a.id} @ ${a.path}`);
    const methodPaths = stack.orderApi.methods.map((m) => m.node.path);
    expect(methodPaths).toContain(stack.orderApi.cancelOrder.node.path);
    expect(
      ids
        .filter((id) => id.includes('APIG4'))
        .map((id) => id.slice(id.indexOf(' @ ') + 3))
        .sort(),
    ).toEqual(methodPaths.sort());
    expect(ids.filter((id) => id.includes('APIG3'))).toEqual([]);
  });
});

describe('an alarm email', () => {
  const { app, stack } = withNag({ alarms: { email: 'oncall@example.com' } });

  it('is clean too: only the subscription’s dead-letter queue is acknowledged as one', () => {
    expect(() => app.synth()).not.toThrow();
    expect(findings(app)).toEqual([]);
    const acks = acknowledgements(app).filter((a) => a.reason === NAG_REASONS.notificationDeadLetterQueue);
    const queue = stack.monitoring.notificationDeadLetterQueue!.node.path;
    expect(acks.map((a) => `${a.id.replace(/^Annotation::/, '')} @ ${a.path}`).sort()).toEqual([
      `AwsSolutions-SQS3 @ ${queue}`,
      `Serverless-SQSRedrivePolicy @ ${queue}`,
    ]);
  });
});

describe('the checks themselves', () => {
  it('fail synthesis on an unacknowledged finding', () => {
    const app = testApp();
    const stack = new Stack(app, 'Bare');
    new sqs.Queue(stack, 'PlainQueue');
    addNagChecks(stack);
    addNagChecks(stack); // idempotent: the packs run once
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
    } finally {
      quiet.mockRestore();
    }
    expect(findings(app)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^error AwsSolutions-SQS4 @ Bare\/PlainQueue\/Resource$/),
        expect.stringMatching(/Serverless-SQSRedrivePolicy/),
      ]),
    );
  });
});
