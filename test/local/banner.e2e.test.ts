/**
 * The start-up banner lists every address the runtime serves (issue 12, item 5: it lacked the
 * dashboard), and every address it lists answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRuntime, type RuntimeProcess } from '../support/runtime-process.ts';

let runtime: RuntimeProcess;
beforeAll(async () => {
  runtime = await startRuntime({ env: { CONVEYOR_LOG_FORMAT: 'pretty' }, args: ['--in-memory'] });
});
afterAll(async () => {
  await runtime?.stop();
});

describe('the start-up banner', () => {
  it('lists the API, the dashboard, the stats and the health check, and each answers', async () => {
    const banner = runtime
      .output()
      .split('\n')
      .filter((line) => /^ {2}\w/.test(line))
      .join('\n');
    const urls = [...new Set([...banner.matchAll(/http:\/\/127\.0\.0\.1:\d+\/[^\s)']*/g)].map((m) => m[0]))];
    expect(urls.length).toBeGreaterThanOrEqual(4);
    const answers = await Promise.all(urls.map(async (url) => ({ url, response: await fetch(url) })));
    for (const { url, response } of answers) expect(response.status, url).not.toBe(404);
    // The live page is one of them.
    expect(
      answers.some(
        ({ response }) =>
          response.status === 200 && (response.headers.get('content-type') ?? '').startsWith('text/html'),
      ),
    ).toBe(true);
    // So is the CLI: started on another port than its default, the banner says how to point it here.
    expect(banner).toContain(`npx conveyor status --url ${runtime.url}`);
  });
});
