/**
 * From the global flags to a `Target`: the local runtime by default, a deployed stack with
 * `--target aws`. The AWS code (and its SDK clients) is loaded only when asked for, so local
 * commands start fast.
 */
import type { CliContext } from './context.ts';
import { UsageError } from './errors.ts';
import { LocalTarget } from './local-target.ts';
import { chooseWarehouses, localRuntimeUrl } from './options.ts';
import type { StageRef, Target } from './target.ts';

/** The flags every command takes (see `conveyor --help`). */
export interface GlobalOptions {
  readonly target?: 'local' | 'aws';
  readonly url?: string;
  readonly stack?: string;
  readonly region?: string;
  readonly profile?: string;
  readonly apiKey?: string;
}

export const DEFAULT_STACK = 'Conveyor';

/** What an AWS error should be explained with (the stack, region and profile asked for). */
export function awsErrorContext(
  options: GlobalOptions,
  env: CliContext['env'],
): { stack: string; region?: string; profile?: string } {
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const profile = options.profile ?? env.AWS_PROFILE;
  return {
    stack: options.stack ?? env.CONVEYOR_STACK ?? DEFAULT_STACK,
    ...(region ? { region } : {}),
    ...(profile ? { profile } : {}),
  };
}

/**
 * @example
 * const target = await openTarget({ target: 'aws', stack: 'Conveyor', region: 'eu-west-1' }, processContext());
 */
export async function openTarget(options: GlobalOptions, context: CliContext): Promise<Target> {
  if ((options.target ?? 'local') === 'local') {
    const awsOnly = (['stack', 'region', 'profile', 'apiKey'] as const).find((k) => options[k] !== undefined);
    if (awsOnly)
      throw new UsageError(
        `--${awsOnly === 'apiKey' ? 'api-key' : awsOnly} applies to a deployed stack — add --target aws (or leave it out for the local runtime)`,
      );
    return new LocalTarget(options.url ?? localRuntimeUrl(context.env), context);
  }
  if (options.url !== undefined)
    throw new UsageError(
      '--url applies to the local runtime — leave out --target aws, or use --stack/--region/--profile for a deployed stack',
    );
  const { AwsTarget } = await import('./aws-target.ts');
  const apiKey = options.apiKey ?? context.env.CONVEYOR_API_KEY;
  return AwsTarget.open(
    {
      stack: options.stack ?? context.env.CONVEYOR_STACK ?? DEFAULT_STACK,
      ...(options.region ? { region: options.region } : {}),
      ...(options.profile ? { profile: options.profile } : {}),
      ...(apiKey ? { apiKey } : {}),
    },
    context,
  );
}

/** Opens the target, runs `work`, and always closes it. */
export async function withTarget<T>(
  options: GlobalOptions,
  context: CliContext,
  work: (target: Target) => Promise<T>,
): Promise<T> {
  const target = await openTarget(options, context);
  try {
    return await work(target);
  } finally {
    target.close();
  }
}

/** The stages a command acts on: `--stage` in `--warehouse`, or in every warehouse. */
export async function selectStages(target: Target, stage: string, warehouse: string | undefined): Promise<StageRef[]> {
  const pipelines = await target.pipelines();
  const chosen = chooseWarehouses(
    warehouse,
    pipelines.map((p) => p.id),
  );
  const having = pipelines.filter((p) => chosen.includes(p.id) && p.stages.includes(stage));
  if (having.length > 0) return having.map((p) => ({ warehouse: p.id, stage }));
  const names = [...new Set(pipelines.filter((p) => chosen.includes(p.id)).flatMap((p) => p.stages))];
  throw new UsageError(
    `unknown stage "${stage}"${warehouse ? ` in ${warehouse}` : ''} — stages are ${names.join(', ')} (see \`conveyor status\`)`,
  );
}

/**
 * The flags that point a follow-up command at the same target, for hints the CLI prints.
 * @example
 * targetFlags({ target: 'aws', stack: 'Prod', region: 'eu-west-1' }); // ' --target aws --stack Prod --region eu-west-1'
 */
export function targetFlags(options: GlobalOptions): string {
  if ((options.target ?? 'local') === 'local') return options.url ? ` --url ${options.url}` : '';
  return [
    ' --target aws',
    options.stack ? ` --stack ${options.stack}` : '',
    options.region ? ` --region ${options.region}` : '',
    options.profile ? ` --profile ${options.profile}` : '',
  ].join('');
}
