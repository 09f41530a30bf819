/**
 * `conveyor breaker open|close` and the BREAKER column against a deployed stack (AWS mocked with
 * aws-sdk-client-mock): the breaker function named in the stack's manifest is invoked with the
 * operator's command; stages and warehouses come from the manifest; what goes wrong is one line.
 */
import { hostname } from 'node:os';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  GetEventSourceMappingCommand,
  InvokeCommand,
  LambdaClient,
  type InvokeCommandInput,
} from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { StackOutput } from '../../lib/contract/index.ts';
import { lines, runInProcess, stackOutputs, topologyManifest } from './support.ts';

const cfn = mockClient(CloudFormationClient);
const lambda = mockClient(LambdaClient);
const sqs = mockClient(SQSClient);
const cloudwatch = mockClient(CloudWatchClient);
afterAll(() => {
  for (const mock of [cfn, lambda, sqs, cloudwatch]) mock.restore();
});

const AWS = ['--target', 'aws', '--region', 'us-east-1'];
const FLAGS = ' --target aws --region us-east-1';
const manifest = topologyManifest();
/** A Lambda response payload, as the SDK gives it: bytes that can also read themselves as text. */
function encode(value: unknown) {
  const text = JSON.stringify(value);
  return Object.assign(new TextEncoder().encode(text), { transformToString: () => text });
}
const commandsSent = () =>
  lambda.commandCalls(InvokeCommand).map((c) => ({
    FunctionName: c.args[0].input.FunctionName,
    command: JSON.parse(new TextDecoder().decode(c.args[0].input.Payload as Uint8Array)),
  }));
const SINCE = Date.UTC(2026, 0, 5, 10, 0, 0);

/** The breaker function as deployed: answers an operator's override with the breaker, `describe` with every breaker. */
function breakerFunction(input: InvokeCommandInput) {
  const command = JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array)) as {
    command: string;
    stage?: string;
    by?: string;
  };
  if (command.command === 'describe') {
    const breakers = Object.fromEntries(
      manifest.pipelines.flatMap((p) =>
        p.stages.map((s) => [`${p.id}/${s.name}`, { state: 'closed', since: 0, reason: 'healthy' }]),
      ),
    );
    breakers['wh-1/packing'] = {
      state: 'open',
      since: SINCE,
      reason: '20 of 20 records failed in the last 60 s (threshold 50 %)',
    };
    breakers['wh-2/delivery'] = {
      state: 'half-open',
      since: SINCE,
      reason: 'open for 60 s: probing with 10 records at the least concurrency',
    };
    return { StatusCode: 200, Payload: encode({ breakers }) };
  }
  const open = command.command === 'open';
  return {
    StatusCode: 200,
    Payload: encode({
      stage: command.stage,
      breaker: {
        state: open ? 'open' : 'closed',
        since: SINCE,
        reason: `${open ? 'opened' : 'closed'} by ${command.by}`,
        ...(open ? { manual: true } : {}),
      },
    }),
  };
}

beforeEach(() => {
  for (const mock of [cfn, lambda, sqs, cloudwatch]) mock.reset();
  cfn.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'Conveyor',
        StackStatus: 'UPDATE_COMPLETE',
        CreationTime: new Date(),
        Outputs: stackOutputs('https://api.example/prod/'),
      },
    ],
  });
  lambda.on(InvokeCommand).callsFake(breakerFunction);
});

describe('conveyor breaker --target aws', () => {
  it('open: invokes the stack’s breaker function for the stage, as this operator, and says how to close it', async () => {
    const run = await runInProcess([...AWS, 'breaker', 'open', '--stage', 'packing', '--warehouse', 'wh-1']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(commandsSent()).toEqual([
      {
        FunctionName: manifest.breakerFunctionName,
        command: { command: 'open', stage: 'wh-1/packing', by: `operator@${hostname()}` },
      },
    ]);
    expect(lines(run.stdout)).toEqual([
      `wh-1/packing: circuit breaker open (opened by operator@${hostname()}) — its orders wait in its queue until: conveyor breaker close --stage packing --warehouse wh-1${FLAGS}`,
    ]);
  });

  it('close without --warehouse: every warehouse that has the stage, in topology order', async () => {
    const run = await runInProcess([...AWS, 'breaker', 'close', '--stage', 'packing']);
    expect(run.code).toBe(0);
    const warehouses = manifest.pipelines.filter((p) => p.stages.some((s) => s.name === 'packing')).map((p) => p.id);
    expect(commandsSent().map((c) => c.command.stage)).toEqual(warehouses.map((w) => `${w}/packing`));
    expect(commandsSent().every((c) => c.command.command === 'close')).toBe(true);
    expect(lines(run.stdout)).toEqual(
      warehouses.map(
        (w) => `${w}/packing: circuit breaker closed (closed by operator@${hostname()}) — it consumes its queue again`,
      ),
    );
  });

  it('refuses bad flags in one line, before calling anything: a stage or warehouse the stack does not have, a missing --stage, an unknown action', async () => {
    const stages = manifest.pipelines[0]!.stages.map((s) => s.name).join(', ');
    const cases: Array<[string[], RegExp]> = [
      [
        ['breaker', 'open', '--stage', 'boxing'],
        new RegExp(`^conveyor: unknown stage "boxing" — stages are ${stages} \\(see \`conveyor status\`\\)$`),
      ],
      [
        ['breaker', 'open', '--stage', 'packing', '--warehouse', 'wh-9'],
        /^conveyor: unknown warehouse "wh-9" — warehouses are wh-1, wh-2/,
      ],
      [['breaker', 'open'], /^conveyor: required option '--stage <stage>' not specified — run with --help/],
      [['breaker', 'toggle', '--stage', 'packing'], /^conveyor: unknown command 'toggle'/],
      [['breaker', 'open', '--stage', 'Packing!'], /^conveyor: "Packing!" is not a stage name/],
    ];
    for (const [args, message] of cases) {
      const run = await runInProcess([...AWS, ...args]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(lines(run.stderr), args.join(' ')).toHaveLength(1);
      expect(run.stderr.trim(), args.join(' ')).toMatch(message);
    }
    expect(lambda.commandCalls(InvokeCommand)).toEqual([]);
  });

  it('a failed invocation, a refusal by the function, a stack without the function: one line each', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: encode({
        errorType: 'ProvisionedThroughputExceededException',
        errorMessage: 'Rate of requests exceeds the allowed throughput',
      }),
    });
    const failed = await runInProcess([...AWS, 'breaker', 'open', '--stage', 'packing', '--warehouse', 'wh-1']);
    expect(failed.code).toBe(1);
    expect(lines(failed.stderr)).toEqual([
      `conveyor: the circuit-breaker function ${manifest.breakerFunctionName} failed (ProvisionedThroughputExceededException: Rate of requests exceeds the allowed throughput) — see its log group in CloudWatch Logs, then try again`,
    ]);

    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: encode({ error: 'no circuit breaker for stage "wh-1/packing"; the stages are wh-1/picking' }),
    });
    const refused = await runInProcess([...AWS, 'breaker', 'open', '--stage', 'packing', '--warehouse', 'wh-1']);
    expect(lines(refused.stderr)).toEqual([
      'conveyor: no circuit breaker for stage "wh-1/packing"; the stages are wh-1/picking',
    ]);

    const { breakerFunctionName: _, ...older } = manifest;
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'Conveyor',
          StackStatus: 'UPDATE_COMPLETE',
          CreationTime: new Date(),
          Outputs: [
            ...stackOutputs('https://api.example/prod/').filter((o) => o.OutputKey !== StackOutput.topology),
            { OutputKey: StackOutput.topology, OutputValue: JSON.stringify(older) },
          ],
        },
      ],
    });
    const old = await runInProcess([...AWS, 'breaker', 'close', '--stage', 'packing']);
    expect(old.code).toBe(1);
    expect(lines(old.stderr)).toEqual([
      'conveyor: stack "Conveyor" has no circuit-breaker function (deployed before it existed) — redeploy it with this version of Conveyor (`npx cdk deploy`)',
    ]);
  });

  it('status: a BREAKER column from the function, the open breaker called out with the command that closes it', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '0' } });
    lambda.on(GetEventSourceMappingCommand).resolves({ State: 'Enabled', ScalingConfig: { MaximumConcurrency: 2 } });
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    const run = await runInProcess([...AWS, 'status']);
    expect(run.code).toBe(0);
    expect(commandsSent()).toEqual([{ FunctionName: manifest.breakerFunctionName, command: { command: 'describe' } }]);
    const out = lines(run.stdout);
    expect(out.find((l) => l.startsWith('WAREHOUSE'))).toMatch(/\sCONCURRENCY\s+BREAKER$/);
    expect(out.find((l) => /^\s+packing\s/.test(l) && l.endsWith('OPEN'))).toBeDefined();
    expect(out.find((l) => /^\s+delivery\s/.test(l) && l.endsWith('half-open'))).toBeDefined();
    expect(out).toContain(
      `! wh-1/packing: circuit breaker open (20 of 20 records failed in the last 60 s (threshold 50 %)) — its orders wait in its queue; close it by hand: conveyor breaker close --stage packing --warehouse wh-1${FLAGS}`,
    );

    const json = JSON.parse((await runInProcess([...AWS, 'status', '--json'])).stdout);
    expect(json.pipelines['wh-1'].packing.breaker).toEqual({
      state: 'open',
      reason: '20 of 20 records failed in the last 60 s (threshold 50 %)',
      since: new Date(SINCE).toISOString(),
    });
    expect(json.pipelines['wh-1'].picking.breaker).toEqual({ state: 'closed', reason: 'healthy' });
  });

  it('status still answers when the breakers cannot be read: the column is blank and a note says why', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: {} });
    lambda.on(GetEventSourceMappingCommand).resolves({ State: 'Enabled' });
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    lambda.on(InvokeCommand).rejects(
      Object.assign(new Error('User is not authorized to perform: lambda:InvokeFunction'), {
        name: 'AccessDeniedException',
      }),
    );
    const run = await runInProcess([...AWS, 'status']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain(
      'circuit breakers not read (AWS denied the request (User is not authorized to perform: lambda:InvokeFunction)',
    );
    expect(lines(run.stdout).find((l) => /^wh-1\s+picking\s/.test(l))).toMatch(/—$/);
  });

  it('breaker open --help: what it does, its flags, examples', async () => {
    for (const action of ['open', 'close']) {
      const run = await runInProcess(['breaker', action, '--help']);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`Usage: conveyor breaker ${action} [options]`);
      for (const flag of [
        '--stage <stage>',
        '--warehouse <id>',
        'Examples:',
        '$ npx conveyor breaker close --stage delivery --warehouse wh-1',
      ])
        expect(run.stdout).toContain(flag);
      for (const line of run.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(120);
    }
  });
});
