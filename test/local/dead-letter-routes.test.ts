/**
 * The dead-letter admin routes of the local runtime (what `conveyor dlq …` calls), on an in-memory
 * SQS: every query and body field checked with an answer naming it; redrive and export write an
 * audit line with who and what filter; a redrive stops when its caller goes away; a redrive with a
 * data directory keeps its journal there.
 */
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { adminRoutes, StageControlStore } from '../../lib/local/admin.ts';
import type { ApiRequest, ApiResponse, Route } from '../../lib/local/api-server.ts';
import type { LocalResources } from '../../lib/local/provision.ts';
import { OperatorAction } from '../../lib/operations/operator-audit.ts';
import {
  ATTR_DEAD_LETTER_KIND,
  ATTR_DEAD_LETTER_REASON,
  ATTR_ORDER_ID,
  stringAttribute,
} from '../../lib/runtime/attributes.ts';
import { allStages, loadTopology } from '../../lib/topology/index.ts';
import { MemorySqs } from '../support/memory-sqs.ts';
import { tempDir } from '../support/runtime-process.ts';

const topology = loadTopology({}, 'test');

async function setup(dataDir?: string) {
  const sqs = new MemorySqs(Date.now);
  const stages = new Map(
    allStages(topology).map((stage) => {
      const base = `http://sqs.memory/${stage.pipelineId}-${stage.name}`;
      sqs.createQueue(base, { visibilityTimeoutSeconds: 30 });
      sqs.createQueue(`${base}-dlq`, { visibilityTimeoutSeconds: 30 });
      return [
        stage.key,
        {
          stage,
          queueName: base,
          queueUrl: base,
          queueArn: base,
          deadLetterQueueUrl: `${base}-dlq`,
          deadLetterQueueArn: `${base}-dlq`,
        },
      ];
    }),
  );
  const resources: LocalResources = { tableName: 'memory', stages };
  const audits: Array<{ message: string; fields: Record<string, unknown> }> = [];
  const routes = adminRoutes({
    topology,
    mappings: new Map(),
    breakers: new Map(),
    resources,
    sqs: sqs.client,
    controls: new StageControlStore(dataDir),
    ledger: {} as never,
    settled: async () => undefined,
    audit: (message, fields) => void audits.push({ message, fields }),
  });
  const dlq = stages.get('wh-1/picking')!.deadLetterQueueUrl;
  const entries = Array.from({ length: 6 }, (_, i) => ({
    Id: String(i),
    MessageBody: JSON.stringify({ v: 1, order: { orderId: `o-${i}` } }),
    MessageAttributes: {
      [ATTR_ORDER_ID]: stringAttribute(`o-${i}`),
      [ATTR_DEAD_LETTER_REASON]: stringAttribute(i % 2 ? 'scanner offline' : 'no box fits'),
      [ATTR_DEAD_LETTER_KIND]: stringAttribute(i % 2 ? 'exhausted' : 'rejected'),
    },
  }));
  await sqs.client.send(new SendMessageBatchCommand({ QueueUrl: dlq, Entries: entries }));
  return { sqs, routes, audits, queue: stages.get('wh-1/picking')!.queueUrl, dlq };
}

function call(
  routes: Route[],
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<ApiResponse> {
  const url = new URL(path, 'http://127.0.0.1');
  const segments = url.pathname.split('/').filter(Boolean);
  const route = routes.find(
    (r) =>
      r.method === method &&
      r.path.split('/').filter(Boolean).length === segments.length &&
      r.path
        .split('/')
        .filter(Boolean)
        .every((s, i) => s.startsWith('{') || s === segments[i]),
  )!;
  const params = Object.fromEntries(
    route.path
      .split('/')
      .filter(Boolean)
      .flatMap((s, i) => (s.startsWith('{') ? [[s.slice(1, -1), segments[i] as string]] : [])),
  );
  const request: ApiRequest = {
    method,
    path: url.pathname,
    params,
    query: url.searchParams,
    headers: {
      host: '127.0.0.1:3000',
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    body: options.body === undefined ? '' : JSON.stringify(options.body),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  return Promise.resolve(route.handle(request));
}

const detail = (response: ApiResponse) =>
  (response.body as { details: Array<{ field: string; message: string }> }).details[0];

describe('dead-letter admin routes', () => {
  it('peek filters by the query, and refuses what it does not know, naming the field', async () => {
    const { routes } = await setup();
    const found = await call(routes, 'GET', '/api/stages/wh-1/picking/dlq?limit=100&grep=SCANNER&kinds=exhausted');
    expect(found.status).toBe(200);
    expect(
      (found.body as { messages: Array<{ orderId: string }>; scanned: number }).messages.map((m) => m.orderId).sort(),
    ).toEqual(['o-1', 'o-3', 'o-5']);
    expect((found.body as { scanned: number }).scanned).toBe(6);
    for (const [query, field] of [
      ['kinds=sad', 'kinds.0'],
      ['since=yesterday', 'since'],
      ['orderId=a%2Fb', 'orderId'],
      ['order=o-1', 'order'],
      ['limit=0', 'limit'],
    ] as const) {
      const refused = await call(routes, 'GET', `/api/stages/wh-1/picking/dlq?${query}`);
      expect(refused.status, query).toBe(400);
      expect(detail(refused)?.field, query).toBe(field);
    }
    expect(
      detail(
        await call(routes, 'GET', '/api/stages/wh-1/picking/dlq', { headers: { 'x-conveyor-operator': '\u0007' } }),
      )?.field,
    ).toBe('x-conveyor-operator');
  });

  it('redrive checks its body; a dry run moves nothing; both write an audit line with who and what filter', async () => {
    const { sqs, routes, audits, queue, dlq } = await setup();
    for (const [body, field] of [
      [{ dryRun: 'yes' }, 'dryRun'],
      [{ ratePerSecond: 0 }, 'ratePerSecond'],
      [{ filter: { kinds: [] } }, 'kinds'],
      [{ filter: { colour: 'red' } }, 'filter'],
      [{ everything: true }, 'everything'],
    ] as const) {
      const refused = await call(routes, 'POST', '/api/stages/wh-1/picking/dlq/redrive', { body });
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(detail(refused)?.field, JSON.stringify(body)).toBe(field);
    }
    const dry = await call(routes, 'POST', '/api/stages/wh-1/picking/dlq/redrive', {
      body: { dryRun: true, filter: { grep: 'box' } },
      headers: { 'x-conveyor-operator': 'ana@laptop' },
    });
    expect(dry).toMatchObject({ status: 200, body: { dryRun: true, matched: 3, moved: 0 } });
    expect(sqs.messages(queue)).toHaveLength(0);
    const moved = await call(routes, 'POST', '/api/stages/wh-1/picking/dlq/redrive', {
      body: { filter: { grep: 'box' } },
      headers: { 'x-conveyor-operator': 'ana@laptop' },
    });
    expect(moved).toMatchObject({ status: 200, body: { matched: 3, moved: 3 } });
    expect(sqs.messages(queue)).toHaveLength(3);
    expect(sqs.messages(dlq)).toHaveLength(3);
    expect(audits).toEqual([
      {
        message: OperatorAction.redriveDryRun,
        fields: expect.objectContaining({
          who: 'ana@laptop',
          pipeline: 'wh-1',
          stage: 'picking',
          filter: 'reason contains "box"',
          wouldMove: 3,
        }),
      },
      {
        message: OperatorAction.redriven,
        fields: expect.objectContaining({
          who: 'ana@laptop',
          pipeline: 'wh-1',
          stage: 'picking',
          filter: 'reason contains "box"',
          moved: 3,
        }),
      },
    ]);
    await call(routes, 'GET', '/api/stages/wh-1/picking/dlq/export?kinds=exhausted');
    expect(audits.at(-1)).toEqual({
      message: OperatorAction.exported,
      fields: expect.objectContaining({
        who: expect.stringMatching(/^operator@/),
        exported: 3,
        filter: 'kind exhausted',
      }),
    });
  });

  it('a redrive whose caller went away stops between batches; with a data directory its journal is kept there', async () => {
    const dir = tempDir('conveyor-routes-');
    try {
      const { sqs, routes, queue } = await setup(dir.path);
      const gone = new AbortController();
      gone.abort();
      const stopped = await call(routes, 'POST', '/api/stages/wh-1/picking/dlq/redrive', {
        body: {},
        signal: gone.signal,
      });
      expect(stopped).toMatchObject({ status: 200, body: { moved: 0, interrupted: true } });
      expect(sqs.messages(queue)).toHaveLength(0);
      expect(await call(routes, 'POST', '/api/stages/wh-1/picking/dlq/redrive', { body: {} })).toMatchObject({
        status: 200,
        body: { moved: 6 },
      });
      // A clean run leaves nothing in its journal: the file is gone, its directory stays.
      expect(existsSync(`${dir.path}/redrive`)).toBe(true);
      expect(existsSync(`${dir.path}/redrive/wh-1-picking.jsonl`)).toBe(false);
    } finally {
      dir.remove();
    }
  });
});
