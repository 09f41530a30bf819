/**
 * cdk-nag for Conveyor: the AWS Solutions and Serverless rule packs run on every synth, and any
 * finding, a warning included, fails it. What could be fixed is fixed in the constructs (request
 * validation, access and execution logs, tracing, throttling, SSL-only encrypted queues, PITR, own
 * roles with inline policies). What remains does not apply to this architecture; each such finding
 * is acknowledged here, on the narrowest construct that carries it, with the reason.
 *
 * @example
 * const stack = new ConveyorStack(app, 'Conveyor', { topology });
 * attachNag(stack);   // or, in a stack of your own: attachNag(new Conveyor(this, 'Fulfilment', { topology }))
 */
import { Stage, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { ConveyorStack } from './conveyor-stack.ts';
import { Conveyor } from './conveyor.ts';

/** Why each remaining finding does not apply. Exported so the reasons can be reviewed and tested. */
export const NAG_REASONS = {
  xrayWildcard:
    'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions, so "*" is the only valid resource; every SQS, DynamoDB and Logs action of this role names its exact resources.',
  accountLogRole:
    "API Gateway uses one CloudWatch Logs role per account and region for every API and stage; it must create and write log groups it names itself (API-Gateway-Execution-Logs_<api>/<stage>, access log groups), so it is scoped to this account's and region's log groups rather than to one of them.",
  deadLetterQueueRedrive:
    'This queue is itself a dead-letter queue: nothing consumes it automatically, so there is no receive count to redrive on. Operators inspect it and move messages back with StartMessageMoveTask (npx conveyor dlq redrive).',
  functionDeadLetterQueue:
    "Lambda DLQs and on-failure destinations apply only to asynchronous invocations. This function is only invoked synchronously (by its SQS event source mapping, or by API Gateway for intake); failed SQS records are redriven by the source queue's own redrive policy to its dead-letter queue.",
  eventSourceMappingDestination:
    "SQS event source mappings cannot have an on-failure destination (Lambda supports them for Kinesis, DynamoDB Streams and Kafka only). Failed records return to the queue and, after maxReceiveCount receives, SQS moves them to the dead-letter queue configured in the queue's redrive policy.",
  notificationDeadLetterQueue:
    "This queue is the dead-letter queue of the alarm topic's email subscription (its RedrivePolicy names it), which cdk-nag does not recognize as a DLQ. Nothing consumes it automatically, so it needs no DLQ or redrive policy of its own; an alarm fires when it holds a message.",
  scheduledAuditor:
    'The dead-letter auditor is invoked by an EventBridge schedule every minute and keeps no state: a run that fails or is dropped is made good by the next one (it records every dead letter not yet noted), so a dead-letter queue for its invocation events would only collect duplicates of work the next run does.',
  breakerWildcard:
    'X-Ray PutTraceSegments/PutTelemetryRecords and CloudWatch GetMetricData support no resource-level permissions, so "*" is the only valid resource for them; every other action of the breaker function names its exact resources (the stages\' event source mappings, the breaker alarms, the alarm topic and its key, the status table limited to the breaker partition by dynamodb:LeadingKeys).',
  breakerRounds:
    "The circuit-breaker function keeps no state between invocations but the breaker items it writes conditionally: a failed or dropped scheduled round is made good by the next minute's, which also opens a breaker whose alarm event was lost (it reads the breaker alarms in ALARM) and finishes mapping changes left half-done; operators invoke it synchronously and see any failure. A dead-letter queue would only collect events the next round already covers.",
  cognito:
    'Callers are services and operators, not end users with a Cognito user pool: the API requires IAM SigV4 authorization, or an API key with a usage plan when the topology selects "api-key".',
  apiKeyAuthorization:
    'The topology selects api.authorization "api-key": every method requires an API key bound to a usage plan that throttles it; there is no IAM or Cognito authorizer by design.',
  waf: 'No WAFv2 web ACL is configured (cdk.json context conveyor.api.wafWebAclArn). The API is not anonymous (IAM SigV4 or API key), validates request bodies and throttles per stage; set wafWebAclArn to associate an ACL.',
} as const;

const registered = new WeakSet<Stage>();

/** Runs the AWS Solutions and Serverless packs on the stage (app) that holds `scope`. Idempotent. */
export function addNagChecks(scope: IConstruct): void {
  const stage = Stage.of(scope);
  if (!stage) throw new Error('cdk-nag checks need an enclosing App or Stage');
  if (registered.has(stage)) return;
  registered.add(stage);
  // writeSuppressionsToCloudFormation: each acknowledged resource carries its reasons in the template's Metadata, for audits.
  Validations.of(stage).addPlugins(
    new AwsSolutionsChecks(stage, { writeSuppressionsToCloudFormation: true }),
    new ServerlessChecks(stage, { writeSuppressionsToCloudFormation: true }),
  );
}

/** Acknowledges, construct by construct, the findings that do not apply to Conveyor. */
export function acknowledgeNagFindings(deployment: Conveyor | ConveyorStack): void {
  const conveyor = deployment instanceof Conveyor ? deployment : deployment.conveyor;
  for (const stage of conveyor.stages.values()) {
    acknowledge(stage.worker.role, 'AwsSolutions-IAM5[Resource::*]', NAG_REASONS.xrayWildcard);
    acknowledge(stage.worker.role, 'Serverless-LambdaStarPermissions', NAG_REASONS.xrayWildcard);
    acknowledge(stage.worker.function, 'Serverless-LambdaDLQ', NAG_REASONS.functionDeadLetterQueue);
    acknowledge(
      stage.eventSourceMapping,
      'Serverless-LambdaEventSourceMappingDestination',
      NAG_REASONS.eventSourceMappingDestination,
    );
    acknowledge(stage.deadLetterQueue, 'Serverless-SQSRedrivePolicy', NAG_REASONS.deadLetterQueueRedrive);
  }

  const auditor = conveyor.deadLetterAuditor;
  acknowledge(auditor.worker.role, 'AwsSolutions-IAM5[Resource::*]', NAG_REASONS.xrayWildcard);
  acknowledge(auditor.worker.role, 'Serverless-LambdaStarPermissions', NAG_REASONS.xrayWildcard);
  acknowledge(auditor.worker.function, 'Serverless-LambdaDLQ', NAG_REASONS.scheduledAuditor);
  acknowledge(auditor.schedule, 'Serverless-EventBusDLQ', NAG_REASONS.scheduledAuditor);

  const breakers = conveyor.breakers;
  acknowledge(breakers.worker.role, 'AwsSolutions-IAM5[Resource::*]', NAG_REASONS.breakerWildcard);
  acknowledge(breakers.worker.role, 'Serverless-LambdaStarPermissions', NAG_REASONS.breakerWildcard);
  acknowledge(breakers.worker.function, 'Serverless-LambdaDLQ', NAG_REASONS.breakerRounds);
  acknowledge(breakers.alarmRule, 'Serverless-EventBusDLQ', NAG_REASONS.breakerRounds);
  acknowledge(breakers.schedule, 'Serverless-EventBusDLQ', NAG_REASONS.breakerRounds);

  const api = conveyor.orderApi;
  acknowledge(api.intake.role, 'AwsSolutions-IAM5[Resource::*]', NAG_REASONS.xrayWildcard);
  acknowledge(api.intake.role, 'Serverless-LambdaStarPermissions', NAG_REASONS.xrayWildcard);
  acknowledge(api.intake.function, 'Serverless-LambdaDLQ', NAG_REASONS.functionDeadLetterQueue);
  if (api.accountLogRole) {
    acknowledge(
      api.accountLogRole,
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:*]',
      NAG_REASONS.accountLogRole,
    );
  }
  for (const method of api.methods) {
    acknowledge(method, 'AwsSolutions-COG4', NAG_REASONS.cognito);
    if (conveyor.topology.api.authorization === 'api-key')
      acknowledge(method, 'AwsSolutions-APIG4', NAG_REASONS.apiKeyAuthorization);
  }
  if (!api.webAclAssociation) acknowledge(api.api.deploymentStage, 'AwsSolutions-APIG3', NAG_REASONS.waf);

  const notificationDlq = conveyor.monitoring.notificationDeadLetterQueue;
  if (notificationDlq) {
    acknowledge(notificationDlq, 'AwsSolutions-SQS3', NAG_REASONS.notificationDeadLetterQueue);
    acknowledge(notificationDlq, 'Serverless-SQSRedrivePolicy', NAG_REASONS.notificationDeadLetterQueue);
  }
}

/** Runs cdk-nag on the app that holds Conveyor and acknowledges, on Conveyor's constructs only, what does not apply. */
export function attachNag(deployment: Conveyor | ConveyorStack): void {
  addNagChecks(deployment);
  acknowledgeNagFindings(deployment);
}

function acknowledge(scope: IConstruct, id: string, reason: string): void {
  if (reason.trim().length < 20) throw new Error(`acknowledging ${id} on ${scope.node.path} needs a real reason`);
  Validations.of(scope).acknowledge({ id, reason });
}
