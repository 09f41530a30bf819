/**
 * Operator endpoints of the local runtime under `/api/stages/…`, what the `conveyor` CLI and the
 * dashboard call: pause, resume and scale a stage's event source mapping; override its circuit
 * breaker; peek at and redrive its dead letters; purge its queue. On AWS the CLI does the same with
 * the Lambda and SQS APIs.
 *
 * Loopback only, and guarded against browsers (admin-guard.ts): a local Host header (no DNS
 * rebinding), same-origin requests only (`Origin`, `Sec-Fetch-Site`), writes with a JSON content
 * type (a cross-site page cannot send one without a CORS preflight, which is never granted) and,
 * from a browser, the CSRF token the dashboard page was served with.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { purgeStage, type PurgeLedger } from '../operations/purge.ts';
import { deadLetterRoutes } from './dead-letter-routes.ts';
import { BREAKER_OVERRIDES, type BreakerOverride } from '../contract/breaker.ts';
import { MAX_CONCURRENCY_RANGE } from '../contract/limits.ts';
import { findStage, type Topology } from '../topology/index.ts';
import { guard, loggedForBrowsers, problem } from './admin-guard.ts';
import type { ApiRequest, ApiResponse, Route } from './api-server.ts';
import type { LocalBreaker, SavedBreaker } from './breaker.ts';
import type { LocalEventSourceMapping } from './event-source-mapping.ts';
import type { LocalResources } from './provision.ts';

/** Pause and scale choices, kept across restarts like an event source mapping's state on AWS. */
export interface StageControls {
  readonly paused?: boolean;
  readonly maxConcurrency?: number;
  /** Where the stage's circuit breaker was. */
  readonly breaker?: SavedBreaker;
}

/** Where pause/scale choices persist: a JSON file in the data dir, or nowhere (in memory). */
export class StageControlStore {
  readonly #file: string | undefined;
  #controls: Record<string, StageControls>;
  /** The data directory (other operator state lives beside the controls, e.g. redrive journals); none in memory. */
  readonly directory: string | undefined;

  constructor(dataDir: string | undefined) {
    this.directory = dataDir;
    this.#file = dataDir ? join(dataDir, 'stage-controls.json') : undefined;
    this.#controls = {};
    if (this.#file && existsSync(this.#file)) {
      try {
        this.#controls = JSON.parse(readFileSync(this.#file, 'utf8')) as Record<string, StageControls>;
      } catch {
        this.#controls = {}; // A damaged file must not keep the runtime from starting.
      }
    }
  }

  get(stageKey: string): StageControls {
    return this.#controls[stageKey] ?? {};
  }

  set(stageKey: string, change: StageControls): void {
    this.#controls[stageKey] = { ...this.get(stageKey), ...change };
    if (!this.#file) return;
    const tmp = `${this.#file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.#controls, null, 2)}\n`);
    renameSync(tmp, this.#file);
  }
}

export interface AdminTarget {
  readonly topology: Topology;
  readonly mappings: ReadonlyMap<string, LocalEventSourceMapping>;
  /** Every stage's circuit breaker (operators override them). */
  readonly breakers: ReadonlyMap<string, LocalBreaker>;
  readonly resources: LocalResources;
  readonly sqs: SQSClient;
  readonly controls: StageControlStore;
  /** The order ledger: a purge closes the orders it removes. */
  readonly ledger: PurgeLedger;
  /** Called after orders were closed by an operator (the totals are counted again). */
  readonly settled: () => Promise<void>;
  /** Reports what operators did (it shows in the runtime's log). */
  readonly audit: (message: string, fields: Record<string, unknown>) => void;
}

/** How long a purge waits for the stage's running invocations to finish before it deletes anything. */
const PURGE_IDLE_TIMEOUT_MS = 15 * 60 * 1000;

/** The operator routes of every stage: controls, breaker, dead letters, purge. */
export function adminRoutes(target: AdminTarget): Route[] {
  const base = '/api/stages/{pipeline}/{stage}';
  const stageOf = stageLookup(target.topology);
  const write = writeRoute(stageOf, target.audit);
  const { resources, sqs, controls, audit } = target;
  return [
    { method: 'POST', path: `${base}/pause`, handle: write((key) => setPaused(target, key, true)) },
    { method: 'POST', path: `${base}/resume`, handle: write((key) => setPaused(target, key, false)) },
    { method: 'POST', path: `${base}/scale`, handle: write((key, body) => scale(target, key, body)) },
    { method: 'POST', path: `${base}/breaker`, handle: write((key, body) => overrideBreaker(target, key, body)) },
    ...deadLetterRoutes({ base, resources, sqs, controls, audit, guard, stageOf, write, problem }),
    { method: 'POST', path: `${base}/purge`, handle: write((key, body) => purge(target, key, body)) },
  ];
}

type StageOf = (request: ApiRequest) => { key: string } | ApiResponse;
type WriteHandler = (
  key: string,
  body: Record<string, unknown>,
  request: ApiRequest,
) => Promise<ApiResponse> | ApiResponse;

/** The stage named by a request's path, or an error response naming what is wrong. */
function stageLookup(topology: Topology): StageOf {
  return (request) => {
    const { pipeline, stage } = request.params as { pipeline: string; stage: string };
    if (!topology.pipelines.some((p) => p.id === pipeline)) {
      return problem(
        404,
        'unknown warehouse',
        'warehouse',
        `no warehouse "${pipeline}"; warehouses are ${topology.pipelines.map((p) => p.id).join(', ')}`,
      );
    }
    if (!findStage(topology, pipeline, stage)) {
      const names = topology.pipelines.find((p) => p.id === pipeline)?.stages.map((s) => s.name) ?? [];
      return problem(
        404,
        'unknown stage',
        'stage',
        `no stage "${stage}" in ${pipeline}; its stages are ${names.join(', ')}`,
      );
    }
    return { key: `${pipeline}/${stage}` };
  };
}

/** Wraps a write: the guard (local, same-origin, JSON, a browser's CSRF token), a JSON object body, then the stage lookup; a browser's action is logged. */
function writeRoute(stageOf: StageOf, audit: AdminTarget['audit']) {
  return (handle: WriteHandler) =>
    loggedForBrowsers(async (request: ApiRequest): Promise<ApiResponse> => {
      const refused = guard(request);
      if (refused) return refused;
      const body = objectBody(request.body);
      if (!('value' in body)) return body;
      const found = stageOf(request);
      return 'key' in found ? handle(found.key, body.value, request) : found;
    }, audit);
}

/** An empty body is `{}`; anything else must be a JSON object. */
function objectBody(text: string): { value: Record<string, unknown> } | ApiResponse {
  if (text.trim() === '') return { value: {} };
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return problem(400, 'invalid request body', 'body', 'must be a JSON object');
    return { value: parsed as Record<string, unknown> };
  } catch (error) {
    return problem(400, 'invalid request body', 'body', `is not valid JSON: ${(error as Error).message}`);
  }
}

/** The stage's consumption as it is now. */
function view(target: AdminTarget, key: string): ApiResponse {
  const mapping = target.mappings.get(key)!;
  return { status: 200, body: { stage: key, paused: mapping.paused, maxConcurrency: mapping.maxConcurrency } };
}

function setPaused(target: AdminTarget, key: string, paused: boolean): ApiResponse {
  const mapping = target.mappings.get(key)!;
  if (paused) mapping.pause();
  else mapping.resume();
  target.controls.set(key, { paused });
  target.audit(paused ? 'stage paused' : 'stage resumed', { stage: key });
  return view(target, key);
}

function scale(target: AdminTarget, key: string, body: Record<string, unknown>): ApiResponse {
  const value = body.maxConcurrency;
  const { min, max } = MAX_CONCURRENCY_RANGE;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    return problem(
      400,
      'invalid request body',
      'maxConcurrency',
      `must be a whole number from ${min} to ${max} (as Lambda's maximum concurrency), got ${JSON.stringify(value)}`,
    );
  }
  target.mappings.get(key)!.scale(value);
  target.controls.set(key, { maxConcurrency: value });
  target.audit('stage scaled', { stage: key, maxConcurrency: value });
  return view(target, key);
}

function overrideBreaker(target: AdminTarget, key: string, body: Record<string, unknown>): ApiResponse {
  const state = body.state as BreakerOverride;
  if (!BREAKER_OVERRIDES.includes(state)) {
    return problem(
      400,
      'invalid request body',
      'state',
      `must be "open" (held open until closed) or "closed", got ${JSON.stringify(state)}`,
    );
  }
  const status = target.breakers.get(key)!.override(state, `operator@${hostname()}`);
  target.audit(`circuit breaker ${state} by an operator`, { stage: key });
  return { status: 200, body: { stage: key, breaker: status } };
}

/** Deletes what waits in the stage's queue and closes those orders as purged — with the stage idle, so nothing is mid-way. */
async function purge(target: AdminTarget, key: string, body: Record<string, unknown>): Promise<ApiResponse> {
  if (body.confirm !== true)
    return problem(
      400,
      'confirmation required',
      'confirm',
      'purging deletes every message waiting in the stage queue; send {"confirm": true}',
    );
  const mapping = target.mappings.get(key)!;
  const wasPaused = mapping.paused;
  // Nothing of the stage mid-way: consumption stops, running invocations finish first.
  mapping.pause();
  await untilIdle(mapping);
  try {
    const { stage, queueUrl } = target.resources.stages.get(key)!;
    const report = await purgeStage(
      target.sqs,
      target.ledger,
      { pipelineId: stage.pipelineId, stage: stage.name, queueUrl },
      `operator@${hostname()}`,
    );
    await target.settled();
    target.audit('stage queue purged', { stage: key, orders: report.orders });
    return { status: 200, body: { stage: key, purged: true, orders: report.orders } };
  } finally {
    if (!wasPaused) mapping.resume();
  }
}

/** Waits until a mapping holds no record (its invocations have finished), bounded. */
async function untilIdle(mapping: LocalEventSourceMapping): Promise<void> {
  const deadline = Date.now() + PURGE_IDLE_TIMEOUT_MS;
  while (mapping.held > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}

/** Apply saved pause/scale choices to the mappings before they start. */
export function applyStageControls(
  controls: StageControlStore,
  mappings: ReadonlyMap<string, LocalEventSourceMapping>,
): void {
  for (const [key, mapping] of mappings) {
    const saved = controls.get(key);
    if (saved.maxConcurrency !== undefined) mapping.scale(saved.maxConcurrency);
    if (saved.paused) mapping.pause();
  }
}
