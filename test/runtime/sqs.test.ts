/** Batched sends (aws-sdk-client-mock): failed entries are retried, sender faults are not, and every sent message is counted. */
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { sendMessages } from '../../lib/aws/sqs.ts';

const message = (key: string) => ({ key, body: `{"k":"${key}"}`, attributes: {} });

describe('sendMessages', () => {
  it('retries the entries SQS failed, and reports every message sent with its id', async () => {
    const sqs = mockClient(SQSClient);
    sqs
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [{ Id: '0', MessageId: 'm-a', MD5OfMessageBody: '' }],
        Failed: [{ Id: '1', Code: 'InternalError', SenderFault: false, Message: 'try again' }],
      })
      .resolvesOnce({ Successful: [{ Id: '0', MessageId: 'm-b', MD5OfMessageBody: '' }], Failed: [] });

    const { sent, unsent } = await sendMessages(new SQSClient({}), 'https://sqs.test/q', [message('a'), message('b')], {
      retryDelayMs: 1,
    });

    expect(unsent).toEqual(new Map());
    expect(sent).toEqual(
      new Map([
        ['a', 'm-a'],
        ['b', 'm-b'],
      ]),
    );
    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.args[0].input.Entries?.map((e) => e.MessageBody)).toEqual([message('b').body]);
    sqs.restore();
  });

  it('retries a whole call that failed, a bounded number of times, then reports the messages unsent', async () => {
    const sqs = mockClient(SQSClient);
    sqs.on(SendMessageBatchCommand).rejects(new Error('socket hang up'));

    const { sent, unsent } = await sendMessages(new SQSClient({}), 'https://sqs.test/q', [message('a')], {
      attempts: 3,
      retryDelayMs: 1,
    });

    expect(sent.size).toBe(0);
    expect(unsent).toEqual(new Map([['a', 'socket hang up']]));
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(3);
    sqs.restore();
  });

  it('does not retry an entry SQS refused as the sender’s fault (it would fail again)', async () => {
    const sqs = mockClient(SQSClient);
    sqs.on(SendMessageBatchCommand).resolves({
      Successful: [],
      Failed: [{ Id: '0', Code: 'InvalidMessageContents', SenderFault: true, Message: 'bad' }],
    });

    const { unsent } = await sendMessages(new SQSClient({}), 'https://sqs.test/q', [message('a')], { retryDelayMs: 1 });

    expect(unsent.get('a')).toBe('InvalidMessageContents: bad');
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
    sqs.restore();
  });
});
