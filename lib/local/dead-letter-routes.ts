/**
 * The dead-letter workbench's admin routes (what `conveyor dlq …` calls locally), under
 * `/api/stages/{pipeline}/{stage}/dlq`:
 *
 *   GET  …/dlq?limit&grep&orderId&kinds&since         peek: the dead letters a filter selects, none consumed
 *   GET  …/dlq/export?limit&grep&orderId&kinds&since  the same with whole bodies, for `dlq export` (logged)
 *   POST …/dlq/redrive {filter?, dryRun?, ratePerSecond?}  move what matches back to the stage queue (logged)
 *
 * The operator's name comes in the `x-conveyor-operator` header. A redrive stops when its caller goes
 * away (the batch in hand is finished first); its journal lives in the data directory, so a redrive
 * the runtime itself did not finish (kill -9) is finished by the next one. One redrive per stage at a
 * time: a second waits for the first.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { DeadLetterFilterInput, type DeadLetterFilter } from '../operations/dead-letter-filter.ts';
import { redriveMatching, RedriveFailedError } from '../operations/dead-letter-redrive.ts';
import { findDeadLetters, type DeadLetterQueueRef } from '../operations/dead-letters.ts';
import { exportAudit, OPERATOR_PATTERN, redriveAudit, type AuditLine } from '../operations/operator-audit.ts';
import { FileJournal, MemoryJournal, type RedriveJournal } from '../operations/redrive-journal.ts';
import type { ApiRequest, ApiResponse, Route } from './api-server.ts';
import type { LocalResources } from './provision.ts';

/** Dead letters one peek shows at most. */
export const MAX_PEEK = 100;
/** Dead letters one export takes at most. */
export const MAX_EXPORT = 10_000;
const QUERY_FIELDS = ['limit', 'grep', 'orderId', 'kinds', 'since'];
const REDRIVE_FIELDS = ['filter', 'dryRun', 'ratePerSecond'];

export interface DeadLetterRouteDeps {
  readonly base: string;
  readonly resources: LocalResources;
  readonly sqs: SQSClient;
  /** Where journals are kept: the data directory, or nowhere (in memory). */
  readonly controls: { readonly directory: string | undefined };
  readonly audit: (message: string, fields: Record<string, unknown>) => void;
  readonly guard: (request: ApiRequest) => ApiResponse | undefined;
  readonly stageOf: (request: ApiRequest) => { key: string } | ApiResponse;
  readonly write: (
    handle: (key: string, body: Record<string, unknown>, request: ApiRequest) => Promise<ApiResponse>,
  ) => (request: ApiRequest) => Promise<ApiResponse>;
  readonly problem: (status: number, error: string, field: string, message: string) => ApiResponse;
}

type Problem = DeadLetterRouteDeps['problem'];

/** The stage's dead-letter routes: peek, export, redrive. */
export function deadLetterRoutes(deps: DeadLetterRouteDeps): Route[] {
  const { base, resources, sqs, write } = deps;
  const desk = new Workbench(deps);
  return [
    {
      method: 'GET',
      path: `${base}/dlq`,
      handle: desk.read(MAX_PEEK, 10, async (key, filter, limit, _who, request) => {
        const page = await findDeadLetters(sqs, resources.stages.get(key)!.deadLetterQueueUrl, {
          limit,
          queue: desk.queueOf(key),
          confirmEmpty: true,
          ...(filter ? { filter } : {}),
          ...(request.signal ? { signal: request.signal } : {}),
        });
        return {
          status: 200,
          body: { stage: key, messages: page.letters, scanned: page.scanned, truncated: page.truncated },
        };
      }),
    },
    {
      method: 'GET',
      path: `${base}/dlq/export`,
      handle: desk.read(MAX_EXPORT, MAX_EXPORT, async (key, filter, limit, who, request) => {
        const page = await findDeadLetters(sqs, resources.stages.get(key)!.deadLetterQueueUrl, {
          limit,
          queue: desk.queueOf(key),
          fullBody: true,
          confirmEmpty: true,
          ...(filter ? { filter } : {}),
          ...(request.signal ? { signal: request.signal } : {}),
        });
        desk.log(key, exportAudit(who, key, filter, page.letters.length, page.scanned));
        return {
          status: 200,
          body: { stage: key, messages: page.letters, scanned: page.scanned, truncated: page.truncated },
        };
      }),
    },
    {
      method: 'POST',
      path: `${base}/dlq/redrive`,
      handle: write((key, body, request) => desk.redrive(key, body, request)),
    },
  ];
}

/** What the routes share: the stages' journals, one redrive per stage at a time, the audit log. */
class Workbench {
  readonly #deps: DeadLetterRouteDeps;
  readonly #journals = new Map<string, RedriveJournal>();
  readonly #running = new Map<string, Promise<unknown>>();

  constructor(deps: DeadLetterRouteDeps) {
    this.#deps = deps;
  }

  queueOf(key: string): DeadLetterQueueRef {
    const { stage } = this.#deps.resources.stages.get(key)!;
    return { pipelineId: stage.pipelineId, stage: stage.name, maxReceiveCount: stage.maxReceiveCount };
  }

  /** An audit line; the runtime's log shows `pipeline/stage` where it comes from (lib/local/log-output.ts). */
  log(key: string, line: AuditLine): void {
    const [pipeline, stage] = key.split('/') as [string, string];
    this.#deps.audit(line.message, { ...line.fields, pipeline, stage });
  }

  /** A read (peek or export): the stage, the operator, the limit and the filter from the query, then `answer`. */
  read(
    maxLimit: number,
    defaultLimit: number,
    answer: (
      key: string,
      filter: DeadLetterFilter | undefined,
      limit: number,
      who: string,
      request: ApiRequest,
    ) => Promise<ApiResponse>,
  ) {
    const { guard, stageOf, problem } = this.#deps;
    return async (request: ApiRequest): Promise<ApiResponse> => {
      const refused = guard(request);
      if (refused) return refused;
      const found = stageOf(request);
      if (!('key' in found)) return found;
      const who = operatorOf(request, problem);
      if (typeof who !== 'string') return who;
      const unknown = [...request.query.keys()].find((name) => !QUERY_FIELDS.includes(name));
      if (unknown) return problem(400, 'invalid query', unknown, `is not a filter; use ${QUERY_FIELDS.join(', ')}`);
      const limitText = request.query.get('limit') ?? String(defaultLimit);
      const limit = Number(limitText);
      if (!/^\d+$/.test(limitText) || limit < 1 || limit > maxLimit)
        return problem(
          400,
          'invalid query',
          'limit',
          `must be a whole number from 1 to ${maxLimit}, got "${limitText}"`,
        );
      const filter = filterFromQuery(request.query, problem);
      return 'filter' in filter ? answer(found.key, filter.filter, limit, who, request) : filter;
    };
  }

  /** `POST …/dlq/redrive`: the body checked, then the move (or dry run), journaled, logged. */
  async redrive(key: string, body: Record<string, unknown>, request: ApiRequest): Promise<ApiResponse> {
    const { problem, sqs, resources } = this.#deps;
    const settings = redriveSettings(body, problem);
    if (!('filter' in settings)) return settings;
    const who = operatorOf(request, problem);
    if (typeof who !== 'string') return who;
    const stage = resources.stages.get(key)!;
    const { filter, ratePerSecond, dryRun } = settings;
    return this.#oneAtATime(key, async () => {
      try {
        const report = await redriveMatching(sqs, {
          deadLetterQueueUrl: stage.deadLetterQueueUrl,
          queueUrl: stage.queueUrl,
          queue: this.queueOf(key),
          journal: this.#journalOf(key),
          // The dead-letter auditor reads the same queue every few seconds: an empty answer is checked.
          confirmEmpty: true,
          ...(filter ? { filter } : {}),
          ...(ratePerSecond === undefined ? {} : { ratePerSecond }),
          ...(dryRun ? { dryRun: true } : {}),
          ...(request.signal ? { signal: request.signal } : {}),
        });
        this.log(key, redriveAudit(who, key, filter, report, ratePerSecond));
        return { status: 200, body: { stage: key, ...report } };
      } catch (error) {
        if (!(error instanceof RedriveFailedError)) throw error;
        this.log(key, redriveAudit(who, key, filter, error.report, ratePerSecond));
        return {
          status: 502,
          body: {
            error: 'redrive stopped',
            details: [{ field: 'queue', message: error.message }],
            report: error.report,
          },
        };
      }
    });
  }

  #journalOf(key: string): RedriveJournal {
    let journal = this.#journals.get(key);
    if (!journal) {
      const directory = this.#deps.controls.directory;
      journal = directory
        ? new FileJournal(join(directory, 'redrive', `${key.replace('/', '-')}.jsonl`))
        : new MemoryJournal();
      this.#journals.set(key, journal);
    }
    return journal;
  }

  /** One redrive of a stage at a time: the next waits for the one before. */
  #oneAtATime<T>(key: string, work: () => Promise<T>): Promise<T> {
    const next = (this.#running.get(key) ?? Promise.resolve()).catch(() => undefined).then(work);
    this.#running.set(key, next);
    return next;
  }
}

/** The redrive body's settings, or the answer naming what is wrong. */
function redriveSettings(
  body: Record<string, unknown>,
  problem: Problem,
): { filter: DeadLetterFilter | undefined; ratePerSecond?: number; dryRun: boolean } | ApiResponse {
  const unknown = Object.keys(body).find((name) => !REDRIVE_FIELDS.includes(name));
  if (unknown)
    return problem(400, 'invalid request body', unknown, `is not a redrive setting; use ${REDRIVE_FIELDS.join(', ')}`);
  const rate = body.ratePerSecond;
  if (rate !== undefined && (typeof rate !== 'number' || !Number.isInteger(rate) || rate < 1 || rate > 500)) {
    return problem(
      400,
      'invalid request body',
      'ratePerSecond',
      `must be a whole number from 1 to 500 (messages per second), got ${JSON.stringify(rate)}`,
    );
  }
  if (body.dryRun !== undefined && typeof body.dryRun !== 'boolean')
    return problem(400, 'invalid request body', 'dryRun', `must be true or false, got ${JSON.stringify(body.dryRun)}`);
  const filter = parseFilter(body.filter, problem);
  if (!('filter' in filter)) return filter;
  return {
    filter: filter.filter,
    ...(rate === undefined ? {} : { ratePerSecond: rate as number }),
    dryRun: body.dryRun === true,
  };
}

function filterFromQuery(
  query: URLSearchParams,
  problem: Problem,
): { filter: DeadLetterFilter | undefined } | ApiResponse {
  const raw: Record<string, unknown> = {};
  for (const name of ['grep', 'orderId', 'since']) if (query.has(name)) raw[name] = query.get(name);
  if (query.has('kinds'))
    raw.kinds = (query.get('kinds') ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean);
  return parseFilter(raw, problem);
}

function parseFilter(raw: unknown, problem: Problem): { filter: DeadLetterFilter | undefined } | ApiResponse {
  if (raw === undefined) return { filter: undefined };
  const parsed = DeadLetterFilterInput.safeParse(raw);
  if (parsed.success)
    return { filter: Object.keys(parsed.data).length > 0 ? (parsed.data as DeadLetterFilter) : undefined };
  const issue = parsed.error.issues[0];
  return problem(400, 'invalid filter', issue?.path.map(String).join('.') || 'filter', issue?.message ?? 'invalid');
}

/** Who acts: the `x-conveyor-operator` header, else an operator on this host. */
function operatorOf(request: ApiRequest, problem: Problem): string | ApiResponse {
  const named = request.headers['x-conveyor-operator'];
  if (named === undefined) return `operator@${hostname()}`;
  return OPERATOR_PATTERN.test(named)
    ? named
    : problem(
        400,
        'invalid header',
        'x-conveyor-operator',
        'must be 1–128 printable characters naming who acts, e.g. ana@ops-laptop',
      );
}
