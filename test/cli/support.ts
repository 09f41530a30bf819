/**
 * Running the `conveyor` CLI in tests: in-process (`runCli` with captured streams — fast, and the
 * AWS SDK can be mocked) or as a user runs it, a child process (`node bin/conveyor-cli.ts`, what
 * `npx conveyor` starts). Every wait is bounded.
 */
import { spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Output } from '@aws-sdk/client-cloudformation';
import type { CliContext } from '../../lib/cli/context.ts';
import { runCli } from '../../lib/cli/program.ts';
import {
  MANIFEST_VERSION,
  METRICS_NAMESPACE,
  serviceNameOfStack,
  StackOutput,
  type TopologyManifest,
} from '../../lib/contract/index.ts';
import { DEFAULT_CHAIN } from '../../lib/topology/defaults.ts';
import { withTimeout } from '../support/runtime-process.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const NODE = join(ROOT, 'node_modules', '.bin', 'node');
export const CLI = join(ROOT, 'bin', 'conveyor-cli.ts');

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `conveyor …args` in-process, with captured output; `overrides` replace parts of the context. */
export async function runInProcess(args: readonly string[], overrides: Partial<CliContext> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const context: CliContext = {
    stdout: { write: (text: string) => (stdout += text), isTTY: false, columns: 120 },
    stderr: { write: (text: string) => (stderr += text), isTTY: false, columns: 120 },
    env: {},
    fetch: globalThis.fetch,
    now: Date.now,
    sleep: async () => undefined,
    awsCredentials: async () => ({ accessKeyId: 'AKIDTEST', secretAccessKey: 'secret', sessionToken: 'session-token' }),
    ...overrides,
  };
  const code = await runCli(args, context);
  return { code, stdout, stderr };
}

/** `conveyor …args` as a child process (`node bin/conveyor-cli.ts`), with only the given environment. */
export async function runChild(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<CliRun> {
  const child = spawn(NODE, [CLI, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await withTimeout(
    new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c))),
    timeoutMs,
    `conveyor ${args.join(' ')} did not finish within ${timeoutMs} ms`,
  ).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  return { code, stdout, stderr };
}

/** The lines of a text, without the empty last one. */
export function lines(text: string): string[] {
  return text.split('\n').filter((line, i, all) => !(line === '' && i === all.length - 1));
}

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';

/** The resources a deployed stage has, named predictably for assertions. */
export function stageResources(warehouse: string, stage: string) {
  const name = `Conveyor-${warehouse}-${stage}`;
  return {
    QueueUrl: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`,
    QueueArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`,
    DlqUrl: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}-dlq`,
    DlqArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}-dlq`,
    FunctionName: `${name}-fn`,
    EventSourceMappingUuid: `uuid-${warehouse}-${stage}`,
    LogGroup: `${name}-logs`,
  };
}

/** The log groups of the intake and the dead-letter auditor in `topologyManifest`. */
export const FUNCTION_LOG_GROUPS = {
  intake: 'Conveyor-intake-logs',
  deadLetterAuditor: 'Conveyor-auditor-logs',
} as const;

/** The topology manifest a deployed stack publishes (lib/contract/manifest.ts), with `stageResources` per stage. */
export function topologyManifest(
  warehouses: readonly string[] = ['wh-1', 'wh-2'],
  stackName = 'Conveyor',
): TopologyManifest {
  return {
    v: MANIFEST_VERSION,
    metrics: { namespace: METRICS_NAMESPACE, service: serviceNameOfStack(stackName) },
    breakerFunctionName: `${stackName}-breaker-fn`,
    pipelines: warehouses.map((id) => ({
      id,
      stages: DEFAULT_CHAIN.map((name) => {
        const r = stageResources(id, name);
        return {
          name,
          queueUrl: r.QueueUrl,
          queueArn: r.QueueArn,
          dlqUrl: r.DlqUrl,
          dlqArn: r.DlqArn,
          functionName: r.FunctionName,
          eventSourceMappingUuid: r.EventSourceMappingUuid,
          logGroup: r.LogGroup,
        };
      }),
    })),
    logGroups: { ...FUNCTION_LOG_GROUPS },
  };
}

/** The outputs `cdk deploy` gives the stack (see lib/infra/conveyor-stack.ts), for DescribeStacks. */
export function stackOutputs(apiUrl: string, warehouses: readonly string[] = ['wh-1', 'wh-2']): Output[] {
  return [
    {
      OutputKey: StackOutput.apiUrl,
      OutputValue: apiUrl,
      Description: 'Order API base URL (POST orders, GET orders/{orderId})',
    },
    { OutputKey: StackOutput.statusTable, OutputValue: 'Conveyor-StatusTable', Description: 'Order status table' },
    {
      OutputKey: StackOutput.topology,
      OutputValue: JSON.stringify(topologyManifest(warehouses)),
      Description: 'Conveyor topology manifest',
    },
  ];
}

/** A request as an HTTP server received it. */
export interface ReceivedRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Recomputes the SigV4 signature of a received request from its signed headers (AWS's algorithm, written out). */
export function verifySignature(request: ReceivedRequest, secret: string, region: string): boolean {
  const auth =
    /^AWS4-HMAC-SHA256 Credential=[^/]+\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      String(request.headers.authorization),
    );
  if (!auth) return false;
  const [, date, signedRegion, service, signedHeaders, signature] = auth as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const amzDate = String(request.headers['x-amz-date']);
  const [path, query = ''] = request.path.split('?') as [string, string?];
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((name) => `${name}:${String(request.headers[name]).trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonical = [
    request.method,
    path,
    query,
    canonicalHeaders,
    signedHeaders,
    createHash('sha256').update(request.body).digest('hex'),
  ].join('\n');
  const scope = `${date}/${signedRegion}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${secret}`).update(date).digest();
  for (const part of [signedRegion, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  return (
    signedRegion === region &&
    service === 'execute-api' &&
    createHmac('sha256', key).update(toSign).digest('hex') === signature
  );
}
