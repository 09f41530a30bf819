/**
 * The circuit breakers of a deployed stack, through its breaker function (a synchronous Lambda
 * Invoke, lib/operations/breaker-commands.ts): the function applies the same rules to an operator's
 * override as to an alarm, keeps the state and switches the mapping — the CLI needs only
 * `lambda:InvokeFunction` on it.
 */
import { hostname } from 'node:os';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import * as z from 'zod/mini';
import type { BreakerOverride } from '../contract/breaker.ts';
import { BreakerReply, type BreakerCommand } from '../operations/breaker-commands.ts';
import { CliError, StackError, UsageError } from './errors.ts';
import type { StackResources } from './stack-outputs.ts';
import { stageBreaker, stageKey, type StageBreaker, type StageRef } from './target.ts';

/** Who the override is attributed to in the breaker's reason, its log line and its notification (as the local runtime does). */
export function operatorName(): string {
  return `operator@${hostname()}`;
}

/** Forces the stage's breaker open (held until closed) or closed. */
export async function overrideBreaker(
  lambda: LambdaClient,
  stack: StackResources,
  ref: StageRef,
  state: BreakerOverride,
): Promise<StageBreaker> {
  const reply = await invokeBreakers(lambda, stack, {
    command: state === 'open' ? 'open' : 'close',
    stage: stageKey(ref),
    by: operatorName(),
  });
  if (!('breaker' in reply))
    throw new CliError(
      `the circuit-breaker function of stack "${stack.stackName}" did not answer with the breaker — redeploy the stack with this version of Conveyor`,
    );
  return stageBreaker(reply.breaker);
}

/** Every stage's breaker, keyed by `warehouse/stage`. */
export async function readBreakers(lambda: LambdaClient, stack: StackResources): Promise<Record<string, StageBreaker>> {
  const reply = await invokeBreakers(lambda, stack, { command: 'describe' });
  if (!('breakers' in reply))
    throw new CliError(
      `the circuit-breaker function of stack "${stack.stackName}" did not list its breakers — redeploy the stack with this version of Conveyor`,
    );
  return Object.fromEntries(Object.entries(reply.breakers).map(([key, status]) => [key, stageBreaker(status)]));
}

async function invokeBreakers(
  lambda: LambdaClient,
  stack: StackResources,
  command: BreakerCommand,
): Promise<Exclude<BreakerReply, { error: string }>> {
  const functionName = stack.manifest.breakerFunctionName;
  if (functionName === undefined) {
    throw new StackError(
      `stack "${stack.stackName}" has no circuit-breaker function (deployed before it existed) — redeploy it with this version of Conveyor (\`npx cdk deploy\`)`,
    );
  }
  const response = await lambda.send(
    new InvokeCommand({ FunctionName: functionName, Payload: new TextEncoder().encode(JSON.stringify(command)) }),
  );
  const text = response?.Payload ? new TextDecoder().decode(response.Payload) : '';
  if (response?.FunctionError) {
    throw new CliError(
      `the circuit-breaker function ${functionName} failed (${failureMessage(text)}) — see its log group in CloudWatch Logs, then try again`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new CliError(
      `the circuit-breaker function ${functionName} answered something that is not JSON — redeploy the stack with this version of Conveyor`,
    );
  }
  const parsed = z.safeParse(BreakerReply, raw);
  if (!parsed.success)
    throw new CliError(
      `the circuit-breaker function ${functionName} answered in an unknown shape — redeploy the stack with this version of Conveyor`,
    );
  const reply = parsed.data as BreakerReply;
  if ('error' in reply) throw new UsageError(reply.error);
  return reply;
}

/** Lambda's `{"errorType","errorMessage"}` of a failed invocation, as one phrase. */
function failureMessage(payload: string): string {
  try {
    const { errorType, errorMessage } = JSON.parse(payload) as { errorType?: string; errorMessage?: string };
    return [errorType, errorMessage].filter(Boolean).join(': ') || 'no details';
  } catch {
    return 'no details';
  }
}
