/**
 * The local target: a running `npm start` runtime, through its HTTP endpoints — `/api/topology`,
 * `/api/stats`, the order API (POST, GET, DELETE to cancel) and the operator endpoints under
 * `/api/stages/{warehouse}/{stage}/`.
 */
import type { BreakerOverride, BreakerStatus } from '../contract/breaker.ts';
import type { ListedOrders } from '../ledger/listing.ts';
import type { DeadLetterFilter } from '../operations/dead-letter-filter.ts';
import type { DeadLetter, DeadLetterPage } from '../operations/dead-letters.ts';
import type { OrderTrace } from '../operations/order-trace.ts';
import type { StageView, StatsSnapshot } from '../local/stats.ts';
import type { CliContext } from './context.ts';
import { CliError, describeHttpProblem, networkCode, RuntimeUnreachableError } from './errors.ts';
import { operatorName } from './operator.ts';
import {
  cancelResultOf,
  stageBreaker,
  type CancelResult,
  type IntakeResponse,
  type MovedReport,
  type OrderListQuery,
  type QueueRetention,
  type RedriveOptions,
  type RedriveResult,
  type StageBreaker,
  type StageControlResult,
  type StageRef,
  type StageStatus,
  type StatusReport,
  type Target,
  type TraceOptions,
} from './target.ts';

/** The port `npm start` listens on without CONVEYOR_PORT, and the CLI looks for. */
export const DEFAULT_LOCAL_PORT = 3000;
export const DEFAULT_LOCAL_URL = `http://127.0.0.1:${DEFAULT_LOCAL_PORT}`;
/** Every request is bounded: a hung runtime must not hang the CLI. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Redrive moves synchronously; allow for a slow rate. */
const REDRIVE_TIMEOUT_MS = 15 * 60_000;

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Headers;
}

interface TopologyView {
  readonly pipelines: ReadonlyArray<{
    readonly id: string;
    readonly stages: ReadonlyArray<{ readonly name: string; readonly maxConcurrency: number }>;
  }>;
}

/**
 * @example
 * const target = new LocalTarget('http://127.0.0.1:3000', context);
 * await target.pause({ warehouse: 'wh-1', stage: 'packing' });
 */
export class LocalTarget implements Target {
  readonly description: string;
  readonly #url: string;
  readonly #context: CliContext;
  #topology: Promise<TopologyView> | undefined;

  constructor(url: string, context: CliContext) {
    this.#url = url.replace(/\/+$/, '');
    this.#context = context;
    this.description = `local runtime at ${this.#url}`;
  }

  async warehouses(): Promise<string[]> {
    return (await this.#topologyView()).pipelines.map((p) => p.id);
  }

  async pipelines(): Promise<Array<{ id: string; stages: string[] }>> {
    return (await this.#topologyView()).pipelines.map((p) => ({ id: p.id, stages: p.stages.map((s) => s.name) }));
  }

  async status(): Promise<StatusReport> {
    const snapshot = (await this.#ok('GET', '/api/stats')) as StatsSnapshot;
    const pipelines: Record<string, StatusReport['pipelines'][string]> = {};
    for (const [warehouse, stages] of Object.entries(snapshot.pipelines)) {
      pipelines[warehouse] = Object.fromEntries(Object.entries(stages).map(([stage, v]) => [stage, stageStatus(v)]));
    }
    return {
      source: this.description,
      at: snapshot.at,
      window: 'counts since the runtime started; rates over the last 10 s',
      pipelines,
      totals: snapshot.totals,
      latencyMs: { p50: snapshot.latencyMs.p50, p99: snapshot.latencyMs.p99 },
      notes: [`live dashboard: ${this.#url}/dashboard`],
    };
  }

  async submitOrders(orders: readonly unknown[]): Promise<IntakeResponse> {
    const answer = await this.#request('POST', '/orders', { orders });
    const retryAfter = Number(answer.headers.get('retry-after'));
    return {
      status: answer.status,
      body: answer.body,
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
    };
  }

  async getOrder(orderId: string): Promise<Record<string, unknown> | undefined> {
    const answer = await this.#request('GET', `/orders/${encodeURIComponent(orderId)}`);
    if (answer.status === 404) return undefined;
    return this.#expectOk(answer, `GET /orders/${orderId}`) as Record<string, unknown>;
  }

  async listOrders(query: OrderListQuery): Promise<ListedOrders> {
    const params = new URLSearchParams({ status: query.states.join(','), limit: String(query.limit) });
    if (query.warehouse !== undefined) params.set('warehouse', query.warehouse);
    if (query.since !== undefined) params.set('since', query.since);
    return (await this.#ok('GET', `/api/orders?${params}`)) as ListedOrders;
  }

  async trace(orderId: string, options: TraceOptions): Promise<OrderTrace | undefined> {
    const path = `/api/orders/${encodeURIComponent(orderId)}/trace`;
    const answer = await this.#request('GET', path);
    if (answer.status === 404) return undefined;
    const trace = this.#expectOk(answer, `GET ${path}`) as OrderTrace;
    // The runtime keeps what its budget allows; --since only narrows the log lines shown.
    if (options.since === undefined) return trace;
    const since = new Date(options.since).toISOString();
    return {
      ...trace,
      entries: trace.entries.filter((e) => e.type === 'history' || e.at >= since),
      logs: { ...trace.logs, from: since },
    };
  }

  async cancelOrder(orderId: string): Promise<CancelResult | undefined> {
    const answer = await this.#request('DELETE', `/orders/${encodeURIComponent(orderId)}`);
    const result = cancelResultOf(answer.status, answer.body);
    if (result !== 'unexpected') return result;
    throw new CliError(
      `the runtime refused DELETE /orders/${orderId}: ${describeHttpProblem(answer.status, answer.body)}`,
    );
  }

  async peekDeadLetters(ref: StageRef, limit: number, filter?: DeadLetterFilter): Promise<DeadLetterPage> {
    return this.#deadLetters(`${stagePath(ref)}/dlq`, limit, filter);
  }

  async exportDeadLetters(ref: StageRef, limit: number, filter?: DeadLetterFilter): Promise<DeadLetterPage> {
    return this.#deadLetters(`${stagePath(ref)}/dlq/export`, limit, filter);
  }

  async deadLetterCount(ref: StageRef): Promise<number> {
    const snapshot = (await this.#ok('GET', '/api/stats')) as StatsSnapshot;
    return snapshot.pipelines[ref.warehouse]?.[ref.stage]?.dlq ?? 0;
  }

  async redrive(ref: StageRef, options: RedriveOptions): Promise<RedriveResult> {
    const request = {
      ...(options.ratePerSecond === undefined ? {} : { ratePerSecond: options.ratePerSecond }),
      ...(options.filter ? { filter: options.filter } : {}),
      ...(options.dryRun ? { dryRun: true } : {}),
    };
    let body: MovedReport & { dryRun: boolean; letters: DeadLetter[] };
    try {
      body = (await this.#ok(
        'POST',
        `${stagePath(ref)}/dlq/redrive`,
        request,
        REDRIVE_TIMEOUT_MS,
        options.signal,
      )) as typeof body;
    } catch (error) {
      if (!options.signal?.aborted) throw error;
      throw new CliError(
        `${ref.warehouse}/${ref.stage}: redrive interrupted — the runtime finished the batch in hand and moved nothing more; see what is left with \`conveyor dlq peek\`, and run the redrive again to move it`,
      );
    }
    if (body.dryRun) return { kind: 'dry-run', matched: body.matched, scanned: body.scanned, letters: body.letters };
    const { moved, matched, scanned, finished, resent, notDeleted, interrupted } = body;
    return { kind: 'moved', moved, matched, scanned, finished, resent, notDeleted, interrupted };
  }

  async pause(ref: StageRef): Promise<StageControlResult> {
    return controlResult(await this.#ok('POST', `${stagePath(ref)}/pause`, {}));
  }

  async resume(ref: StageRef): Promise<StageControlResult> {
    return controlResult(await this.#ok('POST', `${stagePath(ref)}/resume`, {}));
  }

  async scale(ref: StageRef, maxConcurrency: number): Promise<StageControlResult> {
    return controlResult(await this.#ok('POST', `${stagePath(ref)}/scale`, { maxConcurrency }));
  }

  async queueRetention(ref: StageRef): Promise<QueueRetention> {
    const snapshot = (await this.#ok('GET', '/api/stats')) as StatsSnapshot;
    const view = snapshot.pipelines[ref.warehouse]?.[ref.stage];
    return {
      retentionSeconds: view?.retentionSeconds ?? null,
      oldestMessageAgeSeconds: view?.oldestMessageAgeSeconds ?? null,
      nearsRetention: view?.nearsRetention ?? false,
    };
  }

  async queueDepth(ref: StageRef): Promise<number> {
    const snapshot = (await this.#ok('GET', '/api/stats')) as StatsSnapshot;
    const view = snapshot.pipelines[ref.warehouse]?.[ref.stage];
    return view ? view.ready + view.inFlight + view.delayed : 0;
  }

  async purge(ref: StageRef): Promise<void> {
    await this.#ok('POST', `${stagePath(ref)}/purge`, { confirm: true });
  }

  async breaker(ref: StageRef, state: BreakerOverride): Promise<StageBreaker> {
    const body = (await this.#ok('POST', `${stagePath(ref)}/breaker`, { state })) as { breaker: BreakerStatus };
    return stageBreaker(body.breaker);
  }

  async breakers(): Promise<Record<string, StageBreaker>> {
    const snapshot = (await this.#ok('GET', '/api/stats')) as StatsSnapshot;
    return Object.fromEntries(
      Object.entries(snapshot.pipelines).flatMap(([warehouse, stages]) =>
        Object.entries(stages).map(([stage, v]) => [
          `${warehouse}/${stage}`,
          { state: v.breaker, reason: v.breakerReason },
        ]),
      ),
    );
  }

  close(): void {}

  #topologyView(): Promise<TopologyView> {
    this.#topology ??= this.#request('GET', '/api/topology').then((answer) => {
      if (answer.status !== 200 || !Array.isArray((answer.body as TopologyView | undefined)?.pipelines)) {
        throw new CliError(
          `${this.#url} does not look like a Conveyor runtime (GET /api/topology answered ${answer.status}) — pass the --url \`npm start\` printed`,
        );
      }
      return answer.body as TopologyView;
    });
    return this.#topology;
  }

  async #deadLetters(path: string, limit: number, filter: DeadLetterFilter | undefined): Promise<DeadLetterPage> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (filter?.grep !== undefined) query.set('grep', filter.grep);
    if (filter?.orderId !== undefined) query.set('orderId', filter.orderId);
    if (filter?.kinds !== undefined) query.set('kinds', filter.kinds.join(','));
    if (filter?.since !== undefined) query.set('since', filter.since);
    const body = (await this.#ok('GET', `${path}?${query}`)) as {
      messages: DeadLetter[];
      scanned?: number;
      truncated?: boolean;
    };
    return {
      letters: body.messages,
      scanned: body.scanned ?? body.messages.length,
      truncated: body.truncated ?? false,
    };
  }

  async #ok(method: string, path: string, body?: unknown, timeoutMs?: number, signal?: AbortSignal): Promise<unknown> {
    return this.#expectOk(await this.#request(method, path, body, timeoutMs, signal), `${method} ${path}`);
  }

  #expectOk(answer: Answer, what: string): unknown {
    if (answer.status >= 200 && answer.status < 300) return answer.body;
    throw new CliError(`the runtime refused ${what}: ${describeHttpProblem(answer.status, answer.body)}`);
  }

  async #request(
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = REQUEST_TIMEOUT_MS,
    signal?: AbortSignal,
  ): Promise<Answer> {
    let response: Response;
    try {
      response = await this.#context.fetch(`${this.#url}${path}`, {
        method,
        // Who acts, for the runtime's audit lines (redrive, export).
        headers: {
          'x-conveyor-operator': operatorName(this.#context),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: signal ? AbortSignal.any([AbortSignal.timeout(timeoutMs), signal]) : AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      const name = (error as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError')
        throw new CliError(
          `the runtime at ${this.#url} did not answer ${method} ${path} within ${timeoutMs / 1000} s — is it overloaded or stuck? Check its log`,
        );
      throw new RuntimeUnreachableError(this.#url, networkCode(error));
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON: kept as text for the error message.
    }
    return { status: response.status, body: parsed, headers: response.headers };
  }
}

function stagePath(ref: StageRef): string {
  return `/api/stages/${encodeURIComponent(ref.warehouse)}/${encodeURIComponent(ref.stage)}`;
}

/** A row of the queue table from the runtime's stats (which judge retention themselves). */
function stageStatus(v: StageView): StageStatus {
  return {
    ready: v.ready,
    inFlight: v.inFlight,
    delayed: v.delayed,
    dlq: v.dlq,
    oldestMessageAgeSeconds: v.oldestMessageAgeSeconds ?? null,
    succeeded: v.succeeded,
    failed: v.failed,
    retried: v.retried,
    perSecond: v.perSecond,
    incomingPerSecond: v.incomingPerSecond ?? null,
    failedPerSecond: v.failedPerSecond ?? null,
    concurrency: { inUse: v.concurrency.inUse, max: v.concurrency.max },
    paused: v.paused,
    retentionSeconds: v.retentionSeconds ?? null,
    nearsRetention: v.nearsRetention ?? false,
    oldestDeadLetterAgeSeconds: v.oldestDeadLetterAgeSeconds ?? null,
    deadLetterRetentionSeconds: v.deadLetterRetentionSeconds ?? null,
    deadLettersNearRetention: v.deadLettersNearRetention ?? false,
  };
}

function controlResult(body: unknown): StageControlResult {
  const view = body as { paused: boolean; maxConcurrency: number };
  return { paused: view.paused, maxConcurrency: view.maxConcurrency };
}
