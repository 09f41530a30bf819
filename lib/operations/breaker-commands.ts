/**
 * What `conveyor breaker …` and `conveyor status` send the breaker function of a deployed stack
 * (a synchronous Lambda Invoke) and what it answers — one shape for both sides, checked on both.
 * An operator needs only `lambda:InvokeFunction` on that one function: the rules, the state record,
 * the mapping and the notification stay the function's.
 */
import * as z from 'zod/mini';
import { BREAKER_STATES, type BreakerStatus } from '../contract/breaker.ts';

/** Who an override is attributed to: printable, one line. */
const By = z
  .string()
  .check(z.minLength(1), z.maxLength(200), z.regex(/^[\x20-\x7e]+$/, { error: 'must be printable ASCII on one line' }));
const StageKey = z
  .string()
  .check(
    z.minLength(3),
    z.maxLength(64),
    z.regex(/^[a-z0-9-]+\/[a-z0-9-]+$/, { error: 'must be warehouse/stage, e.g. wh-1/packing' }),
  );

const Override = z.object({ command: z.enum(['open', 'close']), stage: StageKey, by: By });
const Describe = z.object({ command: z.literal('describe') });
export type BreakerCommand = z.infer<typeof Override> | z.infer<typeof Describe>;

const Status = z.object({
  state: z.enum(BREAKER_STATES),
  since: z.number(),
  reason: z.string(),
  manual: z.optional(z.boolean()),
});

/** The function's answer: one breaker after an override, every breaker for `describe`, or what was wrong. */
export const BreakerReply = z.union([
  z.object({ stage: z.string(), breaker: Status }),
  z.object({ breakers: z.record(z.string(), Status) }),
  z.object({ error: z.string() }),
]);
export type BreakerReply =
  | { stage: string; breaker: BreakerStatus }
  | { breakers: Record<string, BreakerStatus> }
  | { error: string };

/**
 * Reads a command from an invocation's payload.
 * @returns the command, or undefined when the payload is not an operator's command at all.
 * @throws Error naming the field that is wrong, for a command that is malformed.
 */
export function readBreakerCommand(payload: unknown): BreakerCommand | undefined {
  if (typeof payload !== 'object' || payload === null || !('command' in payload)) return undefined;
  const { command } = payload as { command: unknown };
  const schema = command === 'describe' ? Describe : command === 'open' || command === 'close' ? Override : undefined;
  if (!schema)
    throw new Error(
      `invalid breaker command: command must be "open", "close" or "describe", got ${JSON.stringify(command)}`,
    );
  const parsed = z.safeParse(schema, payload);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new Error(
    `invalid breaker command: ${issue?.path.join('.') || 'command'} ${issue?.message ?? 'is invalid'} (e.g. {"command":"open","stage":"wh-1/packing","by":"operator@host"})`,
  );
}
