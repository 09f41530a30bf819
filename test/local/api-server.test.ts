/** The local API server's shutdown: the port closes first, requests in flight are answered. */
import { request as httpRequest, Agent } from 'node:http';
import { afterEach, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../lib/local/api-server.ts';

const servers: ApiServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function get(url: string, agent: Agent): Promise<{ status: number; connection: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

it('on close, refuses new connections at once and answers the requests in flight, then closes their connections', async () => {
  let started: () => void = () => undefined;
  const slowStarted = new Promise<void>((resolve) => (started = resolve));
  let finishSlow: () => void = () => undefined;
  const server = await startApiServer(
    0,
    [
      { method: 'GET', path: '/fast', handle: () => ({ status: 200, body: { ok: true } }) },
      {
        method: 'GET',
        path: '/slow',
        handle: () => {
          started();
          return new Promise((resolve) => (finishSlow = () => resolve({ status: 202, body: { status: 'accepted' } })));
        },
      },
    ],
    () => undefined,
  );
  servers.push(server);
  const agent = new Agent({ keepAlive: true });
  expect((await get(`${server.url}/fast`, agent)).status).toBe(200); // a kept-alive connection, idle now

  const inFlight = get(`${server.url}/slow`, agent);
  await slowStarted;
  let closed = false;
  const closing = server.close().then(() => (closed = true));

  await expect(get(`${server.url}/fast`, new Agent())).rejects.toThrow(/ECONNREFUSED/);
  expect(closed, 'waits for the request in flight').toBe(false);
  finishSlow();
  expect(await inFlight).toEqual({ status: 202, connection: 'close', body: JSON.stringify({ status: 'accepted' }) });
  await closing;
  await server.close(); // idempotent
  agent.destroy();
});
