/**
 * Brings the local emulators in line with the topology, as a deploy would: creates the queues,
 * dead-letter queues and status table that are missing, updates queue attributes that differ in
 * place (what CloudFormation does for an SQS queue: no replacement, the messages stay), and
 * reports queues of stages that are no longer in the topology instead of deleting what they hold.
 * Stored orders and queued messages survive every change it makes.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  waitUntilTableExists,
  type DynamoDBClient,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ListQueueTagsCommand,
  paginateListQueues,
  SetQueueAttributesCommand,
  type QueueAttributeName,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { LISTING_INDEX } from '../ledger/listing.ts';
import { hasListingIndex, rebuildWithListingIndex, resumeRebuild, statusTableDefinition } from './ledger-table.ts';
import { allStages, deadLetterQueueSettings, queueSettings, type Stage, type Topology } from '../topology/index.ts';

export interface LocalStageResources {
  readonly stage: Stage;
  readonly queueName: string;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly deadLetterQueueUrl: string;
  readonly deadLetterQueueArn: string;
}

export interface LocalResources {
  readonly tableName: string;
  /** By stage key, e.g. `wh-1/picking`. */
  readonly stages: ReadonlyMap<string, LocalStageResources>;
}

/** One queue attribute brought to the topology's value. */
export interface AttributeChange {
  readonly queue: string;
  readonly attribute: string;
  /** The value before; undefined when the queue had none (SQS's default applied). */
  readonly from: string | undefined;
  readonly to: string;
}

/** Queues of a stage that is no longer in the topology: kept, with what they still hold. */
export interface LeftoverStage {
  /** e.g. `wh-3/picking` (the queue's name without the prefix when it names no known stage). */
  readonly stage: string;
  readonly queues: readonly string[];
  /** Messages in its queue (ready, in flight, delayed). */
  readonly messages: number;
  /** Messages in its dead-letter queue. */
  readonly deadLetters: number;
  /** Deleted by this run (`prune`, and it held nothing). */
  readonly removed: boolean;
}

/** What a start changed to match the topology — like a change set, after the fact. */
export interface ReconcileReport {
  /** True when nothing existed yet (a new data directory, or in memory). */
  readonly fresh: boolean;
  /** Queues and tables created. */
  readonly created: readonly string[];
  readonly updated: readonly AttributeChange[];
  readonly leftover: readonly LeftoverStage[];
}

export interface Provisioned extends LocalResources {
  readonly report: ReconcileReport;
}

/**
 * A difference between what exists and the topology that cannot be applied in place. The message
 * names the resource, what differs and what to do.
 */
export class ProvisionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProvisionError';
  }
}

/** What the status table's key must be: the ledger reads and writes by order id. */
/** The tag that names the stage a local queue belongs to. */
const STAGE_TAG = 'conveyor:stage';

/** The ledger's item collections: one per order (lib/ledger/records.ts). */
const TABLE_KEY: KeySchemaElement[] = [
  { AttributeName: 'orderId', KeyType: 'HASH' },
  { AttributeName: 'sk', KeyType: 'RANGE' },
];
/** The attributes reconciled, and only those: counters and timestamps are not configuration. */
const MANAGED_ATTRIBUTES = [
  'VisibilityTimeout',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'DelaySeconds',
  'RedrivePolicy',
] as const;
/** SQS's values for attributes a queue was created without. */
const SQS_DEFAULTS: Readonly<Record<string, string>> = {
  VisibilityTimeout: '30',
  MessageRetentionPeriod: '345600',
  ReceiveMessageWaitTimeSeconds: '0',
  DelaySeconds: '0',
};

/** Local queue name of a stage, e.g. `conveyor-wh-1-picking` (and `…-dlq`). */
export function localQueueName(prefix: string, stage: Stage, deadLetter = false): string {
  return `${prefix}-${stage.pipelineId}-${stage.name}${deadLetter ? '-dlq' : ''}`;
}

/**
 * Waits until a table is ACTIVE (the SDK's own waiter, polling at local speed): CreateTable answers
 * while the table is still CREATING — dynalite too, even with createTableMs 0, as it flips the
 * status on a timer — and writes to a CREATING table fail with ResourceNotFoundException, as on DynamoDB.
 */
export async function waitForTableActive(
  dynamodb: DynamoDBClient,
  tableName: string,
  timeoutSeconds = 10,
): Promise<void> {
  await waitUntilTableExists(
    { client: dynamodb, maxWaitTime: timeoutSeconds, minDelay: 0.01, maxDelay: 0.1 },
    { TableName: tableName },
  );
}

interface Clients {
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  /** The emulator's address: queue URLs are rewritten onto it (see `localUrl`). */
  readonly sqsEndpoint: string;
}

/**
 * Creates what is missing, updates what differs, reports what is left over. Safe on every start.
 *
 * @param options.prune delete the queues of stages no longer in the topology — only those that hold nothing.
 * @throws ProvisionError when something differs that cannot change in place.
 * @example
 * const { stages, report } = await provision(topology, { sqs, dynamodb, sqsEndpoint });
 * stages.get('wh-1/picking')?.queueUrl;
 * report.updated; // [{ queue: 'conveyor-wh-1-packing', attribute: 'VisibilityTimeout', from: '181', to: '182' }]
 */
export async function provision(
  topology: Topology,
  clients: Clients,
  options: { prefix?: string; prune?: boolean } = {},
): Promise<Provisioned> {
  const prefix = options.prefix ?? 'conveyor';
  const tableName = `${prefix}-orders`;
  const created: string[] = [];
  const updated: AttributeChange[] = [];
  created.push(...(await ensureTable(clients.dynamodb, tableName)));

  const existing = await listQueues(clients, `${prefix}-`);
  const fresh = created.length > 0 && existing.size === 0;
  const dlqSettings = deadLetterQueueSettings(topology);
  const stages = new Map<string, LocalStageResources>();
  for (const stage of allStages(topology)) {
    const dlqName = localQueueName(prefix, stage, true);
    const dlq = await ensureQueue(
      clients,
      dlqName,
      existing.get(dlqName),
      { MessageRetentionPeriod: String(dlqSettings.messageRetentionSeconds), DelaySeconds: '0' },
      { created, updated },
      stage.key,
    );
    const settings = queueSettings(topology, stage);
    const queueName = localQueueName(prefix, stage);
    const queue = await ensureQueue(
      clients,
      queueName,
      existing.get(queueName),
      {
        VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(settings.messageRetentionSeconds),
        ReceiveMessageWaitTimeSeconds: String(settings.receiveMessageWaitTimeSeconds),
        // The stack sets no delivery delay: SQS's default, 0.
        DelaySeconds: '0',
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: settings.maxReceiveCount }),
      },
      { created, updated },
      stage.key,
    );
    stages.set(stage.key, {
      stage,
      queueName,
      queueUrl: queue.url,
      queueArn: queue.arn,
      deadLetterQueueUrl: dlq.url,
      deadLetterQueueArn: dlq.arn,
    });
  }
  const wanted = new Set([...stages.values()].flatMap((s) => [s.queueName, `${s.queueName}-dlq`]));
  const leftover = await leftoverStages(
    clients.sqs,
    prefix,
    [...existing].filter(([name]) => !wanted.has(name)),
    options.prune ?? false,
  );
  return { tableName, stages, report: { fresh, created, updated, leftover } };
}

/**
 * Creates the status table (with the ledger's listing index), or checks the existing one has the key
 * the ledger needs, and rebuilds it with the index when it lacks it (ledger-table.ts).
 * @returns what it created, e.g. [`conveyor-orders`] or [`conveyor-orders index by-listed-state`].
 */
async function ensureTable(dynamodb: DynamoDBClient, tableName: string): Promise<string[]> {
  const resumed = await resumeRebuild(dynamodb, tableName);
  let created = true;
  try {
    await dynamodb.send(new CreateTableCommand(statusTableDefinition(tableName)));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    created = false;
  }
  await waitForTableActive(dynamodb, tableName);
  if (!created) {
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    const key = (Table?.KeySchema ?? []).map((k) => `${k.AttributeName} (${k.KeyType})`).join(', ');
    const want = TABLE_KEY.map((k) => `${k.AttributeName} (${k.KeyType})`).join(', ');
    // A table's key cannot change in place (DynamoDB, and CloudFormation, would replace the table and its data).
    if (key !== want) {
      throw new ProvisionError(
        `the status table ${tableName} has the key ${key || 'none'}, this version needs ${want}; a table's key cannot change in place — keep the orders by moving the data directory aside (set CONVEYOR_DATA_DIR to a new directory), or start afresh with --reset`,
      );
    }
    if (!hasListingIndex(Table)) {
      await rebuildWithListingIndex(dynamodb, tableName);
      return [`${tableName} index ${LISTING_INDEX.name}`];
    }
  }
  return created ? [tableName] : resumed ? [`${tableName} index ${LISTING_INDEX.name}`] : [];
}

/** Every queue whose name starts with `prefix`, by name, with its URL on the emulator. */
async function listQueues(clients: Clients, prefix: string): Promise<Map<string, string>> {
  const queues = new Map<string, string>();
  for await (const page of paginateListQueues({ client: clients.sqs }, { QueueNamePrefix: prefix, MaxResults: 1000 })) {
    for (const url of page.QueueUrls ?? [])
      queues.set(
        decodeURIComponent(new URL(url).pathname.split('/').pop() as string),
        localUrl(url, clients.sqsEndpoint),
      );
  }
  return queues;
}

/**
 * The queue with exactly `wanted` (of the managed attributes): created when missing; otherwise the
 * attributes that differ are set in place and recorded.
 */
async function ensureQueue(
  clients: Clients,
  name: string,
  existingUrl: string | undefined,
  wanted: Record<string, string>,
  record: { created: string[]; updated: AttributeChange[] },
  stageKey: string,
): Promise<{ url: string; arn: string }> {
  if (existingUrl === undefined) {
    // Tagged with its stage: names like conveyor-wh-1-gift-wrap do not say where the warehouse ends.
    const { QueueUrl } = await clients.sqs.send(
      new CreateQueueCommand({ QueueName: name, Attributes: wanted, tags: { [STAGE_TAG]: stageKey } }),
    );
    record.created.push(name);
    const url = localUrl(QueueUrl as string, clients.sqsEndpoint);
    return { url, arn: (await queueAttributes(clients.sqs, url, ['QueueArn'])).QueueArn as string };
  }
  const current = await queueAttributes(clients.sqs, existingUrl, ['All']);
  const changes = MANAGED_ATTRIBUTES.filter(
    (attribute) =>
      attribute in wanted &&
      !sameValue(attribute, current[attribute] ?? SQS_DEFAULTS[attribute], wanted[attribute] as string),
  );
  if (changes.length > 0) {
    const attributes = Object.fromEntries(changes.map((a) => [a, wanted[a] as string]));
    try {
      await clients.sqs.send(new SetQueueAttributesCommand({ QueueUrl: existingUrl, Attributes: attributes }));
    } catch (error) {
      const differs = changes.map((a) => `${a} ${current[a] ?? '(unset)'} → ${wanted[a]}`).join(', ');
      throw new ProvisionError(
        `cannot update queue ${name} to the topology (${differs}): ${(error as Error).message} — put the previous values back in the topology, or start with a new data directory (CONVEYOR_DATA_DIR) or --reset`,
      );
    }
    for (const attribute of changes)
      record.updated.push({ queue: name, attribute, from: current[attribute], to: wanted[attribute] as string });
  }
  return { url: existingUrl, arn: current.QueueArn as string };
}

/** A redrive policy is JSON whose numbers SQS may return as strings: compared by meaning. */
function sameValue(attribute: string, current: string | undefined, wanted: string): boolean {
  if (current === undefined) return false;
  if (attribute !== 'RedrivePolicy') return current === wanted;
  try {
    const a = JSON.parse(current) as { deadLetterTargetArn?: string; maxReceiveCount?: number | string };
    const b = JSON.parse(wanted) as { deadLetterTargetArn?: string; maxReceiveCount?: number | string };
    return a.deadLetterTargetArn === b.deadLetterTargetArn && Number(a.maxReceiveCount) === Number(b.maxReceiveCount);
  } catch {
    return false;
  }
}

/** Groups queues that no stage of the topology owns by stage; with `prune`, deletes the empty ones. */
async function leftoverStages(
  sqs: SQSClient,
  prefix: string,
  queues: ReadonlyArray<readonly [string, string]>,
  prune: boolean,
): Promise<LeftoverStage[]> {
  const byStage = new Map<string, Array<{ name: string; url: string; messages: number; deadLetter: boolean }>>();
  for (const [name, url] of queues) {
    const deadLetter = name.endsWith('-dlq');
    const stage = await stageOfQueue(sqs, prefix, deadLetter ? name.slice(0, -'-dlq'.length) : name, url);
    const attributes = await queueAttributes(sqs, url, [
      'ApproximateNumberOfMessages',
      'ApproximateNumberOfMessagesNotVisible',
      'ApproximateNumberOfMessagesDelayed',
    ]);
    // The three counts together are exact even where the emulator is late moving messages between them.
    const messages =
      Number(attributes.ApproximateNumberOfMessages ?? 0) +
      Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
      Number(attributes.ApproximateNumberOfMessagesDelayed ?? 0);
    byStage.set(stage, [...(byStage.get(stage) ?? []), { name, url, messages, deadLetter }]);
  }
  const report: LeftoverStage[] = [];
  for (const [stage, parts] of byStage) {
    const messages = parts.filter((p) => !p.deadLetter).reduce((sum, p) => sum + p.messages, 0);
    const deadLetters = parts.filter((p) => p.deadLetter).reduce((sum, p) => sum + p.messages, 0);
    const removed = prune && messages + deadLetters === 0;
    // Work queue first, so nothing can redrive into a queue that is already gone.
    if (removed)
      for (const part of [...parts].sort((a, b) => Number(a.deadLetter) - Number(b.deadLetter)))
        await sqs.send(new DeleteQueueCommand({ QueueUrl: part.url }));
    report.push({ stage, queues: parts.map((p) => p.name).sort(), messages, deadLetters, removed });
  }
  return report.sort((a, b) => a.stage.localeCompare(b.stage));
}

/** The stage a queue was created for (its tag, e.g. `wh-3/picking`), or what its name says after the prefix. */
async function stageOfQueue(sqs: SQSClient, prefix: string, name: string, url: string): Promise<string> {
  const { Tags } = await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }));
  return Tags?.[STAGE_TAG] ?? name.slice(prefix.length + 1);
}

async function queueAttributes(
  sqs: SQSClient,
  url: string,
  names: QueueAttributeName[],
): Promise<Record<string, string>> {
  return (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: names }))).Attributes ?? {};
}

/**
 * fauxqs names queues http://sqs.<region>.localhost:<port>/…, a host that does not resolve, and
 * the SDK sends requests to a queue URL's host. The same path on the emulator's own address finds
 * the same queue.
 */
function localUrl(queueUrl: string, sqsEndpoint: string): string {
  return new URL(new URL(queueUrl).pathname, sqsEndpoint).toString();
}

/**
 * The report as lines a person reads: what changed (`applied`), and for each stage left over what
 * it holds and what to do about it (`attention`). Nothing is listed as applied on a first start,
 * where everything is new.
 *
 * @example
 * describeReconcile(report).applied; // ['updated conveyor-wh-1-packing: VisibilityTimeout 181 → 182']
 */
export function describeReconcile(report: ReconcileReport): {
  readonly applied: string[];
  readonly attention: string[];
} {
  const applied: string[] = [];
  if (!report.fresh) {
    for (const name of report.created) applied.push(`created ${name}`);
    const byQueue = new Map<string, AttributeChange[]>();
    for (const change of report.updated) byQueue.set(change.queue, [...(byQueue.get(change.queue) ?? []), change]);
    for (const [queue, changes] of byQueue)
      applied.push(
        `updated ${queue}: ${changes.map((c) => `${c.attribute} ${c.from ?? '(default)'} → ${c.to}`).join(', ')}`,
      );
  }
  for (const stage of report.leftover) if (stage.removed) applied.push(describeLeftover(stage));
  return { applied, attention: report.leftover.filter((s) => !s.removed).map(describeLeftover) };
}

function describeLeftover(stage: LeftoverStage): string {
  if (stage.removed)
    return `removed ${stage.queues.join(', ')}: ${stage.stage} is no longer in the topology and held nothing`;
  const held = stage.messages + stage.deadLetters;
  const warehouse = stage.stage.includes('/') ? stage.stage.split('/')[0] : undefined;
  if (held === 0) {
    return `${stage.stage} is no longer in the topology; its queues (${stage.queues.join(', ')}) are empty and kept — \`npm start -- --prune\` removes them`;
  }
  return (
    `${stage.stage} is no longer in the topology, but its queues hold ${stage.messages} message(s) and ${stage.deadLetters} dead letter(s), kept untouched — ` +
    `to let those orders finish, put ${warehouse ? `warehouse ${warehouse}` : 'the stage'} back in the topology and restart, wait until \`npx conveyor status\` shows it empty` +
    `${stage.deadLetters > 0 ? ' (redrive or inspect its dead letters with `npx conveyor dlq peek`)' : ''}, then remove it again and restart with \`npm start -- --prune\``
  );
}
