/**
 * A filtered redrive on AWS is done by the CLI itself (StartMessageMoveTask cannot filter): here the
 * CLI runs as a user runs it — a child process, `--target aws` — against an SQS emulator standing in
 * for SQS and a stand-in CloudFormation that describes the stack. It is killed with SIGKILL halfway,
 * run again, and the stage queue holds exactly the matching dead letters, each once (or, if the kill
 * cut a send off while SQS answered it, those the second run says it sent again), the DLQ the rest.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST_VERSION, METRICS_NAMESPACE, serviceNameOfStack, StackOutput } from '../../lib/contract/index.ts';
import { startSqsEmulator, type SqsEmulator } from '../../lib/local/emulators.ts';
import { ATTR_REDRIVE_OF } from '../../lib/operations/dead-letter-redrive.ts';
import {
  ATTR_DEAD_LETTER_KIND,
  ATTR_DEAD_LETTER_REASON,
  ATTR_ORDER_ID,
  stringAttribute,
} from '../../lib/runtime/attributes.ts';
import { tempDir, waitFor, withTimeout } from '../support/runtime-process.ts';
import { CLI, lines, NODE, ROOT, runChild } from './support.ts';

const REGION = 'us-east-1';
const MATCHING = 12;
const OTHERS = 4;
let emulator: SqsEmulator;
let sqs: SQSClient;
let cloudformation: Server;
let queue: { url: string; dlqUrl: string; name: string; dlqName: string };
const state = tempDir('conveyor-aws-redrive-');

/** The stack's outputs as CloudFormation's DescribeStacks answers them (query protocol, XML). */
function describeStacks(manifest: unknown): string {
  const xml = (text: string) =>
    text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const output = (key: string, value: string) =>
    `<member><OutputKey>${key}</OutputKey><OutputValue>${xml(value)}</OutputValue></member>`;
  return `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>
<StackName>Conveyor</StackName><StackId>arn:aws:cloudformation:${REGION}:000000000000:stack/Conveyor/1</StackId><CreationTime>2025-01-01T00:00:00Z</CreationTime><StackStatus>UPDATE_COMPLETE</StackStatus>
<Outputs>${output(StackOutput.topology, JSON.stringify(manifest))}${output(StackOutput.apiUrl, 'http://127.0.0.1:9/prod/')}</Outputs>
</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></DescribeStacksResponse>`;
}

beforeAll(async () => {
  emulator = await startSqsEmulator({ region: REGION });
  sqs = new SQSClient({
    endpoint: emulator.endpoint,
    region: REGION,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  // Queue URLs on the emulator's own address (its names use a host that does not resolve).
  const local = (url: string) => new URL(new URL(url).pathname, emulator.endpoint).toString();
  const dlqUrl = local(
    (await sqs.send(new CreateQueueCommand({ QueueName: 'Conveyor-wh-1-picking-dlq' }))).QueueUrl as string,
  );
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] })))
    .Attributes?.QueueArn as string;
  const url = local(
    (
      await sqs.send(
        new CreateQueueCommand({
          QueueName: 'Conveyor-wh-1-picking',
          Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 3 }) },
        }),
      )
    ).QueueUrl as string,
  );
  queue = { url, dlqUrl, name: 'Conveyor-wh-1-picking', dlqName: 'Conveyor-wh-1-picking-dlq' };
  const manifest = {
    v: MANIFEST_VERSION,
    metrics: { namespace: METRICS_NAMESPACE, service: serviceNameOfStack('Conveyor') },
    pipelines: [
      {
        id: 'wh-1',
        stages: [
          {
            name: 'picking',
            queueUrl: url,
            queueArn: dlqArn.replace(/-dlq$/, ''),
            dlqUrl,
            dlqArn,
            functionName: 'Conveyor-wh-1-picking-fn',
            eventSourceMappingUuid: 'uuid-1',
          },
        ],
      },
    ],
  };
  cloudformation = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(200, { 'content-type': 'text/xml' }).end(describeStacks(manifest)));
  });
  await new Promise<void>((resolve) => cloudformation.listen(0, '127.0.0.1', resolve));

  const letters = [
    ...Array.from({ length: MATCHING }, (_, i) => ({
      orderId: `o-scan-${i}`,
      reason: 'scanner offline (gave up after 3 attempts)',
      kind: 'exhausted',
    })),
    ...Array.from({ length: OTHERS }, (_, i) => ({
      orderId: `o-box-${i}`,
      reason: 'no box fits SKU-9',
      kind: 'rejected',
    })),
  ];
  for (let i = 0; i < letters.length; i += 10) {
    const entries = letters.slice(i, i + 10).map((l, j) => ({
      Id: String(j),
      MessageBody: JSON.stringify({ v: 1, order: { orderId: l.orderId } }),
      MessageAttributes: {
        [ATTR_ORDER_ID]: stringAttribute(l.orderId),
        [ATTR_DEAD_LETTER_REASON]: stringAttribute(l.reason),
        [ATTR_DEAD_LETTER_KIND]: stringAttribute(l.kind),
      },
    }));
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: dlqUrl, Entries: entries }));
  }
});
afterAll(async () => {
  sqs?.destroy();
  await emulator?.stop();
  await new Promise((resolve) => cloudformation?.close(resolve));
  state.remove();
});

/** A queue's messages, read from the emulator without receiving them. */
async function contents(name: string): Promise<{
  all: Array<{ body: string; messageAttributes: Record<string, { StringValue?: string; stringValue?: string }> }>;
  inflight: Array<{ receiptHandle: string }>;
}> {
  const { messages } = (await (await fetch(`${emulator.endpoint}/_fauxqs/queues/${name}`)).json()) as {
    messages: { ready: any[]; delayed: any[]; inflight: any[] };
  };
  return {
    all: [...messages.ready, ...messages.delayed, ...messages.inflight.map((m) => m.message)],
    inflight: messages.inflight,
  };
}

const environment = () => ({
  PATH: process.env.PATH ?? '',
  HOME: state.path,
  USER: 'ana',
  AWS_REGION: REGION,
  AWS_ACCESS_KEY_ID: 'AKIDTEST',
  AWS_SECRET_ACCESS_KEY: 'secret',
  AWS_ENDPOINT_URL_SQS: emulator.endpoint,
  AWS_ENDPOINT_URL_CLOUDFORMATION: `http://127.0.0.1:${(cloudformation.address() as AddressInfo).port}`,
  CONVEYOR_STATE_DIR: state.path,
});
const REDRIVE = ['dlq', 'redrive', '--target', 'aws', '--stage', 'picking', '--warehouse', 'wh-1', '--grep', 'scanner'];

describe('a filtered redrive on AWS, killed halfway', () => {
  it('run again, leaves every matching dead letter in the stage queue once and the others in the DLQ', async () => {
    const child = spawn(NODE, [CLI, ...REDRIVE, '--rate', '2'], { cwd: ROOT, env: environment(), stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await waitFor(
      async () => ((await contents(queue.name)).all.length >= 2 ? true : undefined),
      30_000,
      'the redrive to be under way',
    );
    child.kill('SIGKILL');
    await withTimeout(exited, 5_000, 'the CLI to die');
    const before = (await contents(queue.name)).all.length;
    expect(before).toBeLessThan(MATCHING);

    // What the dead CLI held stays hidden until its hold runs out; time passes (the held ones are let go).
    const held = (await contents(queue.dlqName)).inflight;
    if (held.length > 0)
      await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queue.dlqUrl,
          Entries: held.map((m, i) => ({ Id: String(i), ReceiptHandle: m.receiptHandle, VisibilityTimeout: 0 })),
        }),
      );

    const again = await runChild(REDRIVE, environment(), 60_000);
    expect(again.code, again.stderr).toBe(0);
    const resentLine = lines(again.stdout).find((l) => /sent again/.test(l));
    const resent = resentLine ? Number(/(\d+) dead letters? sent again/.exec(resentLine)?.[1]) : 0;

    const copies = (await contents(queue.name)).all;
    const ids = copies.map((m) => (JSON.parse(m.body) as { order: { orderId: string } }).order.orderId);
    expect([...new Set(ids)].sort()).toEqual(Array.from({ length: MATCHING }, (_, i) => `o-scan-${i}`).sort());
    // Each once — but for a send the kill cut off while SQS answered it, which the second run announced.
    expect(ids.length - MATCHING).toBe(resent);
    expect(resent).toBeLessThanOrEqual(2);
    for (const copy of copies) expect(Object.keys(copy.messageAttributes)).toContain(ATTR_REDRIVE_OF);
    const left = (await contents(queue.dlqName)).all.map(
      (m) => (JSON.parse(m.body) as { order: { orderId: string } }).order.orderId,
    );
    expect(left.sort()).toEqual(Array.from({ length: OTHERS }, (_, i) => `o-box-${i}`).sort());
    // The CLI's own audit line, on stderr.
    expect(again.stderr).toMatch(/^conveyor: audit \{.*"message":"dead letters redriven".*"who":"ana@/m);
  });
});
