/**
 * The breaker function of a deployed stack (handlers/breaker.ts), wired to its table, mappings,
 * metrics, alarms and topic. One function, three callers:
 *
 *   EventBridge, a breaker alarm went to ALARM   → judge that stage now (CloudBreakers.onAlarm)
 *   EventBridge, every minute                    → the round (CloudBreakers.tick)
 *   an operator (conveyor breaker / status)      → override or describe (lib/operations/breaker-commands.ts)
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SNSClient } from '@aws-sdk/client-sns';
import * as z from 'zod/mini';
import { documentClient } from '../aws/clients.ts';
import { DynamoDbTable } from '../ledger/dynamodb-table.ts';
import type { Table } from '../ledger/table.ts';
import { readBreakerCommand, type BreakerCommand, type BreakerReply } from '../operations/breaker-commands.ts';
import { BreakerStore } from '../operations/breaker-store.ts';
import { CloudBreakers, UnknownBreakerError } from '../operations/circuit-breakers.ts';
import { readBreakerConfig, type BreakerConfig } from '../runtime/breaker-environment.ts';
import { sdkTimeoutsOf } from '../runtime/environment.ts';
import { createLogger, type Logger } from '../runtime/telemetry.ts';
import {
  BREAKER_CLIENT_CONFIG,
  cloudWatchAlarms,
  cloudWatchCounts,
  lambdaMappings,
  snsNotifier,
} from './breaker-ports.ts';

/** What an invocation answers: the operator's reply, the round's summary, or why the event was ignored. */
export type BreakerResult =
  | BreakerReply
  | { readonly looked: number; readonly failed: number }
  | { readonly ignored: string };

export interface BreakerHandlerOptions {
  /** The table the breakers are kept in. @default the status table on DynamoDB */
  readonly table?: Table;
  readonly now?: () => number;
}

/**
 * @example
 * // handlers/breaker.ts
 * export const handler = breakerHandler();
 */
export function breakerHandler(
  config: BreakerConfig = readBreakerConfig(),
  options: BreakerHandlerOptions = {},
): (event: unknown) => Promise<BreakerResult> {
  const logger = createLogger({ function: 'breaker' });
  const cloudwatch = new CloudWatchClient(BREAKER_CLIENT_CONFIG);
  const breakers = new CloudBreakers(config.stages, {
    store: new BreakerStore(options.table ?? new DynamoDbTable(documentClient(sdkTimeoutsOf()), config.tableName)),
    mappings: lambdaMappings(new LambdaClient(BREAKER_CLIENT_CONFIG)),
    counts: cloudWatchCounts(cloudwatch, config.metrics),
    // Every breaker disabled: there are no alarms (and no permission to look for them).
    alarms: config.stages.some((s) => s.settings.enabled)
      ? cloudWatchAlarms(cloudwatch, config.alarmPrefix)
      : { inAlarm: async () => new Set<string>() },
    notifier: snsNotifier(new SNSClient(BREAKER_CLIENT_CONFIG), config.topicArn, {
      stackName: config.stackName,
      ...(process.env.AWS_REGION ? { region: process.env.AWS_REGION } : {}),
    }),
    log: logger,
    ...(options.now ? { now: options.now } : {}),
  });
  return async function handler(event: unknown): Promise<BreakerResult> {
    let command: BreakerCommand | undefined;
    try {
      command = readBreakerCommand(event);
    } catch (error) {
      return { error: (error as Error).message };
    }
    if (command) return operatorCommand(breakers, command, logger);
    const alarm = readAlarmEvent(event);
    if (alarm) {
      if (alarm.state !== 'ALARM') return { ignored: `alarm ${alarm.name} is ${alarm.state}` };
      return (
        (await breakers.onAlarm(alarm.name, alarm.windowStart)) ?? {
          ignored: `alarm ${alarm.name} is no breaker of this stack`,
        }
      );
    }
    if (isScheduledEvent(event)) return breakers.tick();
    logger.warn('not a breaker event; ignored', { event: JSON.stringify(event).slice(0, 500) });
    return { ignored: 'not an alarm state change, a scheduled event or an operator command' };
  };
}

async function operatorCommand(
  breakers: CloudBreakers,
  command: BreakerCommand,
  logger: Logger,
): Promise<BreakerReply> {
  if (command.command === 'describe') return { breakers: await breakers.describe() };
  try {
    const breaker = await breakers.override(command.stage, command.command === 'open' ? 'open' : 'closed', command.by);
    logger.info(`circuit breaker ${breaker.state} by an operator`, { stage: command.stage, by: command.by });
    return { stage: command.stage, breaker };
  } catch (error) {
    if (error instanceof UnknownBreakerError) return { error: error.message };
    throw error;
  }
}

const AlarmEvent = z.object({
  'detail-type': z.literal('CloudWatch Alarm State Change'),
  detail: z.object({
    alarmName: z.string().check(z.minLength(1)),
    state: z.object({ value: z.string(), reasonData: z.optional(z.string()) }),
  }),
});

/** An alarm state change: the alarm, its new state, and the start of the window it evaluated (when the event says). */
export function readAlarmEvent(event: unknown): { name: string; state: string; windowStart?: number } | undefined {
  const parsed = z.safeParse(AlarmEvent, event);
  if (!parsed.success) return undefined;
  const { alarmName, state } = parsed.data.detail;
  const windowStart = evaluatedWindowStart(state.reasonData);
  return { name: alarmName, state: state.value, ...(windowStart !== undefined ? { windowStart } : {}) };
}

/**
 * The start of the period the alarm evaluated, from its reason data
 * (`{"evaluatedDatapoints":[{"timestamp":"2026-01-05T10:03:00.000+0000",…}],"startDate":…}`).
 */
function evaluatedWindowStart(reasonData: string | undefined): number | undefined {
  if (!reasonData) return undefined;
  try {
    const data = JSON.parse(reasonData) as { evaluatedDatapoints?: Array<{ timestamp?: string }>; startDate?: string };
    const at = data.evaluatedDatapoints?.[0]?.timestamp ?? data.startDate;
    // CloudWatch writes offsets as +0000; Date.parse wants +00:00.
    const ms = at ? Date.parse(at.replace(/([+-]\d\d)(\d\d)$/, '$1:$2')) : Number.NaN;
    return Number.isFinite(ms) ? ms : undefined;
  } catch {
    return undefined;
  }
}

function isScheduledEvent(event: unknown): boolean {
  return (
    typeof event === 'object' &&
    event !== null &&
    (event as Record<string, unknown>)['detail-type'] === 'Scheduled Event'
  );
}
