/**
 * The default ConveyorStack (cdk.json: 2 warehouses × 3 stages), asserted on the synthesized
 * template: queues and dead letters, event sources, functions, API, table, outputs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Match } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { readTopologyManifest, StackOutput, type TopologyManifest } from '../../lib/contract/index.ts';
import { allStages, findStage, loadTopology } from '../../lib/topology/index.ts';
import {
  CDK_CONTEXT,
  cleanupAssemblies,
  logicalId,
  onlyResourceOf,
  referencedId,
  referencesIn,
  renderString,
  resolveCfn,
  resourcesOf,
  stagesInTemplate,
  synthConveyor,
} from '../support/cdk-app.ts';

const topology = loadTopology(CDK_CONTEXT.conveyor);
const { stack, template, json } = synthConveyor();
const stages = stagesInTemplate(json);
const DAY = 86_400;

afterAll(cleanupAssemblies);

describe('queues', () => {
  it('has a work queue and a dead-letter queue per stage: 2 warehouses × 3 stages', () => {
    expect(topology.pipelines.map((p) => p.id)).toEqual(['wh-1', 'wh-2']);
    template.resourceCountIs('AWS::SQS::Queue', 12);
    expect(stages).toHaveLength(6);
    expect(new Set(stages.map((s) => `${s.pipelineId}/${s.stage}`))).toEqual(
      new Set(allStages(topology).map((s) => s.key)),
    );
  });

  it('redrives each work queue to its own dead-letter queue after maxReceiveCount', () => {
    for (const built of stack.stages.values()) {
      const queue = json.Resources[logicalId(built.queue)]!;
      expect(queue.Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(built.deadLetterQueue), 'Arn'] },
        maxReceiveCount: built.stage.maxReceiveCount,
      });
    }
    // …and no two queues share a DLQ, and no DLQ redrives further.
    const dlqs = stages.map((s) => s.deadLetterQueueId);
    expect(new Set(dlqs).size).toBe(6);
    for (const id of dlqs) expect(json.Resources[id]!.Properties.RedrivePolicy).toBeUndefined();
  });

  it('encrypts every queue at rest and denies every request not made over TLS', () => {
    const queues = resourcesOf(json, 'AWS::SQS::Queue');
    const policies = resourcesOf(json, 'AWS::SQS::QueuePolicy');
    for (const [id, queue] of queues) {
      expect(queue.Properties.SqsManagedSseEnabled === true || queue.Properties.KmsMasterKeyId !== undefined, id).toBe(
        true,
      );
      const policy = policies.find(([, p]) => p.Properties.Queues.some((q: unknown) => referencedId(q) === id));
      expect(policy, `queue policy of ${id}`).toBeDefined();
      expect(policy![1].Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 'sqs:*',
          Principal: { AWS: '*' },
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          Resource: { 'Fn::GetAtt': [id, 'Arn'] },
        }),
      );
    }
  });

  it('keeps dead letters 14 days and queued work retention.queueDays', () => {
    for (const s of stages) {
      expect(json.Resources[s.deadLetterQueueId]!.Properties.MessageRetentionPeriod).toBe(1_209_600);
      expect(s.queue.Properties.MessageRetentionPeriod).toBe(topology.retention.queueDays * DAY);
      expect(s.queue.Properties.ReceiveMessageWaitTimeSeconds).toBe(20);
    }
  });

  it("sets each queue's visibility timeout ≥ 6 × its function's timeout + batching window (read from the template)", () => {
    for (const s of stages) {
      const minimum = 6 * s.function.Properties.Timeout + (s.mapping.Properties.MaximumBatchingWindowInSeconds ?? 0);
      expect(s.queue.Properties.VisibilityTimeout, `${s.pipelineId}/${s.stage}`).toBeGreaterThanOrEqual(minimum);
      expect(s.queue.Properties.VisibilityTimeout).toBe(
        findStage(topology, s.pipelineId, s.stage)!.visibilityTimeoutSeconds,
      );
    }
  });
});

describe('event sources', () => {
  it('feeds each queue to its function in batches with per-record failure reporting, as the topology says', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 6);
    for (const s of stages) {
      const expected = findStage(topology, s.pipelineId, s.stage)!;
      expect(s.mapping.Properties).toMatchObject({
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: expected.batchSize,
        MaximumBatchingWindowInSeconds: expected.maxBatchingWindowSeconds,
        ScalingConfig: { MaximumConcurrency: expected.maxConcurrency },
      });
      expect(s.mapping.Properties.Enabled ?? true).toBe(true);
    }
  });

  it('chains each pipeline as its topology does (picking → packing → delivery), the last stage forwarding nowhere', () => {
    for (const pipeline of topology.pipelines) {
      const chain = pipeline.stages.map(
        ({ name }) => stages.find((s) => s.pipelineId === pipeline.id && s.stage === name)!,
      );
      expect(chain.map((s) => s.stage)).toEqual(['picking', 'packing', 'delivery']);
      chain.forEach((s, i) => expect(s.nextQueueId).toBe(chain[i + 1]?.queueId));
    }
  });
});

describe('functions', () => {
  const functions = resourcesOf(json, 'AWS::Lambda::Function');

  it('runs every function on Node 24 (or 22), arm64, with active tracing and JSON logs', () => {
    // One per stage, the intake, the dead-letter auditor and the circuit breakers'.
    expect(functions).toHaveLength(allStages(topology).length + 3);
    for (const [id, fn] of functions) {
      expect(['nodejs24.x', 'nodejs22.x'], id).toContain(fn.Properties.Runtime);
      expect(fn.Properties.Architectures, id).toEqual(['arm64']);
      expect(fn.Properties.TracingConfig, id).toEqual({ Mode: 'Active' });
      expect(fn.Properties.LoggingConfig.LogFormat, id).toBe('JSON');
      expect(fn.Properties.Handler, id).toBe('index.handler');
    }
  });

  it('gives every function its own log group with the topology retention', () => {
    const logGroups = functions.map(([, fn]) => referencedId(fn.Properties.LoggingConfig.LogGroup));
    expect(new Set(logGroups).size).toBe(functions.length);
    for (const id of logGroups) {
      expect(json.Resources[id]!.Type).toBe('AWS::Logs::LogGroup');
      expect(json.Resources[id]!.Properties.RetentionInDays).toBe(topology.retention.logDays);
    }
  });

  it('sizes stage functions from the topology and configures them through the environment contract', () => {
    for (const s of stages) {
      const expected = findStage(topology, s.pipelineId, s.stage)!;
      expect(s.function.Properties).toMatchObject({ MemorySize: expected.memoryMb, Timeout: expected.timeoutSeconds });
      const env = s.function.Properties.Environment.Variables;
      expect(env).toMatchObject({
        CONVEYOR_TRACKING: topology.tracking,
        CONVEYOR_MAX_RECEIVE_COUNT: String(expected.maxReceiveCount),
        CONVEYOR_BACKOFF_BASE_SECONDS: String(expected.backoff.baseSeconds),
        CONVEYOR_BACKOFF_CAP_SECONDS: String(expected.backoff.capSeconds),
      });
      expect(referencedId(env.CONVEYOR_QUEUE_URL)).toBe(s.queueId);
      expect(referencedId(env.CONVEYOR_DLQ_URL)).toBe(s.deadLetterQueueId);
      expect(referencedId(env.CONVEYOR_STATUS_TABLE)).toBe(logicalId(stack.statusTable.table));
    }
  });

  it('tells the intake function every warehouse’s first queue', () => {
    const intake = json.Resources[logicalId(stack.orderApi.function)]!;
    expect(intake.Properties).toMatchObject({
      MemorySize: topology.intake.memoryMb,
      Timeout: topology.intake.timeoutSeconds,
    });
    const entryQueues = intake.Properties.Environment.Variables.CONVEYOR_ENTRY_QUEUES;
    const firstQueues = stages.filter((s) =>
      topology.pipelines.some((p) => p.id === s.pipelineId && p.stages[0]?.name === s.stage),
    );
    expect(referencesIn(entryQueues)).toEqual(new Set(firstQueues.map((s) => s.queueId)));
    // The handler parses it as JSON: {warehouseId: queueUrl}.
    expect(JSON.parse(renderString(entryQueues, (id) => `https://sqs.example/${id}`))).toEqual(
      Object.fromEntries(firstQueues.map((s) => [s.pipelineId, `https://sqs.example/${s.queueId}`])),
    );
  });
});

describe('order API', () => {
  const methods = resourcesOf(json, 'AWS::ApiGateway::Method');
  const method = (verb: string) => methods.find(([, m]) => m.Properties.HttpMethod === verb)![1];

  it('has POST /orders, GET /orders/{orderId} and DELETE /orders/{orderId} (cancel), all IAM-authorized Lambda proxy integrations of intake', () => {
    expect(methods.map(([, m]) => m.Properties.HttpMethod).sort()).toEqual(['DELETE', 'GET', 'POST']);
    const orderResource = referencedId(method('GET').Properties.ResourceId);
    expect(referencedId(method('DELETE').Properties.ResourceId)).toBe(orderResource);
    expect(json.Resources[orderResource]!.Properties.PathPart).toBe('{orderId}');
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'orders' });
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{orderId}' });
    for (const [, m] of methods) {
      expect(m.Properties.AuthorizationType).toBe('AWS_IAM');
      expect(m.Properties.Integration.Type).toBe('AWS_PROXY');
      expect(JSON.stringify(m.Properties.Integration.Uri)).toContain(logicalId(stack.orderApi.function));
    }
  });

  it('validates POST bodies against the order model (request-model.test.ts: what it accepts) and requires the orderId of GET and DELETE', () => {
    const post = method('POST');
    const validator = json.Resources[referencedId(post.Properties.RequestValidatorId)]!;
    expect(validator.Properties).toMatchObject({ ValidateRequestBody: true, ValidateRequestParameters: true });
    const model = json.Resources[referencedId(post.Properties.RequestModels['application/json'])]!;
    expect(model.Properties).toMatchObject({
      ContentType: 'application/json',
      Schema: { $schema: 'http://json-schema.org/draft-04/schema#' },
    });

    for (const verb of ['GET', 'DELETE']) {
      const byId = method(verb);
      expect(byId.Properties.RequestParameters, verb).toEqual({ 'method.request.path.orderId': true });
      expect(referencedId(byId.Properties.RequestValidatorId), verb).toBe(
        referencedId(post.Properties.RequestValidatorId),
      );
    }
    // A cancel has no body: nothing to model.
    expect(method('DELETE').Properties.RequestModels).toBeUndefined();
  });

  it('throttles, traces and writes JSON access logs and execution error logs on its stage', () => {
    const [, apiStage] = onlyResourceOf(json, 'AWS::ApiGateway::Stage');
    expect(apiStage.Properties.TracingEnabled).toBe(true);
    expect(JSON.stringify(apiStage.Properties.AccessLogSetting.DestinationArn)).toContain(
      logicalId(stack.orderApi.accessLogs),
    );
    expect(Object.keys(JSON.parse(apiStage.Properties.AccessLogSetting.Format))).toEqual(
      expect.arrayContaining([
        'requestId',
        'ip',
        'caller',
        'user',
        'requestTime',
        'httpMethod',
        'resourcePath',
        'status',
        'protocol',
        'responseLength',
      ]),
    );
    expect(apiStage.Properties.MethodSettings).toEqual([
      expect.objectContaining({
        ResourcePath: '/*',
        HttpMethod: '*',
        ThrottlingRateLimit: topology.api.throttleRateLimit,
        ThrottlingBurstLimit: topology.api.throttleBurstLimit,
        LoggingLevel: 'ERROR',
        DataTraceEnabled: false,
      }),
    ]);
  });

  it('leaves the account-wide API Gateway log role alone unless asked, and when asked sets and retains it before the stage', () => {
    expect(resourcesOf(json, 'AWS::ApiGateway::Account')).toEqual([]);
    const managed = synthConveyor(CDK_CONTEXT.conveyor, { manageApiGatewayAccountLogRole: true });
    const [accountId, account] = onlyResourceOf(managed.json, 'AWS::ApiGateway::Account');
    expect(account.DeletionPolicy).toBe('Retain');
    expect(managed.json.Resources[referencedId(account.Properties.CloudWatchRoleArn, 'Arn')]).toMatchObject({
      Type: 'AWS::IAM::Role',
      DeletionPolicy: 'Retain',
    });
    // API Gateway rejects a stage's logging settings until the account has a logging role.
    expect(onlyResourceOf(managed.json, 'AWS::ApiGateway::Stage')[1].DependsOn).toContain(accountId);
  });

  it('answers its own rejections in the handler’s JSON error shape', () => {
    const responses = Object.fromEntries(
      resourcesOf(json, 'AWS::ApiGateway::GatewayResponse').map(([, r]) => [r.Properties.ResponseType, r.Properties]),
    );
    expect(Object.keys(responses).sort()).toEqual(['BAD_REQUEST_BODY', 'DEFAULT_4XX', 'DEFAULT_5XX']);
    expect(responses.BAD_REQUEST_BODY.StatusCode).toBe('400');
    // Templates are not escaped: only $context.error.messageString (a quoted JSON string) may appear.
    for (const [type, response] of Object.entries(responses) as [string, Record<string, any>][]) {
      const template = response.ResponseTemplates['application/json'] as string;
      expect(template.replaceAll('$context.error.messageString', ''), type).not.toMatch(/\$context/);
      const parsed = JSON.parse(template.replaceAll('$context.error.messageString', '"Invalid request body"'));
      expect(parsed, type).toEqual({ error: expect.any(String), details: expect.any(Array) });
      for (const detail of parsed.details)
        expect(detail).toEqual({ field: expect.any(String), message: expect.any(String) });
    }
  });

  it('uses IAM authorization by default: no API key, usage plan or WAF association', () => {
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 0);
    template.resourceCountIs('AWS::ApiGateway::UsagePlan', 0);
    template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
  });
});

describe('status table', () => {
  it('is on-demand, keyed by orderId and sk, point-in-time recoverable, encrypted, retained and deletion-protected', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        // The ledger: an item collection per order.
        KeySchema: [
          { AttributeName: 'orderId', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        // The key's attributes, and the listing index's (test/infra/least-privilege.test.ts checks the index).
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: 'orderId', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ]),
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
      },
    });
  });
});

describe('outputs', () => {
  /** The manifest output as a deployment resolves it: references become `@logicalId` or `@logicalId.Attribute`. */
  const manifest = JSON.parse(
    resolveCfn(json.Outputs[StackOutput.topology]!.Value, ({ logicalId, attribute }) =>
      attribute ? `@${logicalId}.${attribute}` : `@${logicalId}`,
    ),
  ) as TopologyManifest;

  it('publishes the stack-wide values and one topology manifest, not an output per stage', () => {
    template.hasOutput(StackOutput.apiUrl, { Value: Match.anyValue() });
    expect(referencedId(json.Outputs[StackOutput.statusTable]!.Value)).toBe(logicalId(stack.statusTable.table));
    expect(Object.keys(json.Outputs).sort()).toEqual(
      [
        StackOutput.apiUrl,
        StackOutput.statusTable,
        StackOutput.alarmTopic,
        StackOutput.dashboardName,
        StackOutput.dashboardUrl,
        StackOutput.topology,
      ].sort(),
    );
    expect(readTopologyManifest(JSON.stringify(manifest))).toMatchObject({ ok: true });
  });

  it("lists every pipeline and stage of the topology in flow order, each with its own resources, followed through the template's references", () => {
    expect(manifest.pipelines.map((p) => [p.id, p.stages.map((s) => s.name)])).toEqual(
      topology.pipelines.map((p) => [p.id, p.stages.map((s) => s.name)]),
    );
    for (const s of stages) {
      const listed = manifest.pipelines.find((p) => p.id === s.pipelineId)!.stages.find((x) => x.name === s.stage)!;
      expect(listed).toEqual({
        name: s.stage,
        queueUrl: `@${s.queueId}`,
        queueArn: `@${s.queueId}.Arn`,
        dlqUrl: `@${s.deadLetterQueueId}`,
        dlqArn: `@${s.deadLetterQueueId}.Arn`,
        functionName: `@${s.functionId}`,
        eventSourceMappingUuid: `@${s.mappingId}`,
        logGroup: `@${referencedId(s.function.Properties.LoggingConfig.LogGroup)}`,
      });
    }
  });

  it('names the log groups the intake and the dead-letter auditor write to (what `conveyor trace` queries besides the stages)', () => {
    const logGroupOf = (fn: IConstruct) =>
      `@${referencedId(json.Resources[logicalId(fn)]!.Properties.LoggingConfig.LogGroup)}`;
    expect(manifest.logGroups).toEqual({
      intake: logGroupOf(stack.orderApi.function),
      deadLetterAuditor: logGroupOf(stack.deadLetterAuditor.function),
    });
  });

  it('says where the functions emit their metrics: the namespace and service their environment sets', () => {
    for (const s of stages) {
      const env = s.function.Properties.Environment.Variables as Record<string, string>;
      expect(manifest.metrics).toEqual({
        namespace: env.POWERTOOLS_METRICS_NAMESPACE,
        service: env.POWERTOOLS_SERVICE_NAME,
      });
    }
  });
});

describe('cdk destroy', () => {
  it('keeps the dead letters (each DLQ and its SSL-only policy) like the status table; work queues go', () => {
    for (const s of stages) {
      expect(json.Resources[s.deadLetterQueueId]).toMatchObject({
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
      });
      const [, policy] = resourcesOf(json, 'AWS::SQS::QueuePolicy').find(([, p]) =>
        p.Properties.Queues.some((q: unknown) => referencedId(q) === s.deadLetterQueueId),
      )!;
      expect(policy.DeletionPolicy).toBe('Retain');
      expect(s.queue.DeletionPolicy).toBe('Delete');
    }
  });
});
