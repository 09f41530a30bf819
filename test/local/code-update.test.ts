/**
 * A code update of a local function (what `npm start -- --watch` does on an edit), as Lambda
 * deploys one: the invocation running finishes on the old code, every later one runs the new code
 * in a fresh environment, and no invocation is dropped or run twice.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalFunction } from '../../lib/local/local-function.ts';
import { REGION } from '../support/local-aws.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));
const functions: LocalFunction[] = [];
afterEach(async () => {
  await Promise.all(functions.splice(0).map((f) => f.close()));
});

function fn(): LocalFunction {
  const f = new LocalFunction(
    {
      name: 'updated',
      handlerModule: join(FIXTURES, 'behave.ts'),
      environment: {},
      timeoutSeconds: 5,
      memoryMb: 128,
      maxConcurrency: 2,
      region: REGION,
    },
    () => undefined,
  );
  functions.push(f);
  return f;
}

describe('a code update', () => {
  it('lets the running invocation finish on the old code and runs the next ones on the new code', async () => {
    const f = fn();
    await Promise.all([f.invoke({ action: 'echo' }), f.invoke({ action: 'wait', ms: 50 })]);
    expect(f.stats.environments).toBe(2);
    const oldCode = f.codeSha256;

    const running = f.invoke({ action: 'wait', ms: 400 });
    await new Promise((r) => setTimeout(r, 100));
    f.updateCode(join(FIXTURES, 'version-two.ts'));
    // The idle environment of the old code is gone at once; the busy one is still working.
    expect(f.stats.environments).toBe(1);

    const next = await f.invoke({ action: 'echo' });
    expect(next).toMatchObject({ ok: true, coldStart: true, response: { version: 2, invocations: 1 } });
    expect(await running).toMatchObject({ ok: true, response: { waited: 400 } });
    // The old environment stopped after its invocation instead of serving another.
    await expect.poll(() => f.stats.environments).toBe(1);
    expect(await f.invoke({ action: 'echo' })).toMatchObject({
      ok: true,
      coldStart: false,
      response: { version: 2, invocations: 2 },
    });
    expect(f.codeSha256).not.toBe(oldCode);
    expect(f.stats.invocations).toBe(5);
  });

  it('hands a waiting invocation to an environment of the new code', async () => {
    const f = fn();
    f.maxConcurrency = 1;
    const first = f.invoke({ action: 'wait', ms: 300 });
    const waiting = f.invoke({ action: 'echo' });
    await new Promise((r) => setTimeout(r, 100));
    f.updateCode(join(FIXTURES, 'version-two.ts'));
    expect(await first).toMatchObject({ ok: true, response: { waited: 300 } });
    expect(await waiting).toMatchObject({ ok: true, coldStart: true, response: { version: 2 } });
  });
});
