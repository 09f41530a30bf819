/** `conveyor --help` and every command's help: what it does, its flags, and examples to copy. */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { withTimeout } from '../support/runtime-process.ts';
import { ROOT, runInProcess } from './support.ts';

const COMMANDS: Array<{ args: string[]; usage: string; flags: string[]; examples: string[] }> = [
  {
    args: ['status'],
    usage: 'Usage: conveyor status [options]',
    flags: ['--json'],
    examples: ['$ npx conveyor status', '$ npx conveyor status --target aws --stack Conveyor --region eu-west-1'],
  },
  {
    args: ['send'],
    usage: 'Usage: conveyor send [options]',
    flags: ['--count <n>', '--warehouse <id>', '--rate <perSecond>', '--file <path>', '--skip-invalid', '--json'],
    examples: ['$ npx conveyor send --count 10 --warehouse wh-1', '$ npx conveyor send --file orders.jsonl'],
  },
  {
    args: ['orders', 'get'],
    usage: 'Usage: conveyor orders get [options] <orderId>',
    flags: ['--json'],
    examples: ['$ npx conveyor orders get o-1'],
  },
  {
    args: ['orders', 'list'],
    usage: 'Usage: conveyor orders list [options]',
    flags: ['--status <states>', '--warehouse <id>', '--since <when>', '--limit <n>', '--json'],
    examples: [
      '$ npx conveyor orders list --status dead-lettered',
      '$ npx conveyor orders list --status dead-lettered,cancelled --warehouse wh-1 --since 1h',
    ],
  },
  {
    args: ['trace'],
    usage: 'Usage: conveyor trace [options] <orderId>',
    flags: ['--since <when>', '--json'],
    examples: ['$ npx conveyor trace o-1'],
  },
  {
    args: ['dlq', 'peek'],
    usage: 'Usage: conveyor dlq peek [options]',
    flags: [
      '--stage <stage>',
      '--warehouse <id>',
      '--limit <n>',
      '--grep <text>',
      '--order <orderId>',
      '--kind <kinds>',
      '--since <when>',
    ],
    examples: ['$ npx conveyor dlq peek --stage picking'],
  },
  {
    args: ['dlq', 'redrive'],
    usage: 'Usage: conveyor dlq redrive [options]',
    flags: ['--stage <stage>', '--rate <perSecond>', '--wait', '--dry-run', '--grep <text>', '--kind <kinds>'],
    examples: [
      '$ npx conveyor dlq redrive --stage picking --warehouse wh-1',
      '$ npx conveyor dlq redrive --stage picking --grep "scanner" --dry-run',
    ],
  },
  {
    args: ['dlq', 'export'],
    usage: 'Usage: conveyor dlq export [options]',
    flags: ['--stage <stage>', '--out <file>', '--force', '--grep <text>'],
    examples: ['$ npx conveyor dlq export --stage packing --kind rejected --out dead.jsonl'],
  },
  {
    args: ['orders', 'cancel'],
    usage: 'Usage: conveyor orders cancel [options] [orderIds...]',
    flags: ['--file <path>', '--json'],
    examples: ['$ npx conveyor orders cancel o-1', '$ npx conveyor orders cancel --file ids.txt'],
  },
  {
    args: ['pause'],
    usage: 'Usage: conveyor pause [options]',
    flags: ['--stage <stage>', '--warehouse <id>'],
    examples: ['$ npx conveyor pause --stage packing'],
  },
  {
    args: ['resume'],
    usage: 'Usage: conveyor resume [options]',
    flags: ['--stage <stage>'],
    examples: ['$ npx conveyor resume --stage packing'],
  },
  {
    args: ['scale'],
    usage: 'Usage: conveyor scale [options]',
    flags: ['--max-concurrency <n>'],
    examples: ['$ npx conveyor scale --stage picking --max-concurrency 20'],
  },
  {
    args: ['purge'],
    usage: 'Usage: conveyor purge [options]',
    flags: ['--yes'],
    examples: ['$ npx conveyor purge --stage picking --warehouse wh-1 --yes'],
  },
  {
    args: ['dlq'],
    usage: 'Usage: conveyor dlq [options] [command]',
    flags: [],
    examples: ['$ npx conveyor dlq peek --stage picking'],
  },
  {
    args: ['orders'],
    usage: 'Usage: conveyor orders [options] [command]',
    flags: [],
    examples: ['$ npx conveyor orders get o-1'],
  },
];

describe('help', () => {
  it('conveyor --help: every command, the target flags, examples (through `npx conveyor`, the package bin)', async () => {
    const child = spawn('npx', ['conveyor', '--help'], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await withTimeout(
      new Promise<number | null>((resolve) => child.once('close', resolve)),
      30_000,
      'npx conveyor --help did not finish',
    );
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: conveyor <command> [options]');
    for (const command of ['status', 'send', 'orders', 'trace', 'dlq', 'pause', 'resume', 'scale', 'purge'])
      expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    for (const flag of [
      '--target <target>',
      '--url <url>',
      '--stack <name>',
      '--region <region>',
      '--profile <profile>',
    ])
      expect(stdout).toContain(flag);
    expect(stdout).toContain('Examples:');
    expect(stdout).toContain('$ npx conveyor dlq redrive --stage picking --warehouse wh-1');
    expect(stdout).toContain('CONVEYOR_DEBUG=1');
  });

  for (const { args, usage, flags, examples } of COMMANDS) {
    it(`conveyor ${args.join(' ')} --help`, async () => {
      const run = await runInProcess([...args, '--help']);
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.stdout).toContain(usage);
      for (const flag of flags) expect(run.stdout).toContain(flag);
      expect(run.stdout).toContain('Examples:');
      for (const example of examples) expect(run.stdout).toContain(example);
      if (!['dlq', 'orders'].includes(args.join(' '))) expect(run.stdout).toContain('Global Options:');
      // Readable: no line wider than the help width.
      for (const line of run.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(120);
    });
  }

  it('conveyor help dlq (the help command) matches dlq --help', async () => {
    const viaCommand = await runInProcess(['help', 'dlq']);
    expect(viaCommand.code).toBe(0);
    expect(viaCommand.stdout).toBe((await runInProcess(['dlq', '--help'])).stdout);
  });
});
