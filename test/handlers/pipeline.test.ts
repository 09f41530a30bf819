/**
 * The deployed handler modules, loaded as Lambda loads them — configured only by environment
 * variables — and driven with AWS-shaped events against the embedded emulators: an order goes
 * from the API through picking, packing and delivery, exactly as the event source mappings
 * would carry it. Also checks what the handlers print: structured logs and EMF metrics.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { DeliveryInput } from '../../lib/domain/messages.ts';
import { TRACKING_NUMBER_PATTERN } from '../../lib/domain/delivery.ts';
import { invokeAndSettle } from '../../lib/local/event-source.ts';
import { toApiGatewayEvent } from '../../lib/local/lambda-events.ts';
import type { StageName } from '../../lib/topology/index.ts';
import { startLocalAws, type LocalAws } from '../support/local-aws.ts';
import { context, enqueue, receive } from '../support/orders.ts';

type StageModule = { handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> };
type ApiModule = { handler: (event: APIGatewayProxyEvent, context?: Context) => Promise<APIGatewayProxyResult> };

let aws: LocalAws;
let intake: ApiModule['handler'];
const stages: Record<string, StageModule['handler']> = {};
const printed: string[] = [];

/** Loads a handler module the way Lambda does: a fresh module, its environment already set. */
async function load<T>(module: string, environment: Record<string, string>): Promise<T> {
  for (const name of Object.keys(process.env)) if (name.startsWith('CONVEYOR_')) delete process.env[name];
  Object.assign(process.env, aws.awsEnvironment, environment, {
    POWERTOOLS_LOG_LEVEL: 'INFO',
    POWERTOOLS_METRICS_DISABLED: 'false',
  });
  vi.resetModules();
  return (await import(module)) as T;
}

beforeAll(async () => {
  aws = await startLocalAws();
  // Powertools writes INFO/WARN and EMF to stdout, ERROR to stderr.
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, 'write').mockImplementation((chunk) => {
      printed.push(String(chunk));
      return true;
    });
  }
  intake = (await load<ApiModule>('../../handlers/intake.ts', aws.intakeEnvironment())).handler;
  for (const name of ['picking', 'packing', 'delivery'] as const) {
    stages[name] = (await load<StageModule>(`../../handlers/${name}.ts`, aws.stageEnvironment('wh-1', name))).handler;
  }
});
afterAll(async () => {
  vi.restoreAllMocks();
  await aws?.stop();
});

/** One turn of the event source mapping of a stage: receive a batch, invoke, settle. */
async function runStage(name: StageName) {
  const stage = aws.stage('wh-1', name);
  const records = await receive(aws.sqs, stage);
  return invokeAndSettle(aws.sqs, stage.queueUrl, records, stages[name] as StageModule['handler'], context());
}

const post = (body: unknown) =>
  intake(
    toApiGatewayEvent({
      method: 'POST',
      path: '/orders',
      resource: '/orders',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
    context(),
  );
const get = async (orderId: string) => {
  const response = await intake(
    toApiGatewayEvent({
      method: 'GET',
      path: `/orders/${orderId}`,
      resource: '/orders/{orderId}',
      pathParameters: { orderId },
    }),
    context(),
  );
  return { statusCode: response.statusCode, body: JSON.parse(response.body) };
};

describe('the handler modules, end to end', () => {
  it('carry orders from the API to delivered, with a history entry per stage', async () => {
    const orders = Array.from({ length: 12 }, (_, i) => ({
      orderId: `e2e-${i}`,
      warehouseId: 'wh-1',
      priority: i % 3 === 0 ? 'express' : 'standard',
      items: [
        { sku: `SKU-${i % 4}`, quantity: 1 + i },
        { sku: 'SKU-COMMON', quantity: 2 },
      ],
    }));
    expect((await post({ orders })).statusCode).toBe(202);

    for (const name of ['picking', 'packing', 'delivery'] as const) {
      const settlement = await runStage(name);
      expect(settlement).toMatchObject({ kind: 'partial', failed: [] });
      if (settlement.kind === 'partial') expect(settlement.succeeded).toHaveLength(12);
      expect(await aws.depth(aws.stage('wh-1', name).queueUrl)).toBe(0);
    }

    for (const { orderId } of orders) {
      const { statusCode, body } = await get(orderId);
      expect(statusCode).toBe(200);
      expect(body).toMatchObject({ orderId, status: 'delivered', stage: 'delivery', warehouseId: 'wh-1' });
      expect(body.history.map((h: { by: string; status: string }) => `${h.by}:${h.status}`)).toEqual([
        'intake:accepted',
        'picking:packing',
        'packing:delivering',
        'delivery:delivered',
      ]);
      expect(body.delivery.trackingNumber).toMatch(TRACKING_NUMBER_PATTERN);
      expect(body.history[1].detail.waveId).toBe(
        body.history.find((h: { by: string }) => h.by === 'picking').detail.waveId,
      );
    }
    // One pick wave for the whole batch: the aggregator at work.
    const waves = new Set<string>();
    for (const { orderId } of orders) waves.add((await get(orderId)).body.history[1].detail.waveId);
    expect(waves.size).toBe(1);
  });

  it('deliver an order at most once when SQS delivers its message twice', async () => {
    expect(
      (await post({ orderId: 'twice', warehouseId: 'wh-1', items: [{ sku: 'SKU-9', quantity: 1 }] })).statusCode,
    ).toBe(202);
    await runStage('picking');
    await runStage('packing');
    const [message] = await aws.drain(aws.stage('wh-1', 'delivery').queueUrl);
    const body = DeliveryInput.parse(JSON.parse(message?.Body ?? ''));
    // The same message twice: once as delivered, once again later (at-least-once delivery).
    await enqueue(aws.sqs, aws.stage('wh-1', 'delivery').queueUrl, [body, body]);
    await runStage('delivery');
    await enqueue(aws.sqs, aws.stage('wh-1', 'delivery').queueUrl, [body]);
    const second = await runStage('delivery');

    expect(second).toMatchObject({ kind: 'partial', failed: [] });
    const { body: status } = await get('twice');
    expect(status.status).toBe('delivered');
    expect(status.history.filter((h: { status: string }) => h.status === 'delivered')).toHaveLength(1);
  });

  it('print structured JSON logs with pipeline, stage and order ids, and EMF metrics per stage', async () => {
    printed.length = 0;
    // An order no carrier can take is dead-lettered by delivery: an error log naming the order.
    await enqueue(aws.sqs, aws.stage('wh-1', 'picking').queueUrl, [
      {
        v: 1,
        acceptedAt: new Date().toISOString(),
        order: {
          orderId: 'far-away',
          warehouseId: 'wh-1',
          priority: 'standard',
          items: [{ sku: 'SKU-1', quantity: 1 }],
          shipTo: { country: 'AQ', postalCode: '0001' },
        },
      },
    ]);
    await runStage('picking');
    await runStage('packing');
    await runStage('delivery');

    const lines = printed
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    const deadLetter = lines.find((l) => l.message === 'record dead-lettered');
    expect(deadLetter).toMatchObject({
      level: 'ERROR',
      service: 'conveyor',
      pipeline: 'wh-1',
      stage: 'delivery',
      orderId: 'far-away',
      kind: 'rejected',
      receiveCount: 1,
    });
    expect(deadLetter.reason).toMatch(/AQ/);
    const summary = lines.find((l) => l.message === 'batch processed' && l.stage === 'picking');
    expect(summary).toMatchObject({ level: 'INFO', pipeline: 'wh-1', records: 1, succeeded: 1 });
    // No order payload in logs: items never appear.
    expect(printed.join('')).not.toMatch(/"items"/);

    const emf = lines.filter((l) => l._aws?.CloudWatchMetrics);
    const delivery = emf.find((l) => l.stage === 'delivery');
    expect(delivery._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'Conveyor',
      Dimensions: [expect.arrayContaining(['service', 'pipeline', 'stage'])],
    });
    const names = delivery._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name);
    expect(names).toEqual(
      expect.arrayContaining([
        'Records',
        'Succeeded',
        'Failed',
        'DeadLettered',
        'Duplicates',
        'BatchSize',
        'BatchDuration',
      ]),
    );
    expect(delivery.DeadLettered).toBe(1);
    expect((await get('far-away')).body).toMatchObject({ status: 'dead-lettered', stage: 'delivery' });
  });
});
