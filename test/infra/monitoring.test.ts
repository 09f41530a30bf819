/**
 * Monitoring, proven from the template: every stage's alarms watch its own queue, DLQ and function
 * (found by following references from the event source mapping, never by names), with the
 * topology's thresholds; composites cover exactly their pipeline; every alarm notifies the one
 * encrypted, SSL-only topic; the dashboard shows every stage; the saved queries read the right logs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  API_ALARM_KINDS,
  IntakeMetric,
  intakeMetricDimensions,
  LogMessage,
  RETENTION_WARNING_SHARE,
  RUNBOOK,
  StackOutput,
  STAGE_ALARM_KINDS,
} from '../../lib/contract/index.ts';
import { statusTableOperations } from '../../lib/infra/permissions.ts';
import { findStage, loadTopology, TopologyError, type Stage, type Topology } from '../../lib/topology/index.ts';
import {
  asList,
  buildConveyor,
  CDK_CONTEXT,
  cleanupAssemblies,
  logicalId,
  onlyResourceOf,
  referencedId,
  referencesIn,
  renderString,
  resourcesOf,
  stagesInTemplate,
  synthConveyor,
  type CfnResource,
  type CfnTemplate,
  type TemplateStage,
} from '../support/cdk-app.ts';

afterAll(cleanupAssemblies);

const ALARM = 'AWS::CloudWatch::Alarm';
const COMPOSITE = 'AWS::CloudWatch::CompositeAlarm';

/** What one metric alarm watches, read from its template properties. */
interface Watched {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Record<string, unknown>;
  readonly stat: string;
  readonly period: number;
}

/** A plain metric alarm's metric; for a metric-math alarm, every metric its expression reads, by id. */
function watchedBy(alarm: CfnResource): { simple?: Watched; expression?: string; inputs: Record<string, Watched> } {
  const p = alarm.Properties;
  const dims = (list: { Name: string; Value: unknown }[] = []) =>
    Object.fromEntries(list.map((d) => [d.Name, d.Value]));
  if (p.MetricName) {
    return {
      simple: {
        namespace: p.Namespace,
        metricName: p.MetricName,
        dimensions: dims(p.Dimensions),
        stat: p.Statistic,
        period: p.Period,
      },
      inputs: {},
    };
  }
  const metrics = p.Metrics as Record<string, any>[];
  const returned = metrics.filter((m) => m.ReturnData !== false);
  expect(returned).toHaveLength(1);
  const inputs = Object.fromEntries(
    metrics
      .filter((m) => m.MetricStat)
      .map((m) => [
        m.Id,
        {
          namespace: m.MetricStat.Metric.Namespace,
          metricName: m.MetricStat.Metric.MetricName,
          dimensions: dims(m.MetricStat.Metric.Dimensions),
          stat: m.MetricStat.Stat,
          period: m.MetricStat.Period,
        },
      ]),
  );
  return { expression: returned[0]!.Expression, inputs };
}

const getAtt = (id: string, attribute: string) => ({ 'Fn::GetAtt': [id, attribute] });
const ref = (id: string) => ({ Ref: id });

/**
 * Evaluates a CloudWatch metric-math expression on single values, for the functions used here:
 * IF(condition, then, else) and FILL(series, value) (a missing value is `undefined`).
 */
function evaluate(expression: string, values: Record<string, number | undefined>): number {
  const js = expression.replaceAll('IF(', '__if(').replaceAll('FILL(', '__fill(');
  const ids = Object.keys(values);
  const fn = new Function('__if', '__fill', ...ids, `return (${js});`) as (...args: unknown[]) => number;
  return fn(
    (c: boolean, a: number, b: number) => (c ? a : b),
    (v: number | undefined, fill: number) => v ?? fill,
    ...ids.map((id) => values[id]),
  );
}

/** Every alarm of the template that watches one of `ids` (a queue, DLQ or function logical id), by kind of metric. */
function alarmsOn(json: CfnTemplate, id: string): [string, CfnResource][] {
  return resourcesOf(json, ALARM).filter(([, alarm]) =>
    referencesIn(alarm.Properties.Dimensions ?? alarm.Properties.Metrics).has(id),
  );
}

/** The one alarm on `resourceId`'s metric `metricName` (a plain alarm) — with `threshold`, when several watch it — or throws. */
function plainAlarm(
  json: CfnTemplate,
  resourceId: string,
  metricName: string,
  threshold?: number,
): [string, CfnResource] {
  const found = alarmsOn(json, resourceId).filter(
    ([, a]) =>
      a.Properties.MetricName === metricName && (threshold === undefined || a.Properties.Threshold === threshold),
  );
  expect(found, `${metricName} alarms on ${resourceId}`).toHaveLength(1);
  return found[0]!;
}

const DAY = 86_400;
/** A queue's messages near their retention: older than the warning share of it. */
const nearRetention = (days: number) => Math.round(days * DAY * RETENTION_WARNING_SHARE);

/** The stage's error-rate alarm: the metric-math alarm reading its function's Errors. */
function errorRateAlarm(json: CfnTemplate, s: TemplateStage): [string, CfnResource] {
  const found = alarmsOn(json, s.functionId).filter(([, a]) =>
    Object.values(watchedBy(a).inputs).some((m) => m.metricName === 'Errors'),
  );
  expect(found, `error-rate alarms of ${s.pipelineId}/${s.stage}`).toHaveLength(1);
  return found[0]!;
}

/** The logical ids of a stage's alarms, found through the resources they watch. */
function stageAlarmIds(json: CfnTemplate, s: TemplateStage, stage: Stage, topology: Topology): string[] {
  return [
    plainAlarm(json, s.deadLetterQueueId, 'ApproximateNumberOfMessagesVisible')[0],
    plainAlarm(json, s.queueId, 'ApproximateAgeOfOldestMessage', stage.alarms.maxAgeOfOldestMessageSeconds)[0],
    errorRateAlarm(json, s)[0],
    plainAlarm(json, s.functionId, 'Throttles')[0],
    plainAlarm(json, s.queueId, 'ApproximateAgeOfOldestMessage', nearRetention(topology.retention.queueDays))[0],
    plainAlarm(
      json,
      s.deadLetterQueueId,
      'ApproximateAgeOfOldestMessage',
      nearRetention(topology.retention.deadLetterDays),
    )[0],
  ];
}

describe('the default deployment', () => {
  const topology = loadTopology(CDK_CONTEXT.conveyor);
  const { stack, json } = synthConveyor();
  const stages = stagesInTemplate(json);
  const limitsOf = (s: TemplateStage) => findStage(topology, s.pipelineId, s.stage)!.alarms;
  const [topicId, topic] = onlyResourceOf(json, 'AWS::SNS::Topic');
  /** The circuit breakers' failure-rate alarms (test/infra/breaker.test.ts): they notify nobody either; the breaker function acts on them. */
  const breakerAlarmIds = new Set([...stack.breakers.alarms.values()].map((a) => logicalId(a)));

  describe('stage alarms', () => {
    it('alarms within a minute when the dead-letter queue of each stage holds a message (its redrive target, not its work queue)', () => {
      for (const s of stages) {
        const [, alarm] = plainAlarm(json, s.deadLetterQueueId, 'ApproximateNumberOfMessagesVisible');
        const watched = watchedBy(alarm).simple!;
        expect(watched).toMatchObject({
          namespace: 'AWS/SQS',
          dimensions: { QueueName: getAtt(s.deadLetterQueueId, 'QueueName') },
          stat: 'Maximum',
        });
        // One dead letter is enough, and the alarm may look at no more than a minute of data.
        expect(alarm.Properties).toMatchObject({
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: 'notBreaching',
        });
        expect(watched.period * alarm.Properties.EvaluationPeriods).toBeLessThanOrEqual(60);
        expect(alarm.Properties.DatapointsToAlarm ?? alarm.Properties.EvaluationPeriods).toBe(
          alarm.Properties.EvaluationPeriods,
        );
        expect(alarm.Properties.AlarmDescription).toContain(`${s.pipelineId}/${s.stage}`);
        expect(alarm.Properties.AlarmDescription).toContain(RUNBOOK.deadLetters);
        // The work queue's depth is a backlog signal, not a dead-letter alarm.
        expect(
          alarmsOn(json, s.queueId).filter(([, a]) => a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible'),
        ).toEqual([]);
      }
    });

    it('alarms when the oldest message of each stage queue is older than the topology allows', () => {
      for (const s of stages) {
        const limits = limitsOf(s);
        const [, alarm] = plainAlarm(
          json,
          s.queueId,
          'ApproximateAgeOfOldestMessage',
          limits.maxAgeOfOldestMessageSeconds,
        );
        expect(watchedBy(alarm).simple).toMatchObject({
          namespace: 'AWS/SQS',
          dimensions: { QueueName: getAtt(s.queueId, 'QueueName') },
          stat: 'Maximum',
          period: limits.periodSeconds,
        });
        expect(alarm.Properties).toMatchObject({
          Threshold: limits.maxAgeOfOldestMessageSeconds,
          ComparisonOperator: 'GreaterThanThreshold',
          EvaluationPeriods: limits.evaluationPeriods,
          TreatMissingData: 'notBreaching',
        });
        expect(alarm.Properties.AlarmDescription).toContain(RUNBOOK.backlog);
      }
    });

    it("alarms on each stage function's error rate: Errors / Invocations of that function, guarded against division by zero", () => {
      for (const s of stages) {
        const [, alarm] = errorRateAlarm(json, s);
        const limits = limitsOf(s);
        const { expression, inputs } = watchedBy(alarm);
        const byName = Object.fromEntries(Object.entries(inputs).map(([id, m]) => [m.metricName, { id, ...m }]));
        expect(Object.keys(byName).sort()).toEqual(['Errors', 'Invocations']);
        for (const m of Object.values(byName)) {
          expect(m).toMatchObject({
            namespace: 'AWS/Lambda',
            dimensions: { FunctionName: ref(s.functionId) },
            stat: 'Sum',
            period: limits.periodSeconds,
          });
        }
        const errors = byName.Errors!.id;
        const invocations = byName.Invocations!.id;
        // A percentage; no invocations is 0 %, not NaN or infinity; missing Errors counts as none.
        expect(evaluate(expression!, { [errors]: 2, [invocations]: 40 })).toBe(5);
        expect(evaluate(expression!, { [errors]: 0, [invocations]: 0 })).toBe(0);
        expect(evaluate(expression!, { [errors]: undefined, [invocations]: 10 })).toBe(0);
        expect(alarm.Properties).toMatchObject({
          Threshold: limits.maxErrorRatePercent,
          ComparisonOperator: 'GreaterThanThreshold',
          EvaluationPeriods: limits.evaluationPeriods,
          TreatMissingData: 'notBreaching',
        });
        expect(alarm.Properties.AlarmDescription).toContain(RUNBOOK.functionErrors);
      }
    });

    it('alarms when each stage function is throttled more than the topology allows', () => {
      for (const s of stages) {
        const [, alarm] = plainAlarm(json, s.functionId, 'Throttles');
        const limits = limitsOf(s);
        expect(watchedBy(alarm).simple).toEqual({
          namespace: 'AWS/Lambda',
          metricName: 'Throttles',
          dimensions: { FunctionName: ref(s.functionId) },
          stat: 'Sum',
          period: limits.periodSeconds,
        });
        expect(alarm.Properties).toMatchObject({
          Threshold: limits.maxThrottles,
          ComparisonOperator: 'GreaterThanThreshold',
          EvaluationPeriods: limits.evaluationPeriods,
          TreatMissingData: 'notBreaching',
        });
        expect(alarm.Properties.AlarmDescription).toContain(RUNBOOK.throttles);
      }
    });

    it('warns when the oldest message of each stage queue, and the oldest dead letter, nears its retention', () => {
      for (const s of stages) {
        for (const [queueId, days] of [
          [s.queueId, topology.retention.queueDays],
          [s.deadLetterQueueId, topology.retention.deadLetterDays],
        ] as const) {
          const [, alarm] = plainAlarm(json, queueId, 'ApproximateAgeOfOldestMessage', nearRetention(days));
          // Read the queue's retention from the template: the warning comes before SQS deletes anything.
          expect(alarm.Properties.Threshold).toBeLessThan(json.Resources[queueId]!.Properties.MessageRetentionPeriod);
          expect(watchedBy(alarm).simple).toMatchObject({
            namespace: 'AWS/SQS',
            dimensions: { QueueName: getAtt(queueId, 'QueueName') },
            stat: 'Maximum',
          });
          expect(alarm.Properties).toMatchObject({
            ComparisonOperator: 'GreaterThanThreshold',
            TreatMissingData: 'notBreaching',
          });
          expect(alarm.Properties.AlarmDescription).toContain(RUNBOOK.retention);
        }
      }
    });

    it('has one alarm per stage and rule plus the API-level alarms, each with a unique name saying which stage and what', () => {
      const alarms = resourcesOf(json, ALARM);
      expect(alarms).toHaveLength(
        STAGE_ALARM_KINDS.length * stages.length + API_ALARM_KINDS.length + breakerAlarmIds.size,
      );
      const names = alarms.map(([, a]) => a.Properties.AlarmName as string);
      expect(new Set(names).size).toBe(names.length);
      for (const s of stages) {
        const kinds = stageAlarmIds(json, s, findStage(topology, s.pipelineId, s.stage)!, topology).map(
          (id) => json.Resources[id]!.Properties.AlarmName,
        );
        expect(kinds).toEqual(STAGE_ALARM_KINDS.map((k) => `${stack.stackName}-${s.pipelineId}-${s.stage}-${k}`));
      }
    });
  });

  describe('composite alarms', () => {
    it('has one per pipeline, ALARM when any (OR) of exactly its stages’ alarms is', () => {
      const composites = resourcesOf(json, COMPOSITE);
      expect(composites).toHaveLength(topology.pipelines.length);
      for (const pipeline of topology.pipelines) {
        const expected = stages
          .filter((s) => s.pipelineId === pipeline.id)
          .flatMap((s) => stageAlarmIds(json, s, findStage(topology, s.pipelineId, s.stage)!, topology));
        expect(expected).toHaveLength(STAGE_ALARM_KINDS.length * pipeline.stages.length);
        const mine = composites.filter(([, c]) => c.Properties.AlarmName === `${stack.stackName}-${pipeline.id}`);
        expect(mine).toHaveLength(1);
        const rule = mine[0]![1].Properties.AlarmRule;
        expect(referencesIn(rule)).toEqual(new Set(expected));
        const rendered = renderString(rule, (id) => `arn:${id}`);
        expect(rendered).toMatch(/^\(ALARM\("arn:\w+"\)( OR ALARM\("arn:\w+"\))*\)$/);
        expect(mine[0]![1].Properties.AlarmDescription).toContain(pipeline.id);
      }
    });
  });

  describe('the alarm topic', () => {
    it('pages once per incident: the composites and the API-level alarms notify (ALARM and OK); stage alarms only feed the composites', () => {
      const stageAlarms = new Set(
        stages.flatMap((s) => stageAlarmIds(json, s, findStage(topology, s.pipelineId, s.stage)!, topology)),
      );
      const notifying = [...resourcesOf(json, ALARM), ...resourcesOf(json, COMPOSITE)].filter(
        ([id]) => !stageAlarms.has(id) && !breakerAlarmIds.has(id),
      );
      expect(notifying).toHaveLength(topology.pipelines.length + API_ALARM_KINDS.length);
      for (const [id, alarm] of notifying) {
        expect(alarm.Properties.AlarmActions, id).toEqual([ref(topicId)]);
        expect(alarm.Properties.OKActions, id).toEqual([ref(topicId)]);
        expect(alarm.Properties.ActionsEnabled ?? true, id).toBe(true);
      }
      for (const id of stageAlarms) {
        const p = json.Resources[id]!.Properties;
        expect(
          [p.AlarmActions, p.OKActions, p.InsufficientDataActions].flatMap((a) => a ?? []),
          id,
        ).toEqual([]);
      }
      expect(referencedId(json.Outputs[StackOutput.alarmTopic]!.Value)).toBe(topicId);
    });

    it('is encrypted with a rotated customer-managed key that CloudWatch alarms of this account may use', () => {
      const keyId = referencedId(topic.Properties.KmsMasterKeyId, 'Arn');
      const key = json.Resources[keyId]!;
      expect(key.Type).toBe('AWS::KMS::Key');
      expect(key.Properties.EnableKeyRotation).toBe(true);
      expect(key.Properties.KeyPolicy.Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          Condition: { StringEquals: { 'aws:SourceAccount': ref('AWS::AccountId') } },
        }),
      );
    });

    it('denies publishing without TLS and lets exactly this stack’s alarms publish', () => {
      const [, policy] = onlyResourceOf(json, 'AWS::SNS::TopicPolicy');
      expect(policy.Properties.Topics).toEqual([ref(topicId)]);
      const statements = asList<Record<string, any>>(policy.Properties.PolicyDocument.Statement);
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Principal: '*',
          Resource: ref(topicId),
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
      const allow = statements.find((st) => st.Effect === 'Allow')!;
      expect(allow).toMatchObject({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: ref(topicId),
      });
      // The SourceArn pattern must admit every alarm, or its notifications are silently refused.
      const pattern = renderString(allow.Condition.ArnLike['aws:SourceArn'], (id) => id);
      const namePattern = pattern.split(':alarm:')[1]!;
      const glob = new RegExp(`^${namePattern.replaceAll('*', '.*')}$`);
      for (const [id, alarm] of [...resourcesOf(json, ALARM), ...resourcesOf(json, COMPOSITE)]) {
        expect(alarm.Properties.AlarmName, id).toMatch(glob);
      }
      expect(glob.test('SomeOtherStack-wh-1-picking-backlog')).toBe(false);
    });

    it('has no subscription unless the topology names an email address', () => {
      expect(topology.alarms.email).toBeUndefined();
      expect(resourcesOf(json, 'AWS::SNS::Subscription')).toEqual([]);
    });
  });

  describe('the API-level alarms', () => {
    const settings = topology.api.alarms;
    const apiStageId = logicalId(stack.orderApi.api.deploymentStage);
    const apiDims = { ApiName: `${stack.stackName}-orders`, Stage: ref(apiStageId) };
    const intakeId = logicalId(stack.orderApi.function);
    const tableId = logicalId(stack.statusTable.table);
    /** The one alarm whose metrics (or metric-math inputs) include `metricName` on `resourceId`. */
    const alarmReading = (metricName: string, resourceId: string) => {
      const found = resourcesOf(json, ALARM).filter(([, a]) => {
        const w = watchedBy(a);
        return (
          [w.simple, ...Object.values(w.inputs)].some((m) => m?.metricName === metricName) &&
          referencesIn(a.Properties.Dimensions ?? a.Properties.Metrics).has(resourceId)
        );
      });
      expect(found, `alarms reading ${metricName} of ${resourceId}`).toHaveLength(1);
      return found[0]![1];
    };
    const judgedLike = (alarm: CfnResource, threshold: number) => {
      expect(alarm.Properties).toMatchObject({
        Threshold: threshold,
        EvaluationPeriods: settings.evaluationPeriods,
        TreatMissingData: 'notBreaching',
        ComparisonOperator: 'GreaterThanThreshold',
      });
      const w = watchedBy(alarm);
      for (const m of [w.simple, ...Object.values(w.inputs)].filter((x) => x !== undefined))
        expect(m!.period).toBe(settings.periodSeconds);
    };

    it('alarms on the 5xx rate of the API stage (ApiName and Stage), guarded against no traffic, as the topology says', () => {
      const apiAlarm = alarmReading('5XXError', apiStageId);
      const { expression, inputs } = watchedBy(apiAlarm);
      const byName = Object.fromEntries(Object.entries(inputs).map(([id, m]) => [m.metricName, { id, ...m }]));
      expect(Object.keys(byName).sort()).toEqual(['5XXError', 'Count']);
      for (const m of Object.values(byName))
        expect(m).toMatchObject({ namespace: 'AWS/ApiGateway', dimensions: apiDims, stat: 'Sum' });
      expect(evaluate(expression!, { [byName['5XXError']!.id]: 3, [byName.Count!.id]: 30 })).toBe(10);
      expect(evaluate(expression!, { [byName['5XXError']!.id]: undefined, [byName.Count!.id]: 0 })).toBe(0);
      judgedLike(apiAlarm, settings.maxServerErrorRatePercent);
      expect(apiAlarm.Properties.AlarmDescription).toContain(RUNBOOK.apiErrors);
    });

    it('alarms on the p99 latency of the API stage', () => {
      const alarm = alarmReading('Latency', apiStageId);
      expect(watchedBy(alarm).simple).toMatchObject({ namespace: 'AWS/ApiGateway', dimensions: apiDims });
      expect(alarm.Properties.ExtendedStatistic).toBe('p99');
      judgedLike(alarm, settings.maxLatencyP99Ms);
    });

    it("alarms on the intake function's error rate and throttles", () => {
      const errors = alarmReading('Errors', intakeId);
      const { expression, inputs } = watchedBy(errors);
      const byName = Object.fromEntries(Object.entries(inputs).map(([id, m]) => [m.metricName, id]));
      expect(evaluate(expression!, { [byName.Errors!]: 1, [byName.Invocations!]: 50 })).toBe(2);
      judgedLike(errors, settings.maxIntakeErrorRatePercent);
      judgedLike(alarmReading('Throttles', intakeId), settings.maxIntakeThrottles);
    });

    it('alarms on throttled requests and system errors of the status table, for every operation the functions perform', () => {
      for (const [metricName, threshold] of [
        ['ThrottledRequests', settings.maxTableThrottles],
        ['SystemErrors', settings.maxTableSystemErrors],
      ] as const) {
        const alarm = alarmReading(metricName, tableId);
        const operations = Object.values(watchedBy(alarm).inputs).map((m) => m.dimensions.Operation);
        expect(new Set(operations)).toEqual(new Set(statusTableOperations()));
        judgedLike(alarm, threshold);
        expect(alarm.Properties.AlarmDescription).toContain(RUNBOOK.statusTable);
      }
    });
  });

  describe('the dashboard', () => {
    const [, dashboard] = onlyResourceOf(json, 'AWS::CloudWatch::Dashboard');
    const body = JSON.parse(renderString(dashboard.Properties.DashboardBody, (id) => `@${id}`)) as {
      widgets: Widget[];
    };
    const metricWidgets = body.widgets.filter((w) => w.type === 'metric');
    const metrics = metricWidgets
      .flatMap((w) => (w.properties.metrics ?? []).map(parseMetricRow))
      .filter((m): m is DashboardMetric => m !== undefined);
    const has = (namespace: string, metricName: string, dimensions: Record<string, string>, stat?: string) =>
      metrics.some(
        (m) =>
          m.namespace === namespace &&
          m.metricName === metricName &&
          JSON.stringify(m.dimensions) === JSON.stringify(sorted(dimensions)) &&
          (stat === undefined || m.options.stat === stat),
      );

    it('is named after the stack and published as outputs', () => {
      expect(dashboard.Properties.DashboardName).toBe(stack.stackName);
      expect(json.Outputs[StackOutput.dashboardName]!.Value).toBe(stack.stackName);
      expect(renderString(json.Outputs[StackOutput.dashboardUrl]!.Value, (id) => `@${id}`)).toMatch(
        /^https:\/\/.*cloudwatch.*dashboards?\/dashboard\/Conveyor$/,
      );
    });

    it('shows the queue table, throughput and age of every stage queue and its DLQ', () => {
      for (const s of stages) {
        const queue = { QueueName: `@${s.queueId}` };
        for (const name of [
          'ApproximateNumberOfMessagesVisible',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateAgeOfOldestMessage',
          'NumberOfMessagesSent',
          'NumberOfMessagesDeleted',
        ]) {
          expect(has('AWS/SQS', name, queue), `${name} of ${s.pipelineId}/${s.stage}`).toBe(true);
        }
        expect(
          has('AWS/SQS', 'ApproximateNumberOfMessagesVisible', { QueueName: `@${s.deadLetterQueueId}` }),
          `DLQ depth of ${s.pipelineId}/${s.stage}`,
        ).toBe(true);
      }
    });

    it('shows invocations, errors, throttles, duration p50/p99 and concurrency of every stage function', () => {
      for (const s of stages) {
        const fn = { FunctionName: `@${s.functionId}` };
        for (const name of ['Invocations', 'Errors', 'Throttles', 'ConcurrentExecutions'])
          expect(has('AWS/Lambda', name, fn), `${name} of ${s.functionId}`).toBe(true);
        expect(has('AWS/Lambda', 'Duration', fn, 'p50')).toBe(true);
        expect(has('AWS/Lambda', 'Duration', fn, 'p99')).toBe(true);
      }
    });

    it("shows every stage's EMF metrics under the namespace and dimensions its function emits them with", () => {
      for (const s of stages) {
        const env = s.function.Properties.Environment.Variables as Record<string, string>;
        const dims = {
          service: env.POWERTOOLS_SERVICE_NAME!,
          pipeline: env.CONVEYOR_PIPELINE!,
          stage: env.CONVEYOR_STAGE!,
        };
        for (const name of [
          'Records',
          'Succeeded',
          'Failed',
          'DeadLettered',
          'Duplicates',
          'BatchSize',
          'BatchDuration',
        ]) {
          expect(has(env.POWERTOOLS_METRICS_NAMESPACE!, name, dims), `${name} of ${s.pipelineId}/${s.stage}`).toBe(
            true,
          );
        }
        expect(has(env.POWERTOOLS_METRICS_NAMESPACE!, 'OrderLatency', dims, 'p99')).toBe(s.nextQueueId === undefined);
      }
    });

    it('has an overview: orders accepted / delivered / dead-lettered / cancelled, API 4xx, 5xx and latency p50/p99, the status of every alarm', () => {
      const apiDims = {
        ApiName: `${stack.stackName}-orders`,
        Stage: `@${logicalId(stack.orderApi.api.deploymentStage)}`,
      };
      expect(has('AWS/ApiGateway', '4XXError', apiDims)).toBe(true);
      expect(has('AWS/ApiGateway', '5XXError', apiDims)).toBe(true);
      expect(has('AWS/ApiGateway', 'Latency', apiDims, 'p50')).toBe(true);
      expect(has('AWS/ApiGateway', 'Latency', apiDims, 'p99')).toBe(true);

      const overview = metricWidgets.find((w) => w.properties.view === 'singleValue')!;
      expect(overview.properties.setPeriodToTimeRange).toBe(true);
      const rows = overview.properties.metrics!.map(parseMetricRow);
      const expressions = overview.properties
        .metrics!.filter((r) => typeof r[0] === 'object')
        .map((r) => r[0] as { expression: string; label: string });
      expect(
        rows.some(
          (m) =>
            m?.metricName === 'OrdersAccepted' &&
            JSON.stringify(m.dimensions) === JSON.stringify({ service: stack.stackName }),
        ),
      ).toBe(true);
      // Delivered sums Succeeded of each pipeline's last stage; dead-lettered sums OrdersDeadLettered of every stage.
      const delivered = rows.filter((m) => m?.metricName === 'Succeeded').map((m) => m!.dimensions);
      expect(delivered).toEqual(
        topology.pipelines.map((p) => sorted({ service: stack.stackName, pipeline: p.id, stage: 'delivery' })),
      );
      expect(rows.filter((m) => m?.metricName === 'OrdersDeadLettered')).toHaveLength(stages.length);
      expect(expressions.map((e) => e.label).sort()).toEqual(['dead-lettered', 'delivered']);
      // Cancelled: what the intake counts when a DELETE applies (test/contract: the intake emits it).
      expect(rows.filter((m) => m?.metricName === IntakeMetric.OrdersCancelled).map((m) => m!.dimensions)).toEqual([
        intakeMetricDimensions(stack.stackName),
      ]);

      const status = body.widgets.filter((w) => w.type === 'alarm');
      const shown = status.flatMap((w) => (w.properties.alarms as string[]).map((a) => a.slice(1)));
      expect(new Set(shown)).toEqual(
        new Set([...resourcesOf(json, ALARM), ...resourcesOf(json, COMPOSITE)].map(([id]) => id)),
      );
      expect(shown).toHaveLength(new Set(shown).size);
    });

    it('gives each stage one row and keeps the layout readable', () => {
      for (const w of body.widgets) expect(w.x + w.width, JSON.stringify(w.properties.title)).toBeLessThanOrEqual(24);
      for (const s of stages) {
        const row = metricWidgets.filter((w) => String(w.properties.title).startsWith(`${s.pipelineId}/${s.stage} `));
        expect(row.length).toBeGreaterThanOrEqual(4);
        expect(new Set(row.map((w) => w.y)).size, `${s.pipelineId}/${s.stage} on one row`).toBe(1);
      }
    });
  });

  describe('saved Logs Insights queries', () => {
    const queries: Record<string, Record<string, any>> = Object.fromEntries(
      resourcesOf(json, 'AWS::Logs::QueryDefinition').map(([, q]) => [
        q.Properties.Name.split('/').slice(1).join('/'),
        q.Properties,
      ]),
    );
    const stageLogGroups = new Set(stages.map((s) => referencedId(s.function.Properties.LoggingConfig.LogGroup)));
    const intakeLogGroup = logicalId(stack.orderApi.intake.logGroup);
    const logGroupsOf = (q: Record<string, any>) => new Set(asList(q.LogGroupNames).map((g) => referencedId(g)));

    it('are saved under the stack name, over every stage log group (and the intake’s for an order’s journey)', () => {
      expect(Object.keys(queries).sort()).toEqual([
        'dead letters',
        'failures by orderId',
        "one order's journey (replace ORDER-ID)",
        'slowest batches',
      ]);
      for (const [name, q] of Object.entries(queries)) {
        expect(q.Name).toBe(`${stack.stackName}/${name}`);
        expect(logGroupsOf(q)).toEqual(
          name.startsWith('one order') ? new Set([...stageLogGroups, intakeLogGroup]) : stageLogGroups,
        );
      }
    });

    it("select the lines the stage runtime logs, by the contract's messages (test/contract proves the handlers print them)", () => {
      expect(queries['failures by orderId']!.QueryString).toContain(`"${LogMessage.recordRetried}"`);
      expect(queries['failures by orderId']!.QueryString).toContain(`"${LogMessage.recordDeadLettered}"`);
      expect(queries['failures by orderId']!.QueryString).toMatch(/stats .*by orderId/);
      expect(queries['slowest batches']!.QueryString).toContain(`message = "${LogMessage.batchProcessed}"`);
      expect(queries['slowest batches']!.QueryString).toMatch(/\| sort durationMs desc/);
      expect(queries['dead letters']!.QueryString).toContain(`message = "${LogMessage.recordDeadLettered}"`);
    });
  });
});

describe('a topology with an alarm email and tuned thresholds', () => {
  const { json } = synthConveyor({
    warehouses: ['wh-1', 'wh-2'],
    alarms: { email: 'oncall@example.com' },
    stages: { packing: { alarms: { maxAgeOfOldestMessageSeconds: 120 } } },
    pipelines: {
      'wh-2': {
        stages: {
          delivery: { alarms: { maxErrorRatePercent: 2.5, maxThrottles: 3, periodSeconds: 300, evaluationPeriods: 2 } },
        },
      },
    },
  });
  const stages = stagesInTemplate(json);
  const stage = (pipelineId: string, name: string) =>
    stages.find((s) => s.pipelineId === pipelineId && s.stage === name)!;

  const [topicId] = onlyResourceOf(json, 'AWS::SNS::Topic');

  it('subscribes the address to the alarm topic', () => {
    const [, subscription] = onlyResourceOf(json, 'AWS::SNS::Subscription');
    expect(subscription.Properties).toMatchObject({
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: ref(topicId),
    });
  });

  it('keeps notifications SNS could not deliver in an encrypted dead-letter queue, and alarms when it holds any', () => {
    const [, subscription] = onlyResourceOf(json, 'AWS::SNS::Subscription');
    const dlqId = referencedId(subscription.Properties.RedrivePolicy.deadLetterTargetArn, 'Arn');
    const dlq = json.Resources[dlqId]!;
    expect(dlq.Type).toBe('AWS::SQS::Queue');
    expect(dlq.Properties.SqsManagedSseEnabled).toBe(true);
    const policy = resourcesOf(json, 'AWS::SQS::QueuePolicy').find(([, p]) =>
      p.Properties.Queues.some((q: unknown) => referencedId(q) === dlqId),
    )![1];
    expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'sns.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Condition: { ArnEquals: { 'aws:SourceArn': ref(topicId) } },
      }),
    );
    const [, alarm] = plainAlarm(json, dlqId, 'ApproximateNumberOfMessagesVisible');
    expect(alarm.Properties).toMatchObject({
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [ref(topicId)],
      OKActions: [ref(topicId)],
    });
    expect(alarm.Properties.AlarmDescription).toContain('oncall@example.com');
  });

  it('applies a stage override in every warehouse', () => {
    for (const pipelineId of ['wh-1', 'wh-2']) {
      // The backlog alarm of each stage, found by the threshold its topology gives it.
      expect(
        plainAlarm(json, stage(pipelineId, 'packing').queueId, 'ApproximateAgeOfOldestMessage', 120)[1].Properties
          .AlarmName,
      ).toMatch(/-packing-backlog$/);
      expect(
        plainAlarm(json, stage(pipelineId, 'picking').queueId, 'ApproximateAgeOfOldestMessage', 600)[1].Properties
          .AlarmName,
      ).toMatch(/-picking-backlog$/);
    }
  });

  it('applies a per-warehouse override to that warehouse only: thresholds, period and evaluation periods', () => {
    const tuned = stage('wh-2', 'delivery');
    const errorRate = errorRateAlarm(json, tuned)[1];
    expect(errorRate.Properties).toMatchObject({ Threshold: 2.5, EvaluationPeriods: 2 });
    for (const m of Object.values(watchedBy(errorRate).inputs)) expect(m.period).toBe(300);
    expect(plainAlarm(json, tuned.functionId, 'Throttles')[1].Properties).toMatchObject({
      Threshold: 3,
      Period: 300,
      EvaluationPeriods: 2,
    });
    // Dead letters still alarm within a minute, whatever the stage's period.
    const deadLetters = plainAlarm(json, tuned.deadLetterQueueId, 'ApproximateNumberOfMessagesVisible')[1].Properties;
    expect(deadLetters.Period * deadLetters.EvaluationPeriods).toBeLessThanOrEqual(60);

    const untouched = stage('wh-1', 'delivery');
    expect(errorRateAlarm(json, untouched)[1].Properties).toMatchObject({ Threshold: 5, EvaluationPeriods: 3 });
    expect(plainAlarm(json, untouched.functionId, 'Throttles')[1].Properties).toMatchObject({
      Threshold: 0,
      Period: 60,
    });
  });
});

describe('alarm windows CloudWatch would refuse', () => {
  it('are a topology error at synth (printed as one clean line by bin/conveyor.ts), naming the stage and the fix', () => {
    const topology: unknown = {
      warehouses: ['wh-1'],
      pipelines: { 'wh-1': { stages: { packing: { alarms: { periodSeconds: 900, evaluationPeriods: 100 } } } } },
    };
    expect(() => loadTopology(topology)).not.toThrow();
    const error = thrownBy(() => buildConveyor(topology));
    expect(error).toBeInstanceOf(TopologyError);
    expect((error as Error).message).toMatch(
      /wh-1\/packing: periodSeconds 900 × evaluationPeriods 100 = 90000 s.*lower evaluationPeriods or periodSeconds/,
    );
  });
});

function thrownBy(build: () => unknown): unknown {
  try {
    build();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

interface Widget {
  readonly type: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly properties: {
    title?: string;
    view?: string;
    metrics?: unknown[][];
    alarms?: string[];
    setPeriodToTimeRange?: boolean;
  };
}

interface DashboardMetric {
  readonly namespace: string;
  readonly metricName: string;
  /** Sorted by name. */
  readonly dimensions: Record<string, string>;
  readonly options: Record<string, unknown>;
}

/** `[namespace, name, dim, value, …, {options}]` → a metric; a math-expression row → undefined. */
function parseMetricRow(row: unknown[]): DashboardMetric | undefined {
  if (typeof row[0] !== 'string') return undefined;
  const last = row[row.length - 1];
  const options = last !== null && typeof last === 'object' ? (last as Record<string, unknown>) : {};
  const parts = row.slice(2, typeof last === 'object' ? -1 : undefined) as string[];
  const dimensions: Record<string, string> = {};
  for (let i = 0; i < parts.length; i += 2) dimensions[parts[i]!] = parts[i + 1]!;
  return { namespace: row[0], metricName: row[1] as string, dimensions: sorted(dimensions), options };
}

function sorted(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}
