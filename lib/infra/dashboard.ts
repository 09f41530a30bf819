/**
 * ConveyorDashboard: one CloudWatch dashboard per deployment, named after the stack, laid out from
 * the topology:
 *
 *   ┌──────────────────────────────── title: where alarms go, runbook, saved queries ───────────────────────────────┐
 *   │ orders: accepted · delivered · dead-lettered │ API: requests · 4xx · 5xx          │ API latency p50 · p99      │
 *   │ alarm status: the alarms that notify (pipeline composites, API), ALARM first                                  │
 *   ├─ warehouse wh-1 ────────────────────────────────────────────────────────────────────────────────────────────────┤
 *   │ alarm status: wh-1's stage alarms and circuit breakers, ALARM first (at most 100 per widget, CloudWatch's limit)│
 *   │ picking  │ queue: ready · in flight · DLQ, age │ sent · deleted /min │ invocations · errors · throttles │ duration · concurrency │ records │ batches │
 *   │ packing  │ …                                                                                                    │
 *   │ delivery │ … (batches also show order latency: accepted → delivered)                                            │
 *   └─ and the same for every other warehouse ────────────────────────────────────────────────────────────────────────┘
 *
 * The queue graph is the queue table of `npx conveyor status` (ready / in flight / DLQ); graphs with
 * an alarm draw its threshold. Metrics come from monitoring.ts's builders, so graphs and alarms agree.
 */
import { Aws, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import type { Pipeline, Stage, Topology } from '../topology/index.ts';
import { IntakeMetric, RUNBOOK, StageMetric } from '../contract/index.ts';
import { errorRatePercent, intakeMetric, ordersAcceptedMetric, stageMetric } from './metrics.ts';
import { alarmsOf, type Monitoring } from './monitoring.ts';
import type { OrderApi } from './order-api.ts';
import type { PipelineStage } from './stage.ts';

export interface ConveyorDashboardProps {
  /** Pipelines and stages, in the order the dashboard lists them. */
  readonly topology: Topology;
  /** The stages to show, keyed by `stage.key` (ConveyorStack.stages). */
  readonly stages: ReadonlyMap<string, PipelineStage>;
  readonly orderApi: OrderApi;
  /** Alarms for the status widget and thresholds; the topic and queries for the title. */
  readonly monitoring: Monitoring;
  /**
   * The stages' circuit-breaker alarms, keyed by `stage.key`: shown with their pipeline's stage alarms.
   * @default none
   */
  readonly breakerAlarms?: ReadonlyMap<string, cloudwatch.IAlarm>;
  /**
   * Letters, digits, dashes and underscores.
   * @default the stack name
   */
  readonly dashboardName?: string;
}

/** Resolution of the graphs; CloudWatch coarsens it for long time ranges (period override: auto). */
const PERIOD = Duration.minutes(1);
const ROW_HEIGHT = 6;
/** Six graphs per stage row on CloudWatch's 24-column grid. */
const GRAPH_WIDTH = 4;
const FULL_WIDTH = 24;
/** CloudWatch shows at most this many alarms in one alarm-status widget. */
export const MAX_ALARMS_PER_STATUS_WIDGET = 100;

const { SUM, MAXIMUM, AVERAGE } = cloudwatch.Stats;
const P50 = cloudwatch.Stats.percentile(50);
const P99 = cloudwatch.Stats.percentile(99);

export class ConveyorDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  public readonly dashboardName: string;

  constructor(scope: Construct, id: string, props: ConveyorDashboardProps) {
    super(scope, id);
    const { topology, stages, orderApi, monitoring } = props;
    this.dashboardName = props.dashboardName ?? Stack.of(this).stackName;

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: this.dashboardName,
      defaultInterval: Duration.hours(3),
      periodOverride: cloudwatch.PeriodOverride.AUTO,
    });

    this.dashboard.addWidgets(titleWidget(this.dashboardName, monitoring));
    this.dashboard.addWidgets(ordersWidget(topology, monitoring.metricsService), ...apiWidgets(orderApi));
    this.dashboard.addWidgets(
      ...alarmStatusWidgets('Alarms that notify: pipelines and the API (ALARM first)', monitoring.notifyingAlarms),
    );

    for (const pipeline of topology.pipelines) {
      this.dashboard.addWidgets(pipelineHeading(pipeline));
      const stageAlarms = pipeline.stages.flatMap((s) =>
        monitoring.stageAlarms.has(s.key) ? alarmsOf(monitoring.stageAlarms.get(s.key)!) : [],
      );
      const breakerAlarms = pipeline.stages.flatMap((s) => props.breakerAlarms?.get(s.key) ?? []);
      const title = `${pipeline.id}: stage alarms (they feed the ${pipeline.id} composite)${breakerAlarms.length > 0 ? ' and circuit breakers (ALARM: the breaker opens)' : ''}; ALARM first`;
      this.dashboard.addWidgets(...alarmStatusWidgets(title, [...stageAlarms, ...breakerAlarms]));
      for (const stage of pipeline.stages) {
        const built = stages.get(stage.key);
        if (built) this.dashboard.addWidgets(...stageRow(built, monitoring.metricsService));
      }
    }
  }

  /** The dashboard in the CloudWatch console of the stack's region. */
  public get url(): string {
    return `https://console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards/dashboard/${this.dashboardName}`;
  }
}

function titleWidget(name: string, monitoring: Monitoring): cloudwatch.TextWidget {
  const runbook = Object.values(RUNBOOK)
    .map((entry) => `"${entry}"`)
    .join(', ');
  return new cloudwatch.TextWidget({
    markdown: [
      `# ${name}: Conveyor order pipeline`,
      `Orders flow through each warehouse's stages. The pipelines' composite alarms and the API alarms notify one SNS topic (stack output \`AlarmTopicArn\`); ` +
        "stage alarms feed their pipeline's composite and show here. " +
        `The README's runbook has an entry per alarm: ${runbook}. ` +
        `Logs Insights: saved queries under \`${monitoring.namePrefix}/\` (failures by orderId, dead letters, slowest batches, one order's journey).`,
    ].join('\n\n'),
    width: FULL_WIDTH,
    height: 2,
  });
}

/** Totals over the dashboard's time range, from the handlers' EMF metrics. */
function ordersWidget(topology: Topology, service: string): cloudwatch.SingleValueWidget {
  const lastStages = topology.pipelines.map((p) => p.stages[p.stages.length - 1]!);
  const allStages = topology.pipelines.flatMap((p) => p.stages);
  return new cloudwatch.SingleValueWidget({
    title: 'Orders (over the time range)',
    metrics: [
      ordersAcceptedMetric(service, { statistic: SUM, label: 'accepted' }),
      sumOf(
        'delivered',
        'delivered',
        lastStages.map((s) => stageMetric(service, s, StageMetric.Succeeded, { statistic: SUM })),
      ),
      sumOf(
        'deadLettered',
        'dead-lettered',
        allStages.map((s) => stageMetric(service, s, StageMetric.OrdersDeadLettered, { statistic: SUM })),
      ),
      intakeMetric(service, IntakeMetric.OrdersCancelled, { statistic: SUM, label: 'cancelled' }),
    ],
    setPeriodToTimeRange: true,
    width: 8,
    height: ROW_HEIGHT,
  });
}

function apiWidgets(orderApi: OrderApi): cloudwatch.GraphWidget[] {
  const stage = orderApi.api.deploymentStage;
  return [
    new cloudwatch.GraphWidget({
      title: 'API requests and errors',
      left: [
        stage.metricCount({ statistic: SUM, period: PERIOD, label: 'requests' }),
        stage.metricClientError({ statistic: SUM, period: PERIOD, label: '4XXError', color: cloudwatch.Color.ORANGE }),
        stage.metricServerError({ statistic: SUM, period: PERIOD, label: '5XXError', color: cloudwatch.Color.RED }),
      ],
      leftYAxis: { min: 0, showUnits: false },
      width: 8,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'API latency (ms)',
      left: [
        stage.metricLatency({ statistic: P50, period: PERIOD, label: 'latency p50' }),
        stage.metricLatency({ statistic: P99, period: PERIOD, label: 'latency p99' }),
        stage.metricIntegrationLatency({ statistic: P99, period: PERIOD, label: 'intake (integration) p99' }),
      ],
      leftYAxis: { min: 0, showUnits: false },
      width: 8,
      height: ROW_HEIGHT,
    }),
  ];
}

function pipelineHeading(pipeline: Pipeline): cloudwatch.TextWidget {
  return new cloudwatch.TextWidget({
    markdown: `## Warehouse ${pipeline.id}: ${pipeline.stages.map((s) => s.name).join(' → ')}`,
    width: FULL_WIDTH,
    height: 1,
    background: cloudwatch.TextWidgetBackground.TRANSPARENT,
  });
}

/** One row per stage: queue, throughput, function, its duration and concurrency, records, batches. */
function stageRow(built: PipelineStage, service: string): cloudwatch.GraphWidget[] {
  const { stage, queue, deadLetterQueue } = built;
  const fn = built.function;
  const limits = stage.alarms;
  const graph = (title: string, props: Omit<cloudwatch.GraphWidgetProps, 'title' | 'width' | 'height'>) =>
    new cloudwatch.GraphWidget({ title: `${stage.key} · ${title}`, width: GRAPH_WIDTH, height: ROW_HEIGHT, ...props });
  const isLast = stage.next === undefined;

  return [
    graph('queue', {
      left: [
        queue.metricApproximateNumberOfMessagesVisible({ statistic: MAXIMUM, period: PERIOD, label: 'ready' }),
        queue.metricApproximateNumberOfMessagesNotVisible({ statistic: MAXIMUM, period: PERIOD, label: 'in flight' }),
        deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          statistic: MAXIMUM,
          period: PERIOD,
          label: 'DLQ',
          color: cloudwatch.Color.RED,
        }),
      ],
      right: [
        queue.metricApproximateAgeOfOldestMessage({
          statistic: MAXIMUM,
          period: PERIOD,
          label: 'oldest (s)',
          color: cloudwatch.Color.GREY,
        }),
      ],
      rightAnnotations: [
        { value: limits.maxAgeOfOldestMessageSeconds, label: 'backlog alarm', color: cloudwatch.Color.GREY },
      ],
      leftYAxis: { min: 0, showUnits: false },
      rightYAxis: { min: 0, showUnits: false },
    }),
    graph('messages / min', {
      left: [
        perMinute('sent', queue.metricNumberOfMessagesSent({ statistic: SUM, period: PERIOD }), 'sent'),
        perMinute('deleted', queue.metricNumberOfMessagesDeleted({ statistic: SUM, period: PERIOD }), 'deleted (done)'),
      ],
      leftYAxis: { min: 0, showUnits: false },
    }),
    graph('invocations', {
      left: [
        fn.metricInvocations({ statistic: SUM, period: PERIOD, label: 'invocations' }),
        fn.metricErrors({ statistic: SUM, period: PERIOD, label: 'errors', color: cloudwatch.Color.RED }),
        fn.metricThrottles({ statistic: SUM, period: PERIOD, label: 'throttles', color: cloudwatch.Color.ORANGE }),
      ],
      right: [errorRatePercent(fn, PERIOD)],
      rightAnnotations: [{ value: limits.maxErrorRatePercent, label: 'error-rate alarm', color: cloudwatch.Color.RED }],
      leftYAxis: { min: 0, showUnits: false },
      rightYAxis: { min: 0, max: 100, showUnits: false },
    }),
    graph('duration (ms) · concurrency', {
      left: [
        fn.metricDuration({ statistic: P50, period: PERIOD, label: 'duration p50' }),
        fn.metricDuration({ statistic: P99, period: PERIOD, label: 'duration p99' }),
      ],
      right: [fn.metric('ConcurrentExecutions', { statistic: MAXIMUM, period: PERIOD, label: 'concurrent' })],
      leftAnnotations: [{ value: stage.timeoutSeconds * 1000, label: 'timeout', color: cloudwatch.Color.RED }],
      rightAnnotations: [{ value: stage.maxConcurrency, label: 'max concurrency', color: cloudwatch.Color.GREY }],
      leftYAxis: { min: 0, showUnits: false },
      rightYAxis: { min: 0, showUnits: false },
    }),
    graph('records', {
      left: [
        stageMetric(service, stage, StageMetric.Records, { statistic: SUM, period: PERIOD, label: 'records' }),
        stageMetric(service, stage, StageMetric.Succeeded, {
          statistic: SUM,
          period: PERIOD,
          label: 'succeeded',
          color: cloudwatch.Color.GREEN,
        }),
        stageMetric(service, stage, StageMetric.Failed, {
          statistic: SUM,
          period: PERIOD,
          label: 'retried',
          color: cloudwatch.Color.ORANGE,
        }),
        stageMetric(service, stage, StageMetric.DeadLettered, {
          statistic: SUM,
          period: PERIOD,
          label: 'dead-lettered',
          color: cloudwatch.Color.RED,
        }),
        stageMetric(service, stage, StageMetric.Duplicates, {
          statistic: SUM,
          period: PERIOD,
          label: 'duplicates',
          color: cloudwatch.Color.GREY,
        }),
      ],
      leftYAxis: { min: 0, showUnits: false },
    }),
    graph(isLast ? 'batches · order latency (ms)' : 'batches (size · ms)', {
      left: [
        stageMetric(service, stage, StageMetric.BatchSize, {
          statistic: AVERAGE,
          period: PERIOD,
          label: 'batch size avg',
        }),
        stageMetric(service, stage, StageMetric.BatchSize, {
          statistic: MAXIMUM,
          period: PERIOD,
          label: 'batch size max',
        }),
      ],
      right: [
        stageMetric(service, stage, StageMetric.BatchDuration, {
          statistic: P50,
          period: PERIOD,
          label: 'batch ms p50',
        }),
        stageMetric(service, stage, StageMetric.BatchDuration, {
          statistic: P99,
          period: PERIOD,
          label: 'batch ms p99',
        }),
        ...(isLast ? orderLatency(stage, service) : []),
      ],
      leftYAxis: { min: 0, showUnits: false },
      rightYAxis: { min: 0, showUnits: false },
    }),
  ];
}

/** Acceptance to delivery, per delivered order (emitted by the last stage only). */
function orderLatency(stage: Stage, service: string): cloudwatch.Metric[] {
  return [
    stageMetric(service, stage, StageMetric.OrderLatency, {
      statistic: P50,
      period: PERIOD,
      label: 'order latency p50',
    }),
    stageMetric(service, stage, StageMetric.OrderLatency, {
      statistic: P99,
      period: PERIOD,
      label: 'order latency p99',
    }),
  ];
}

/** A count as a rate per minute, whatever period CloudWatch picks for the time range. */
function perMinute(id: string, metric: cloudwatch.Metric, label: string): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: `${id} * 60 / PERIOD(${id})`,
    usingMetrics: { [id]: metric },
    label,
    period: PERIOD,
  });
}

/** The sum of several counts; a series without data counts as 0 rather than blanking the total. */
function sumOf(idPrefix: string, label: string, metrics: cloudwatch.IMetric[]): cloudwatch.MathExpression {
  const usingMetrics = Object.fromEntries(metrics.map((m, i) => [`${idPrefix}${i}`, m]));
  return new cloudwatch.MathExpression({
    expression: Object.keys(usingMetrics)
      .map((id) => `FILL(${id}, 0)`)
      .join(' + '),
    usingMetrics,
    label,
  });
}

/** Alarm-status widgets for `alarms`, as many as CloudWatch's limit per widget needs, ALARM first. */
function alarmStatusWidgets(title: string, alarms: cloudwatch.IAlarm[]): cloudwatch.AlarmStatusWidget[] {
  const widgets: cloudwatch.AlarmStatusWidget[] = [];
  for (let i = 0; i < alarms.length; i += MAX_ALARMS_PER_STATUS_WIDGET) {
    const chunk = alarms.slice(i, i + MAX_ALARMS_PER_STATUS_WIDGET);
    widgets.push(
      new cloudwatch.AlarmStatusWidget({
        title:
          alarms.length > MAX_ALARMS_PER_STATUS_WIDGET ? `${title} (${i / MAX_ALARMS_PER_STATUS_WIDGET + 1})` : title,
        alarms: chunk,
        sortBy: cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
        width: FULL_WIDTH,
        // Roughly four alarm tiles per line.
        height: Math.min(2 + Math.ceil(chunk.length / 4), 12),
      }),
    );
  }
  return widgets;
}
