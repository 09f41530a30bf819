/**
 * Runs the deployed handler bundles as the synthesized template configures them — every environment
 * variable read from the template, resource references pointed at local emulators — drives orders
 * through intake and every stage (plus a poison message and an injected transient failure), and
 * captures what they print: the EMF metrics and the log lines CloudWatch would ingest.
 */
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { bundleHandlers } from '../../lib/build/handler-bundle.ts';
import { DEAD_LETTER_AUDITOR_HANDLER } from '../../lib/infra/dead-letter-auditor.ts';
import { tracingAttributes } from '../../lib/runtime/attributes.ts';
import { toApiGatewayEvent, toSqsRecord } from '../../lib/local/lambda-events.ts';
import { LocalFunction } from '../../lib/local/local-function.ts';
import { findStage, loadTopology, type Topology } from '../../lib/topology/index.ts';
import { resolveCfn, stagesInTemplate, type CfnTemplate, type TemplateStage } from '../support/cdk-app.ts';
import { REGION, startLocalAws, type LocalAws } from '../support/local-aws.ts';
import { startRecordingProxy, type RecordedCall, type RecordingProxy } from './recording-proxy.ts';

/** One metric as CloudWatch stores it: namespace, name and the dimension values it was emitted with. */
export interface MetricId {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

export interface EmittedLine {
  /** The function (logical id) that printed it. */
  readonly functionId: string;
  readonly fields: Readonly<Record<string, unknown>>;
  /** The line exactly as printed (what CloudWatch Logs stores as `@message`). */
  readonly raw: string;
}

/** One AWS API call a function made, as the emulator received it. */
export interface EmittedCall {
  readonly functionId: string;
  readonly service: 'sqs' | 'dynamodb';
  readonly call: RecordedCall;
}

export interface Emitted {
  readonly metrics: readonly MetricId[];
  readonly calls: readonly EmittedCall[];
  readonly logs: readonly EmittedLine[];
  /** An order accepted, failed in the first stage, retried, then dead-lettered (its journey has lines in both). */
  readonly retriedOrderId: string;
  /** An order whose message SQS's redrive policy moved to the first stage's DLQ, recorded by the auditor. */
  readonly movedOrderId: string;
  readonly intakeId: string;
  readonly auditorId: string;
  /** The logical id of each local queue (by its URL's path) and table (by name) the functions were given. */
  readonly logicalIds: ReadonlyMap<string, string>;
}

/** `Conveyor|Succeeded|{"pipeline":"wh-1",…}`: equal keys, equal metrics. */
export function metricKey(metric: MetricId): string {
  const dimensions = Object.fromEntries(Object.entries(metric.dimensions).sort(([a], [b]) => a.localeCompare(b)));
  return `${metric.namespace}|${metric.name}|${JSON.stringify(dimensions)}`;
}

/** The metrics of one EMF document (every metric under every dimension set it declares). */
export function metricsOfEmf(document: Record<string, unknown>): MetricId[] {
  const directives =
    (
      document._aws as
        | { CloudWatchMetrics?: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }> }
        | undefined
    )?.CloudWatchMetrics ?? [];
  return directives.flatMap((d) =>
    d.Dimensions.flatMap((set) =>
      d.Metrics.map((m) => ({
        namespace: d.Namespace,
        name: m.Name,
        dimensions: Object.fromEntries(set.map((name) => [name, String(document[name])])),
      })),
    ),
  );
}

type Deploy = (functionId: string, extraEnvironment?: Record<string, string>) => Promise<LocalFunction>;

/** Where the deployed functions run and what they leave behind. */
interface LocalDeployment {
  readonly deploy: Deploy;
  readonly printed: EmittedLine[];
  readonly calls: () => EmittedCall[];
  /** Waits (bounded) until the functions have printed nothing for a moment: a worker's output trails its invocation's answer. */
  quiet(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Deploys functions of the template locally, each as its own LocalFunction with the template's
 * environment, reaching SQS and DynamoDB through recording proxies of its own.
 */
async function localDeployment(
  json: CfnTemplate,
  local: LocalAws,
  handlerOf: (functionId: string) => string,
  bundles: ReadonlyMap<string, string>,
): Promise<LocalDeployment> {
  const printed: EmittedLine[] = [];
  const functions: LocalFunction[] = [];
  const proxies: Array<{ functionId: string; service: EmittedCall['service']; proxy: RecordingProxy }> = [];
  const recorded = async (functionId: string, service: EmittedCall['service'], upstream: string) => {
    const proxy = await startRecordingProxy(upstream);
    proxies.push({ functionId, service, proxy });
    return proxy.url;
  };
  const deploy: Deploy = async (id, extra = {}) => {
    const resource = json.Resources[id]!;
    const endpoints = {
      AWS_ENDPOINT_URL_SQS: await recorded(id, 'sqs', local.awsEnvironment.AWS_ENDPOINT_URL_SQS!),
      AWS_ENDPOINT_URL_DYNAMODB: await recorded(id, 'dynamodb', local.awsEnvironment.AWS_ENDPOINT_URL_DYNAMODB!),
    };
    // The SDK sends SQS calls to the host of the queue URL: the function's queue URLs point at its proxy too.
    const sqsOrigin = new URL(local.awsEnvironment.AWS_ENDPOINT_URL_SQS!).origin;
    const environment = Object.fromEntries(
      Object.entries(lambdaEnvironment(json, local, id)).map(([k, v]) => [
        k,
        v.replaceAll(sqsOrigin, endpoints.AWS_ENDPOINT_URL_SQS),
      ]),
    );
    const spec = {
      name: id,
      handlerModule: bundles.get(handlerOf(id))!,
      environment: { ...environment, ...endpoints, ...extra },
      timeoutSeconds: resource.Properties.Timeout,
      memoryMb: resource.Properties.MemorySize,
      maxConcurrency: 1,
      region: REGION,
    };
    const fn = new LocalFunction(spec, (line) => {
      if (!line.startsWith('{')) return;
      try {
        printed.push({ functionId: id, fields: JSON.parse(line) as Record<string, unknown>, raw: line });
      } catch {
        // Not a JSON line: neither a metric nor a structured log.
      }
    });
    functions.push(fn);
    return fn;
  };
  return {
    deploy,
    printed,
    calls: () =>
      proxies.flatMap(({ functionId, service, proxy }) => proxy.calls.map((call) => ({ functionId, service, call }))),
    async quiet() {
      const deadline = Date.now() + 5_000;
      for (let seen = -1; seen !== printed.length && Date.now() < deadline; ) {
        seen = printed.length;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    async close() {
      await Promise.all(functions.map((fn) => fn.close()));
      await Promise.all(proxies.map(({ proxy }) => proxy.close()));
    },
  };
}

/**
 * Runs the scenario and returns what was printed.
 * @param topologyInput the topology the template was synthesized from (the emulators get the same queues).
 * @param intakeId logical id of the intake function in `json`.
 * @param auditorId logical id of the dead-letter auditor function in `json`.
 */
export async function runDeployedHandlers(
  json: CfnTemplate,
  topologyInput: unknown,
  intakeId: string,
  auditorId: string,
): Promise<Emitted> {
  const topology = loadTopology(topologyInput);
  const local = await startLocalAws(topologyInput);
  const outDir = fileURLToPath(new URL(`../../node_modules/.cache/conveyor/contract-${process.pid}/`, import.meta.url));
  let deployment: LocalDeployment | undefined;
  try {
    const stages = stagesInTemplate(json);
    const handlerOf = (id: string) => {
      const stage = stages.find((s) => s.functionId === id);
      return stage
        ? findStage(topology, stage.pipelineId, stage.stage)!.handler
        : id === auditorId
          ? DEAD_LETTER_AUDITOR_HANDLER
          : 'intake';
    };
    const bundles = await bundleHandlers(
      [...new Set([intakeId, auditorId, ...stages.map((s) => s.functionId)].map(handlerOf))],
      outDir,
    );
    deployment = await localDeployment(json, local, handlerOf, bundles);
    const retriedOrderId = await driveOrders(deployment.deploy, local, topology, stages, intakeId);
    const movedOrderId = await moveAndAudit(deployment.deploy, local, topology, auditorId);
    await deployment.quiet();
    return {
      metrics: deployment.printed.filter((l) => '_aws' in l.fields).flatMap((l) => metricsOfEmf(l.fields)),
      calls: deployment.calls(),
      logs: deployment.printed.filter((l) => typeof l.fields.message === 'string'),
      retriedOrderId,
      movedOrderId,
      intakeId,
      auditorId,
      logicalIds: new Map(
        [...localCounterparts(json, local)].map(([id, value]) => [
          value.startsWith('http') ? new URL(value).pathname : value,
          id,
        ]),
      ),
    };
  } finally {
    await deployment?.close();
    await local.stop();
    rmSync(outDir, { recursive: true, force: true });
  }
}

/**
 * Orders through intake and every stage of every pipeline; then, in the first stage, a poison
 * message and an order that fails transiently on its first receive and again on its last (so it is
 * retried, then dead-lettered), which is then cancelled. Returns that order's id.
 */
async function driveOrders(
  deploy: Deploy,
  local: LocalAws,
  topology: Topology,
  stages: TemplateStage[],
  intakeId: string,
): Promise<string> {
  const functionOf = (pipelineId: string, stage: string) =>
    stages.find((x) => x.pipelineId === pipelineId && x.stage === stage)!.functionId;
  const intake = await deploy(intakeId);
  const orders = topology.pipelines.flatMap((p, i) =>
    [0, 1].map((n) => ({
      orderId: `contract-${i}-${n}`,
      warehouseId: p.id,
      items: [{ sku: `SKU-${n + 1}`, quantity: n + 1 }],
    })),
  );
  await expectOk(intake.invoke(post({ orders: [...orders, { warehouseId: topology.pipelines[0]!.id, items: [] }] })));
  for (const pipeline of topology.pipelines) {
    for (const stage of pipeline.stages)
      await invokeWithQueue(await deploy(functionOf(pipeline.id, stage.name)), local, pipeline.id, stage.name);
  }

  const first = topology.pipelines[0]!;
  const stage = first.stages[0]!;
  await local.sqs.send(
    new SendMessageCommand({ QueueUrl: local.stage(first.id, stage.name).queueUrl, MessageBody: 'not json' }),
  );
  await invokeWithQueue(await deploy(functionOf(first.id, stage.name)), local, first.id, stage.name);
  const retriedOrderId = 'contract-retried';
  await expectOk(
    intake.invoke(post({ orderId: retriedOrderId, warehouseId: first.id, items: [{ sku: 'SKU-9', quantity: 1 }] })),
  );
  const failing = await deploy(functionOf(first.id, stage.name), { CONVEYOR_CHAOS: `${stage.name}:1` });
  const records = await invokeWithQueue(failing, local, first.id, stage.name);
  const lastReceive = String(stage.maxReceiveCount);
  await expectOk(
    failing.invoke({
      Records: records.map((r) => ({ ...r, attributes: { ...r.attributes, ApproximateReceiveCount: lastReceive } })),
    }),
  );
  // Dead-lettered now: cancelled through the API (the intake counts it, out of the dead letters).
  const cancel = await intake.invoke(
    toApiGatewayEvent({
      method: 'DELETE',
      resource: '/orders/{orderId}',
      path: `/orders/${retriedOrderId}`,
      pathParameters: { orderId: retriedOrderId },
    }),
  );
  if (!cancel.ok || (cancel.response as { statusCode?: number }).statusCode !== 200)
    throw new Error(`cancelling ${retriedOrderId} failed: ${JSON.stringify(cancel)}`);
  return retriedOrderId;
}

/**
 * A message SQS's redrive policy moved to the first stage's DLQ (it carries the order id, and no
 * reason: nobody reported it), then one run of the dead-letter auditor, which records it. Returns
 * that order's id.
 */
async function moveAndAudit(deploy: Deploy, local: LocalAws, topology: Topology, auditorId: string): Promise<string> {
  const movedOrderId = 'contract-moved';
  const first = topology.pipelines[0]!;
  const stage = first.stages[0]!;
  await local.sqs.send(
    new SendMessageCommand({
      QueueUrl: local.stage(first.id, stage.name).deadLetterQueueUrl,
      MessageBody: JSON.stringify({
        v: 1,
        order: { orderId: movedOrderId, warehouseId: first.id, items: [{ sku: 'SKU-1', quantity: 1 }] },
      }),
      MessageAttributes: tracingAttributes(movedOrderId, 'trace-moved'),
    }),
  );
  await expectOk(
    (await deploy(auditorId)).invoke({ source: 'aws.scheduler', 'detail-type': 'Scheduled Event', detail: {} }),
  );
  return movedOrderId;
}

/**
 * The function's environment exactly as the template sets it, references resolved to the local
 * emulators, plus what Lambda itself adds: region, credentials (endpoints, locally), the log level
 * of its logging config, and a trace header when tracing is active.
 */
function lambdaEnvironment(json: CfnTemplate, local: LocalAws, functionId: string): Record<string, string> {
  const localUrls = localCounterparts(json, local);
  const fn = json.Resources[functionId]!.Properties;
  const variables = Object.fromEntries(
    Object.entries(fn.Environment.Variables as Record<string, unknown>).map(([name, value]) => [
      name,
      resolveCfn(value, ({ logicalId }) => {
        const url = localUrls.get(logicalId);
        if (url === undefined)
          throw new Error(`${functionId}'s ${name} refers to ${logicalId}, which has no local counterpart`);
        return url;
      }),
    ]),
  );
  return {
    ...variables,
    ...local.awsEnvironment,
    AWS_LAMBDA_LOG_LEVEL: fn.LoggingConfig?.ApplicationLogLevel ?? 'INFO',
    ...(fn.TracingConfig?.Mode === 'Active'
      ? { _X_AMZN_TRACE_ID: 'Root=1-67a0b0c0-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1' }
      : {}),
  };
}

/** Logical id of each queue and table in the template → its local counterpart (queue URL, table name). */
function localCounterparts(json: CfnTemplate, local: LocalAws): Map<string, string> {
  const counterparts = new Map<string, string>();
  for (const s of stagesInTemplate(json)) {
    counterparts.set(s.queueId, local.stage(s.pipelineId, s.stage as never).queueUrl);
    counterparts.set(s.deadLetterQueueId, local.stage(s.pipelineId, s.stage as never).deadLetterQueueUrl);
  }
  for (const [id, resource] of Object.entries(json.Resources))
    if (resource.Type === 'AWS::DynamoDB::Table') counterparts.set(id, local.resources.tableName);
  return counterparts;
}

/** Everything waiting in the stage's queue, as one SQS event to its function; returns the records. */
async function invokeWithQueue(
  fn: LocalFunction,
  local: LocalAws,
  pipelineId: string,
  stage: string,
): Promise<SQSRecord[]> {
  const resources = local.stage(pipelineId, stage as never);
  const messages = await local.drain(resources.queueUrl);
  if (messages.length === 0) throw new Error(`nothing reached ${pipelineId}/${stage}`);
  const records = messages.map((m) => toSqsRecord(m, resources.queueArn, REGION));
  await expectOk(fn.invoke({ Records: records }));
  return records;
}

function post(body: unknown) {
  return toApiGatewayEvent({
    method: 'POST',
    resource: '/orders',
    path: '/orders',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function expectOk(result: Promise<Awaited<ReturnType<LocalFunction['invoke']>>>): Promise<void> {
  const outcome = await result;
  if (!outcome.ok) throw new Error(`invocation failed (${outcome.kind}): ${outcome.message}`);
}
