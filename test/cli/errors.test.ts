/**
 * Every way a command can go wrong ends in ONE line on stderr that names the problem and the fix,
 * with a non-zero exit code and no stack trace (unless CONVEYOR_DEBUG=1).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort, tempDir } from '../support/runtime-process.ts';
import { lines, runChild, runInProcess, stackOutputs } from './support.ts';

const cfn = mockClient(CloudFormationClient);
const AWS = ['--target', 'aws', '--region', 'us-east-1'];

/** A stand-in runtime that only knows its topology (for checks made before any operation). */
let fake: Server;
let fakeUrl: string;
beforeAll(async () => {
  fake = createServer((request, response) => {
    if (request.url === '/api/topology') {
      const stages = ['picking', 'packing', 'delivery'].map((name) => ({ name, maxConcurrency: 2 }));
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          pipelines: [
            { id: 'wh-1', stages },
            { id: 'wh-2', stages },
          ],
        }),
      );
    } else {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    }
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => fake.close(resolve));
  cfn.restore();
});
beforeEach(() => cfn.reset());

/** The run failed with exactly one line on stderr, nothing on stdout, and no stack trace. */
function expectOneLine(run: { code: number | null; stdout: string; stderr: string }, code: number): string {
  expect(run.code).toBe(code);
  expect(run.stdout).toBe('');
  const output = lines(run.stderr);
  expect(output, run.stderr).toHaveLength(1);
  expect(run.stderr).not.toMatch(/^\s+at /m);
  expect(output[0]).toMatch(/^conveyor: /);
  return output[0] as string;
}

describe('the local runtime is not running', () => {
  it('says so and how to start it (a child process, as a user runs it)', async () => {
    const port = await freePort();
    const run = await runChild(['status', '--url', `http://127.0.0.1:${port}`]);
    expect(expectOneLine(run, 1)).toBe(
      `conveyor: no Conveyor runtime at http://127.0.0.1:${port} — start it with \`npm start\`, or pass --url`,
    );
  });

  it('names the default URL, or CONVEYOR_URL', async () => {
    const refused = async () => {
      throw Object.assign(new TypeError('fetch failed'), {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3000'), { code: 'ECONNREFUSED' }),
      });
    };
    expect(expectOneLine(await runInProcess(['dlq', 'peek', '--stage', 'picking'], { fetch: refused }), 1)).toBe(
      'conveyor: no Conveyor runtime at http://127.0.0.1:3000 — start it with `npm start`, or pass --url',
    );
    expect(
      expectOneLine(
        await runInProcess(['status'], { fetch: refused, env: { CONVEYOR_URL: 'http://127.0.0.1:4555' } }),
        1,
      ),
    ).toContain('no Conveyor runtime at http://127.0.0.1:4555');
  });

  it('something else answers at the URL', async () => {
    const other = createServer((_request, response) => response.writeHead(404).end('Not Found'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    try {
      expect(expectOneLine(await runInProcess(['pause', '--stage', 'picking', '--url', url]), 1)).toBe(
        `conveyor: ${url} does not look like a Conveyor runtime (GET /api/topology answered 404) — pass the --url \`npm start\` printed`,
      );
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });
});

describe('unknown stage or warehouse', () => {
  it('a stage name that cannot be one, before anything is contacted', async () => {
    expect(expectOneLine(await runInProcess(['pause', '--stage', 'Boxing!']), 2)).toMatch(
      /^conveyor: "Boxing!" is not a stage name — stages are named with lowercase letters, digits and dashes/,
    );
  });

  it("an unknown stage, named against the target's stages", async () => {
    expect(expectOneLine(await runInProcess(['dlq', 'peek', '--stage', 'boxing', '--url', fakeUrl]), 2)).toBe(
      'conveyor: unknown stage "boxing" — stages are picking, packing, delivery (see `conveyor status`)',
    );
  });

  it("an unknown warehouse, named against the target's warehouses", async () => {
    expect(
      expectOneLine(
        await runInProcess(['dlq', 'peek', '--stage', 'picking', '--warehouse', 'wh-9', '--url', fakeUrl]),
        2,
      ),
    ).toBe(
      'conveyor: unknown warehouse "wh-9" — warehouses are wh-1, wh-2 (e.g. --warehouse wh-1), or leave --warehouse out for all',
    );
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'Conveyor',
          StackStatus: 'CREATE_COMPLETE',
          CreationTime: new Date(),
          Outputs: stackOutputs('https://x.execute-api.us-east-1.amazonaws.com/prod/'),
        },
      ],
    });
    expect(
      expectOneLine(
        await runInProcess([...AWS, 'scale', '--stage', 'picking', '--warehouse', 'eu-1', '--max-concurrency', '5']),
        2,
      ),
    ).toContain('unknown warehouse "eu-1" — warehouses are wh-1, wh-2');
  });
});

describe('AWS: credentials, region and the stack', () => {
  it('no credentials: configure a profile or pass --profile (a child process with an empty AWS configuration)', async () => {
    const home = tempDir('conveyor-cli-home-');
    try {
      const env = {
        HOME: home.path,
        AWS_CONFIG_FILE: `${home.path}/none`,
        AWS_SHARED_CREDENTIALS_FILE: `${home.path}/none`,
        AWS_EC2_METADATA_DISABLED: 'true',
      };
      const line = expectOneLine(await runChild(['status', ...AWS], env), 1);
      expect(line).toMatch(
        /^conveyor: no AWS credentials \(.+\) — configure a profile \(`aws configure` or `aws sso login`\) and pass --profile, or set AWS_ACCESS_KEY_ID\/AWS_SECRET_ACCESS_KEY$/,
      );
      expect(expectOneLine(await runChild(['status', ...AWS, '--profile', 'ops'], env), 1)).toContain(
        'no AWS credentials for profile "ops"',
      );
    } finally {
      home.remove();
    }
  });

  it('no region: pass --region', async () => {
    const home = tempDir('conveyor-cli-home-');
    try {
      const env = {
        HOME: home.path,
        AWS_CONFIG_FILE: `${home.path}/none`,
        AWS_SHARED_CREDENTIALS_FILE: `${home.path}/none`,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_ACCESS_KEY_ID: 'AKIDTEST',
        AWS_SECRET_ACCESS_KEY: 'secret',
      };
      expect(expectOneLine(await runChild(['status', '--target', 'aws'], env), 2)).toBe(
        'conveyor: no AWS region — pass --region (e.g. --region eu-west-1) or set AWS_REGION',
      );
    } finally {
      home.remove();
    }
  });

  it('a stack that does not exist', async () => {
    cfn
      .on(DescribeStacksCommand)
      .rejects(Object.assign(new Error('Stack with id Nope does not exist'), { name: 'ValidationError' }));
    expect(expectOneLine(await runInProcess([...AWS, '--stack', 'Nope', 'status']), 1)).toBe(
      'conveyor: stack "Nope" does not exist in us-east-1 — deploy it with `npx cdk deploy`, or pass --stack NAME and --region R',
    );
  });

  it('a stack without Conveyor outputs', async () => {
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'Website',
          StackStatus: 'CREATE_COMPLETE',
          CreationTime: new Date(),
          Outputs: [{ OutputKey: 'BucketName', OutputValue: 'site' }],
        },
      ],
    });
    const line = expectOneLine(
      await runInProcess([...AWS, '--stack', 'Website', 'dlq', 'peek', '--stage', 'picking']),
      1,
    );
    expect(line).toBe(
      'conveyor: stack "Website" has no Conveyor Topology output (found only BucketName) — pass --stack with the name of a Conveyor stack, or redeploy it with this version of Conveyor (`npx cdk deploy`)',
    );
  });

  it('AWS-only flags without --target aws, and --url with it', async () => {
    expect(expectOneLine(await runInProcess(['status', '--stack', 'Conveyor']), 2)).toBe(
      'conveyor: --stack applies to a deployed stack — add --target aws (or leave it out for the local runtime)',
    );
    expect(expectOneLine(await runInProcess(['status', ...AWS, '--url', 'http://127.0.0.1:3000']), 2)).toContain(
      '--url applies to the local runtime',
    );
  });
});

describe('invalid flag values, before anything is contacted', () => {
  const cases: Array<[string[], string]> = [
    [
      ['send', '--count', '0'],
      'conveyor: --count must be a whole number from 1 to 1,000,000, got "0" — e.g. --count 100',
    ],
    [
      ['send', '--count', '10', '--rate', '-1'],
      'conveyor: --rate must be a number above 0 and at most 100,000, got "-1" — e.g. --rate 200',
    ],
    [
      ['scale', '--stage', 'picking', '--max-concurrency', '1'],
      'conveyor: --max-concurrency must be a whole number from 2 to 1,000, got "1" — e.g. --max-concurrency 20',
    ],
    [
      ['dlq', 'peek', '--stage', 'picking', '--limit', '1000'],
      'conveyor: --limit must be a whole number from 1 to 100, got "1000" — e.g. --limit 50',
    ],
    [
      ['dlq', 'redrive', '--stage', 'picking', '--rate', '0'],
      'conveyor: --rate must be a whole number from 1 to 500, got "0" — e.g. --rate 50',
    ],
    [
      ['send'],
      'conveyor: send needs --count N (generate N orders) or --file orders.jsonl — e.g. conveyor send --count 100',
    ],
    [
      ['purge', '--stage', 'picking'],
      'conveyor: purge needs --warehouse: it empties one queue at a time (e.g. conveyor purge --stage picking --warehouse wh-1 --yes)',
    ],
    [
      ['orders', 'get', 'bad/id'],
      'conveyor: "bad/id" is not an order id — ids are 1–64 letters, digits, ".", "_", ":" or "-", starting with a letter or digit',
    ],
    [
      ['status', '--url', 'ftp://localhost:3000'],
      'conveyor: --url must be an http:// address such as http://127.0.0.1:3000, got "ftp://localhost:3000"',
    ],
  ];
  for (const [args, message] of cases) {
    it(`conveyor ${args.join(' ')}`, async () => {
      expect(
        expectOneLine(
          await runInProcess(args, {
            fetch: async () => {
              throw new Error('must not be called');
            },
          }),
          2,
        ),
      ).toBe(message);
    });
  }

  it("commander's own errors: a missing flag, an unknown option or command, a bad choice", async () => {
    expect(expectOneLine(await runInProcess(['scale', '--stage', 'picking']), 2)).toBe(
      "conveyor: required option '--max-concurrency <n>' not specified — run with --help for usage and examples",
    );
    expect(expectOneLine(await runInProcess(['status', '--jsno']), 2)).toMatch(
      /^conveyor: unknown option '--jsno'.*— run with --help for usage and examples$/,
    );
    expect(expectOneLine(await runInProcess(['stauts']), 2)).toMatch(/^conveyor: unknown command 'stauts'/);
    expect(expectOneLine(await runInProcess(['status', '--target', 'gcp']), 2)).toMatch(
      /^conveyor: option '--target <target>' argument 'gcp' is invalid\. Allowed choices are local, aws — run with --help/,
    );
  });

  it('a bad --file: each bad line with its number, then one line saying nothing was sent', async () => {
    const dir = tempDir('conveyor-cli-file-');
    try {
      const { writeFileSync } = await import('node:fs');
      const file = `${dir.path}/orders.jsonl`;
      writeFileSync(
        file,
        '{"warehouseId":"wh-1","items":[{"sku":"SKU-1","quantity":2}]}\n{"items":[{"sku":"SKU-1","quantity":0}]}\nnot json\n',
      );
      let posted = false;
      const fetchStub: typeof fetch = async (input) => {
        if (String(input).endsWith('/orders')) posted = true;
        return new Response(JSON.stringify({ pipelines: [{ id: 'wh-1', stages: [] }] }), { status: 200 });
      };
      const run = await runInProcess(['send', '--file', file], { fetch: fetchStub });
      expect(run.code).toBe(2);
      expect(lines(run.stderr)).toEqual([
        `${file}:2: items.0.quantity: must be at least 1`,
        `${file}:3: not valid JSON (Unexpected token 'o', "not json" is not valid JSON)`,
        `conveyor: 2 bad lines in ${file} (listed above); nothing was sent — fix them, or pass --skip-invalid to send the valid one`,
      ]);
      expect(posted).toBe(false);
      expect(
        expectOneLine(await runInProcess(['send', '--file', `${dir.path}/missing.jsonl`], { fetch: fetchStub }), 2),
      ).toBe(
        `conveyor: cannot read --file ${dir.path}/missing.jsonl: no such file — pass a JSON Lines file, one order per line`,
      );
    } finally {
      dir.remove();
    }
  });
});

describe('the unexpected', () => {
  it('one line pointing at CONVEYOR_DEBUG; with it, the stack trace too', async () => {
    cfn.on(DescribeStacksCommand).rejects(new Error('boom'));
    expect(expectOneLine(await runInProcess([...AWS, 'status']), 1)).toBe(
      'conveyor: unexpected error: boom (set CONVEYOR_DEBUG=1 to see where)',
    );
    const debug = await runInProcess([...AWS, 'status'], { env: { CONVEYOR_DEBUG: '1' } });
    expect(debug.code).toBe(1);
    expect(lines(debug.stderr)[0]).toBe('conveyor: unexpected error: boom (set CONVEYOR_DEBUG=1 to see where)');
    expect(debug.stderr).toMatch(/^\s+at /m);
  });
});
