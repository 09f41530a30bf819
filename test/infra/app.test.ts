/**
 * bin/conveyor.ts as `cdk synth` runs it: a child process given context through CDK_CONTEXT_JSON
 * and an output directory through CDK_OUTDIR. Bundling is skipped; cdk-nag runs.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { StackOutput } from '../../lib/contract/index.ts';
import { CDK_CONTEXT, resolveCfn } from '../support/cdk-app.ts';

const APP = fileURLToPath(new URL('../../bin/conveyor.ts', import.meta.url));
const outdirs: string[] = [];

afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly outdir: string;
}

/** Runs the app like the CDK CLI does, with `context` on top of cdk.json's. */
function runApp(context: Record<string, unknown>): Promise<Run> {
  const outdir = mkdtempSync(join(tmpdir(), 'conveyor-app-'));
  outdirs.push(outdir);
  const env = {
    ...process.env,
    CDK_CONTEXT_JSON: JSON.stringify({ ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context }),
    CDK_OUTDIR: outdir,
    CDK_VALIDATION: 'false',
  };
  return new Promise((resolve) => {
    execFile(process.execPath, [APP], { env, timeout: 90_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr, outdir });
    });
  });
}

const noStackTrace = (text: string) => expect(text).not.toMatch(/^\s+at /m);

describe('bin/conveyor.ts', () => {
  it.concurrent('synthesizes the stack under the name from context, topology passed as a JSON string like -c does', async () => {
    const run = await runApp({ stackName: 'Conveyor-Test', conveyor: JSON.stringify({ warehouses: ['wh-9'] }) });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const template = JSON.parse(readFileSync(join(run.outdir, 'Conveyor-Test.template.json'), 'utf8'));
    const topology = JSON.parse(resolveCfn(template.Outputs[StackOutput.topology].Value, ({ logicalId }) => logicalId));
    expect(topology.pipelines.map((p: { id: string }) => p.id)).toEqual(['wh-9']);
    const manifest = JSON.parse(readFileSync(join(run.outdir, 'manifest.json'), 'utf8'));
    expect(manifest.artifacts['Conveyor-Test'].type).toBe('aws:cloudformation:stack');
    // cdk-nag ran, and its acknowledgements are in the template for auditors.
    expect(JSON.stringify(template)).toContain('rules_to_suppress');
  });

  it.concurrent('prints one clean error and exits 1 on an invalid topology', async () => {
    const run = await runApp({
      conveyor: JSON.stringify({
        warehouses: ['WH 1'],
        stages: { packing: { batchSize: 50, maxBatchingWindowSeconds: 0 } },
      }),
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^Invalid Conveyor topology \(cdk\.json context "conveyor"\):\n/);
    expect(run.stderr).toContain('warehouses.0');
    noStackTrace(run.stderr);
  });

  it.concurrent('prints one clean error and exits 1 when the topology is not JSON', async () => {
    const run = await runApp({ conveyor: '{warehouses: [wh-1]' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('is not valid JSON');
    noStackTrace(run.stderr);
  });

  it.concurrent('rejects a manageApiGatewayAccountLogRole that is neither true nor false', async () => {
    const run = await runApp({ manageApiGatewayAccountLogRole: 'yes' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^Invalid context "manageApiGatewayAccountLogRole": "yes"; use -c manageApiGatewayAccountLogRole=true or/,
    );
    noStackTrace(run.stderr);
  });

  it.concurrent('rejects a stack name CloudFormation would refuse', async () => {
    const run = await runApp({ stackName: 'conveyor_prod' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^Invalid context "stackName": "conveyor_prod"/);
    noStackTrace(run.stderr);
  });
});
