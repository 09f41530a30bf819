/**
 * A recording HTTP proxy in front of an emulator: forwards every request unchanged and records the
 * AWS API call it carries (the `X-Amz-Target` operation and the JSON body), so a test can see
 * exactly which actions a function called on which resources. Listens on 127.0.0.1.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  /** e.g. `AmazonSQS.SendMessageBatch`, `DynamoDB_20120810.PutItem`. */
  readonly target: string;
  readonly body: Record<string, unknown>;
}

export interface RecordingProxy {
  readonly url: string;
  readonly calls: RecordedCall[];
  close(): Promise<void>;
}

/** Starts a proxy to `upstream` (e.g. the SQS emulator's endpoint). */
export async function startRecordingProxy(upstream: string): Promise<RecordingProxy> {
  const target = new URL(upstream);
  const calls: RecordedCall[] = [];
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      const amzTarget = incoming.headers['x-amz-target'];
      if (typeof amzTarget === 'string') {
        try {
          calls.push({ target: amzTarget, body: JSON.parse(body.toString('utf8')) as Record<string, unknown> });
        } catch {
          calls.push({ target: amzTarget, body: {} });
        }
      }
      const forward = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: incoming.method,
          path: incoming.url,
          headers: { ...incoming.headers, host: target.host },
        },
        (response) => {
          outgoing.writeHead(response.statusCode ?? 502, response.headers);
          response.pipe(outgoing);
        },
      );
      forward.on('error', (error) => outgoing.writeHead(502).end(error.message));
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
