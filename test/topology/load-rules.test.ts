/**
 * The loader's rules one by one, with the error each refusal gives: the field path, the rule, and
 * what the operator wrote. Limits come from the exported constants (lib/topology/limits.ts,
 * lib/contract/limits.ts), so the boundary inputs follow them.
 */
import { describe, expect, it } from 'vitest';
import { MAX_STAGES_PER_STACK, MAX_WAREHOUSES_PER_STACK } from '../../lib/contract/index.ts';
import { DEFAULT_API, DEFAULT_INTAKE, defaultStage } from '../../lib/topology/defaults.ts';
import {
  findStage,
  loadTopology,
  minimumVisibilitySeconds,
  RETRY_BUDGET_SHARE_OF_RETENTION,
  retryBudgetSeconds,
  TopologyError,
} from '../../lib/topology/index.ts';
import { issuesOf } from '../support/topology-issues.ts';

const DAY = 86_400;

/** The error the loader throws for `input`. */
function errorOf(input: unknown, source?: string): TopologyError {
  try {
    loadTopology(input, source);
  } catch (error) {
    expect(error).toBeInstanceOf(TopologyError);
    return error as TopologyError;
  }
  throw new Error('expected the topology to be rejected');
}

/** `n` distinct stage names that follow the stage-name rule. */
const stageNames = (n: number, prefix = 's') => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

describe('the error', () => {
  it('is a TopologyError whose message lists each issue on its own line under where the configuration came from', () => {
    const error = errorOf({ tracking: 'some', api: { throttleRateLimit: 0 } }, 'examples/x.json');
    expect(error.name).toBe('TopologyError');
    expect(error.issues).toHaveLength(2);
    expect(error.message).toBe(
      `Invalid Conveyor topology (examples/x.json):\n  - ${error.issues[0]}\n  - ${error.issues[1]}`,
    );
  });

  it('says the configuration came from cdk.json context "conveyor" when no source is given', () => {
    expect(errorOf({ tracking: 'some' }).message).toMatch(
      /^Invalid Conveyor topology \(cdk\.json context "conveyor"\):/,
    );
  });

  it.each([
    ['a string, quoted', 'lots', '"lots"'],
    ['null', null, 'null'],
    ['a boolean', true, 'true'],
    ['an object', {}, 'an object'],
    ['an array', [256], 'an array'],
    ['a function, by its type', () => 256, 'function'],
  ])('describes the value it got: %s', (_, value, described) => {
    expect(issuesOf({ stages: { picking: { memoryMb: value } } })).toEqual([
      `stages.picking.memoryMb: must be a number, got ${described}`,
    ]);
  });

  it('describes a missing value as nothing', () => {
    expect(issuesOf({ pipelines: { 'wh-1': undefined } })).toEqual(['pipelines.wh-1: must be an object, got nothing']);
  });

  it('refuses a fraction where a whole number is needed, naming the field and the value', () => {
    expect(issuesOf({ stages: { picking: { memoryMb: 200.5 } } })).toEqual([
      'stages.picking.memoryMb: must be a whole number, got 200.5',
    ]);
  });

  it('lists every unknown setting, quoted, and the settings it knows', () => {
    expect(issuesOf({ intake: { memory: 1, timeout: 2 } })).toEqual([
      'intake: unknown setting "memory", "timeout"; known settings: memoryMb, timeoutSeconds',
    ]);
  });
});

describe('stage settings', () => {
  it('accepts a handler named like a module in handlers/: a lowercase letter, then letters, digits and dashes', () => {
    for (const handler of ['p', 'pack', 'labeller-2', 'a-1-b'])
      expect(issuesOf({ stages: { packing: { handler } } }), handler).toEqual([]);
    expect(
      findStage(loadTopology({ stages: { packing: { handler: 'labeller-2' } } }), 'wh-1', 'packing')?.handler,
    ).toBe('labeller-2');
  });

  it.each(['Packing', '2pack', '-pack', 'pack_ing', 'pack!', 'pack ', '', 'handlers/pack'])(
    'refuses the handler %j, saying what a handler name is',
    (handler) => {
      expect(issuesOf({ stages: { packing: { handler } } })).toEqual([
        'stages.packing.handler: must name a module in handlers/ (lowercase letters, digits, dashes)',
      ]);
    },
  );

  it('refuses an error-rate threshold that is not a number or above 100 %', () => {
    const rate = (maxErrorRatePercent: unknown) => ({ stages: { picking: { alarms: { maxErrorRatePercent } } } });
    expect(issuesOf(rate('5%'))).toEqual(['stages.picking.alarms.maxErrorRatePercent: must be a number, got "5%"']);
    expect(issuesOf(rate(100.5))).toEqual([
      'stages.picking.alarms.maxErrorRatePercent: must be at most 100 (a percentage of invocations)',
    ]);
  });

  it('refuses a breaker switch that is not true or false', () => {
    expect(issuesOf({ stages: { picking: { breaker: { enabled: 'yes' } } } })).toEqual([
      'stages.picking.breaker.enabled: must be true or false, got "yes"',
    ]);
    expect(
      findStage(loadTopology({ stages: { picking: { breaker: { enabled: false } } } }), 'wh-1', 'picking')?.breaker
        .enabled,
    ).toBe(false);
  });

  it('takes a breaker window in whole minutes only (a CloudWatch period)', () => {
    const window = (windowSeconds: number) => ({ stages: { picking: { breaker: { windowSeconds } } } });
    expect(issuesOf(window(120))).toEqual([]);
    expect(findStage(loadTopology(window(180)), 'wh-2', 'picking')?.breaker.windowSeconds).toBe(180);
    expect(issuesOf(window(90))).toEqual(['stages.picking.breaker.windowSeconds: must be a multiple of 60']);
  });
});

describe('chains', () => {
  it('refuses a badly formed stage name in a chain, quoting it and stating the rule', () => {
    expect(issuesOf({ chain: ['picking', 'Packing'] })).toEqual([
      'chain.1: stage name "Packing" must be 2–20 lowercase letters, digits or dashes, starting with a letter and not ending with a dash',
    ]);
  });

  it('refuses a chain that is not a list, or is empty', () => {
    expect(issuesOf({ chain: 'picking' })).toEqual([
      'chain: must be a list of stage names, in the order orders pass them, got "picking"',
    ]);
    expect(issuesOf({ chain: [] })).toEqual(['chain: needs at least one stage']);
    expect(issuesOf({ pipelines: { 'wh-2': { chain: [] } } })).toEqual([
      'pipelines.wh-2.chain: needs at least one stage',
    ]);
  });

  it('refuses a chain that lists a stage twice, naming each repeated stage once', () => {
    expect(issuesOf({ chain: ['picking', 'packing', 'picking', 'packing', 'picking'] })).toEqual([
      'chain: lists a stage twice (picking, packing); a stage comes once per pipeline',
    ]);
    expect(issuesOf({ chain: ['picking', 'packing'] })).toEqual([]);
  });

  it('refuses a badly formed stage name as a key of stages, stating the stage-name rule', () => {
    expect(issuesOf({ stages: { Picking: {} } })).toEqual([
      'stages.Picking: stage name "Picking" must be 2–20 lowercase letters, digits or dashes, starting with a letter and not ending with a dash',
    ]);
  });

  it('refuses stages that are not an object keyed by stage name', () => {
    expect(issuesOf({ stages: 5 })).toEqual(['stages: must be an object keyed by stage name, got 5']);
    expect(issuesOf({ pipelines: { 'wh-1': { stages: ['picking'] } } })).toEqual([
      'pipelines.wh-1.stages: must be an object keyed by stage name, got an array',
    ]);
  });

  it("refuses a warehouse's settings for a stage outside its own chain, showing the chain", () => {
    expect(issuesOf({ pipelines: { 'wh-2': { stages: { labelling: {} } } } })).toEqual([
      'pipelines.wh-2.stages.labelling: not a stage of wh-2; its chain is picking → packing → delivery',
    ]);
    expect(
      issuesOf({
        pipelines: { 'wh-2': { chain: ['picking', 'labelling'], stages: { labelling: { memoryMb: 512 } } } },
      }),
    ).toEqual([]);
  });

  it('holds at most MAX_STAGES_PER_STACK stages over every warehouse × its chain', () => {
    // wh-1 keeps the default chain; wh-2 brings the rest.
    const defaultLength = loadTopology().pipelines[0]!.stages.length;
    const topology = (total: number) => ({ pipelines: { 'wh-2': { chain: stageNames(total - defaultLength) } } });
    expect(issuesOf(topology(MAX_STAGES_PER_STACK))).toEqual([]);
    expect(issuesOf({ warehouses: ['solo'], chain: stageNames(MAX_STAGES_PER_STACK) })).toEqual([]);
    const refused = issuesOf(topology(MAX_STAGES_PER_STACK + 1));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatch(
      new RegExp(
        `^chain: ${MAX_STAGES_PER_STACK + 1} stages in all \\(every warehouse × its chain\\), but one stack holds at most ${MAX_STAGES_PER_STACK} `,
      ),
    );
    expect(refused[0]).toContain('deploy some warehouses as a second stack: npx cdk deploy -c stackName=Conveyor-2');
  });
});

describe('warehouses and pipelines', () => {
  it('refuses warehouses that are not a list', () => {
    expect(issuesOf({ warehouses: 'wh-1' })).toEqual(['warehouses: must be a list of warehouse ids, got "wh-1"']);
  });

  it('names every warehouse listed more than once', () => {
    expect(issuesOf({ warehouses: ['a', 'b', 'a', 'c', 'b'] })).toEqual(['warehouses: a, b listed more than once']);
  });

  it('says how to deploy the warehouses past the limit as a second stack', () => {
    const ids = Array.from({ length: MAX_WAREHOUSES_PER_STACK + 1 }, (_, i) => `wh-${i + 1}`);
    expect(issuesOf({ warehouses: ids })[0]).toMatch(
      /deploy the others as a second stack: npx cdk deploy -c stackName=Conveyor-2 -c conveyor='\{"warehouses": \[\.\.\.\]\}'$/,
    );
  });

  it('refuses pipelines that are not an object keyed by warehouse id', () => {
    expect(issuesOf({ pipelines: [] })).toEqual(['pipelines: must be an object keyed by warehouse id, got an array']);
  });
});

describe('api', () => {
  const arn = (s: string) => ({ api: { wafWebAclArn: s } });
  const account = '123456789012';

  it('accepts the ARN of a regional WAFv2 web ACL, in any AWS partition', () => {
    for (const ok of [
      `arn:aws:wafv2:eu-west-1:${account}:regional/webacl/orders/0f1e2d3c`,
      `arn:aws-cn:wafv2:cn-north-1:${account}:regional/webacl/orders/0f1e2d3c`,
      `arn:aws-us-gov:wafv2:us-gov-west-1:${account}:regional/webacl/a`,
    ]) {
      expect(issuesOf(arn(ok)), ok).toEqual([]);
      expect(loadTopology(arn(ok)).api.wafWebAclArn).toBe(ok);
    }
  });

  it.each([
    ['text before the ARN', `x-arn:aws:wafv2:eu-west-1:${account}:regional/webacl/orders/1`],
    ['a partition not of aws', `arn:awz:wafv2:eu-west-1:${account}:regional/webacl/orders/1`],
    ['a partition with digits', `arn:aws2:wafv2:eu-west-1:${account}:regional/webacl/orders/1`],
    ['no region', `arn:aws:wafv2::${account}:regional/webacl/orders/1`],
    ['an uppercase region', `arn:aws:wafv2:EU-WEST-1:${account}:regional/webacl/orders/1`],
    ['an 11-digit account', `arn:aws:wafv2:eu-west-1:${account.slice(1)}:regional/webacl/orders/1`],
    ['a 13-digit account', `arn:aws:wafv2:eu-west-1:${account}0:regional/webacl/orders/1`],
    ['a non-numeric account', 'arn:aws:wafv2:eu-west-1:abcdefghijkl:regional/webacl/orders/1'],
    ['a global (CloudFront) ACL', `arn:aws:wafv2:us-east-1:${account}:global/webacl/orders/1`],
    ['no ACL name', `arn:aws:wafv2:eu-west-1:${account}:regional/webacl/`],
    ['a second line', `arn:aws:wafv2:eu-west-1:${account}:regional/webacl/orders\nrm`],
  ])('refuses a WAF ARN with %s, saying what it must be', (_, value) => {
    expect(issuesOf(arn(value))).toEqual([
      'api.wafWebAclArn: must be the ARN of a regional WAFv2 web ACL (arn:aws:wafv2:<region>:<account>:regional/webacl/...)',
    ]);
  });

  it('keeps the defaults of the API and intake settings not overridden', () => {
    const topology = loadTopology({ api: { throttleRateLimit: 7 }, intake: { memoryMb: 512 } });
    expect(topology.api).toEqual({ ...DEFAULT_API, throttleRateLimit: 7 });
    expect(topology.intake).toEqual({ ...DEFAULT_INTAKE, memoryMb: 512 });
    expect(topology.api.authorization).toBe(DEFAULT_API.authorization);
    expect(topology.intake.timeoutSeconds).toBe(DEFAULT_INTAKE.timeoutSeconds);
  });
});

describe('retention', () => {
  it("accepts CloudWatch's log retention periods and refuses any other, listing them", () => {
    for (const logDays of [1, 3, 731, 3653]) {
      expect(issuesOf({ retention: { logDays } }), String(logDays)).toEqual([]);
      expect(loadTopology({ retention: { logDays } }).retention.logDays).toBe(logDays);
    }
    for (const logDays of [0, 2, 3654]) {
      expect(issuesOf({ retention: { logDays } }), String(logDays)).toEqual([
        expect.stringMatching(
          /^retention\.logDays: must be one of CloudWatch's retention periods: 1, 3, 5, 7, 14, 30, /,
        ),
      ]);
    }
  });

  it('explains why dead letters must be kept longer than queued work', () => {
    expect(issuesOf({ retention: { queueDays: 13, deadLetterDays: 13 } })).toEqual([
      'retention.deadLetterDays 13 must be longer than retention.queueDays 13: a message moved by the redrive policy keeps its original enqueue time, so a shorter DLQ retention can delete it at once',
    ]);
  });
});

describe('retries within half the queue retention', () => {
  const queueDays = 1;
  const allowed = queueDays * DAY * RETRY_BUDGET_SHARE_OF_RETENTION;
  const receives = 2;
  const base = defaultStage('picking');
  // Each receive waits the visibility timeout (longer than the default backoff cap): the budget is receives × it.
  const atVisibility = (visibilityTimeoutSeconds: number) => ({
    retention: { queueDays },
    stages: { picking: { maxReceiveCount: receives, visibilityTimeoutSeconds } },
  });

  it('accepts retries that take exactly the allowed share, and refuses one second more', () => {
    const exact = allowed / receives;
    expect(base.backoff.capSeconds).toBeLessThan(exact);
    expect(retryBudgetSeconds({ ...base, maxReceiveCount: receives, visibilityTimeoutSeconds: exact })).toBe(allowed);
    expect(issuesOf(atVisibility(exact))).toEqual([]);
    expect(issuesOf(atVisibility(exact + 1))).toHaveLength(1);
  });

  it('states the retries, the receives, the backoff cap and the visibility timeout against the retention, in hours', () => {
    const visibility = allowed / receives + 1;
    expect(issuesOf(atVisibility(visibility))).toEqual([
      `stages.picking: its retries can take 12.0 h (${receives} receives, backoff up to ${base.backoff.capSeconds} s, visibility ${visibility} s), ` +
        `more than 50 % of retention.queueDays ${queueDays} (12.0 h): SQS would delete messages still being retried; ` +
        'lower maxReceiveCount or backoff.capSeconds, or raise retention.queueDays',
    ]);
  });

  it('counts in days from two days on, and names the visibility timeout it derived', () => {
    // Four days of retention allow exactly two days of retries.
    const issues = issuesOf({
      retention: { queueDays: 4 },
      pipelines: { 'wh-1': { stages: { packing: { maxReceiveCount: 1000 } } } },
    });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^pipelines\.wh-1\.stages\.packing: its retries can take \d+\.\d days \(1000 receives, /);
    expect(issues[0]).toContain(`visibility ${minimumVisibilitySeconds(base)} s), `);
    expect(issues[0]).toContain('of retention.queueDays 4 (2.0 days)');
  });
});
