/**
 * An HTTP proxy in front of an emulator that answers some AWS calls late: the call is applied at
 * once (forwarded), and its response held back — a write that was made, but whose answer is slow.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlowProxy {
  readonly endpoint: string;
  /** Actions whose responses are held back, e.g. `UpdateItem`, and by how long. */
  slow(action: string, delayMs: number): void;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 forwarding to `target` (e.g. the DynamoDB emulator's endpoint). */
export async function startSlowProxy(target: string): Promise<SlowProxy> {
  const delays = new Map<string, number>();
  const server: Server = createServer(async (request, response) => {
    const body = await read(request);
    const target_ = String(request.headers['x-amz-target'] ?? '');
    const action = target_.slice(target_.lastIndexOf('.') + 1);
    const headers = Object.fromEntries(
      Object.entries(request.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)),
    ) as Record<string, string>;
    const answer = await fetch(new URL(request.url ?? '/', target), {
      method: request.method ?? 'POST',
      headers,
      body: body.length > 0 ? body : null,
    });
    const payload = Buffer.from(await answer.arrayBuffer());
    const delay = delays.get(action) ?? 0;
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    response.writeHead(
      answer.status,
      Object.fromEntries(
        [...answer.headers].filter(
          ([k]) => !['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k),
        ),
      ),
    );
    response.end(payload);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    slow: (action, delayMs) => void delays.set(action, delayMs),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function read(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}
