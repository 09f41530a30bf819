/** The SQS emulator must not hand messages to a long poll whose caller has gone. */
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSqsEmulator, type RunningEmulator } from '../../lib/local/emulators.ts';

let emulator: RunningEmulator;
let sqs: SQSClient;
beforeAll(async () => {
  emulator = await startSqsEmulator();
  sqs = new SQSClient({
    endpoint: emulator.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
});
afterAll(async () => {
  sqs.destroy();
  await emulator.stop();
});

it('leaves a message ready when the long poll that would have taken it was abandoned', async () => {
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({ QueueName: 'abandoned', Attributes: { VisibilityTimeout: '300' } }),
  );
  const url = new URL(new URL(QueueUrl!).pathname, emulator.endpoint).toString();
  const controller = new AbortController();
  const abandoned = sqs
    .send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 20 }), { abortSignal: controller.signal })
    .catch((e: Error) => e);
  await new Promise((r) => setTimeout(r, 200));
  controller.abort();
  expect(await abandoned).toBeInstanceOf(Error);
  await new Promise((r) => setTimeout(r, 100));

  await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'for whoever is still listening' }));
  await new Promise((r) => setTimeout(r, 100));

  const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 0 }));
  expect(Messages.map((m) => m.Body)).toEqual(['for whoever is still listening']);
});
