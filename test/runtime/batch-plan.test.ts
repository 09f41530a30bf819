/**
 * The pure plan of a stage invocation (lib/runtime/batch.ts), on records built in memory: which
 * records become work and which are poison (with why, and whatever identity they still carry), the
 * same item twice in one batch done once, redeliveries skipped, and each business outcome's fate —
 * forwarded, retried, or dead-lettered as rejected or out of retries.
 */
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { MESSAGE_VERSION } from '../../lib/domain/messages.ts';
import { pickingStage } from '../../lib/orders/stages.ts';
import { ATTR_ORDER_ID, ATTR_TRACE_ID } from '../../lib/runtime/attributes.ts';
import {
  addFailure,
  classify,
  failTransiently,
  type MessageReader,
  parseBatch,
  receiveCountOf,
  type SeenItem,
  skipSeen,
} from '../../lib/runtime/batch.ts';
import { reject, retry, succeed } from '../../lib/runtime/outcome.ts';
import { order } from '../support/orders.ts';
import { pickingRecord, sqsRecord } from '../support/records.ts';

const WAREHOUSE = 'wh-1';
const parse = (records: SQSRecord[]) => parseBatch(records, pickingStage, WAREHOUSE);
const pickingBody = (o: unknown) => ({ v: MESSAGE_VERSION, order: o, acceptedAt: '2026-12-01T12:00:00.000Z' });
const stringAttribute = (value: string) => ({
  dataType: 'String',
  stringValue: value,
  stringListValues: [],
  binaryListValues: [],
});
/** A record carrying exactly these message attributes. */
const withAttributes = (record: SQSRecord, attributes: Record<string, string>): SQSRecord => ({
  ...record,
  messageAttributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, stringAttribute(v)])),
});
/** A record delivered with this raw ApproximateReceiveCount. */
const receivedAs = (count: string): SQSRecord => {
  const record = pickingRecord(1);
  return { ...record, attributes: { ...record.attributes, ApproximateReceiveCount: count } };
};

/** A stage of documents whose readers claim no id for messages that fail validation. */
const Doc = z.strictObject({ docId: z.string(), shelf: z.string() });
const docs: MessageReader<z.infer<typeof Doc>> = {
  input: Doc,
  identify: (m) => ({ id: m.docId, partition: m.shelf }),
};

describe('parsing a batch', () => {
  it('turns each readable record into a work item with its order, warehouse, trace id and receive count', () => {
    const records = [pickingRecord(1), pickingRecord(2, 4)];

    const { items, poison, repeats } = parse(records);

    expect(poison).toEqual([]);
    expect(repeats).toBe(0);
    expect(items.map((i) => [i.record, i.id, i.partition, i.traceId, i.receiveCount])).toEqual([
      [records[0], 'order-1', WAREHOUSE, records[0]?.messageAttributes[ATTR_TRACE_ID]?.stringValue, 1],
      [records[1], 'order-2', WAREHOUSE, records[1]?.messageAttributes[ATTR_TRACE_ID]?.stringValue, 4],
    ]);
    expect(items[0]?.message).toEqual(JSON.parse(records[0]?.body ?? ''));
  });

  it('uses the SQS message id as the trace id of a record that carries none (put on the queue by hand)', () => {
    const bare = { ...pickingRecord(3), messageAttributes: undefined } as unknown as SQSRecord;
    const noTrace = withAttributes(pickingRecord(4), { [ATTR_ORDER_ID]: 'order-4' });

    const { items } = parse([bare, noTrace]);

    expect(items.map((i) => i.traceId)).toEqual([bare.messageId, noTrace.messageId]);
  });

  it('does the same order once when a batch holds it twice, and counts the repeat', () => {
    const first = pickingRecord(5);
    const again = pickingRecord(5, 2);
    const other = pickingRecord(6);

    const { items, poison, repeats } = parse([first, again, other, again]);

    expect(items.map((i) => i.record)).toEqual([first, other]);
    expect(poison).toEqual([]);
    expect(repeats).toBe(2);
  });

  it('keeps poison apart from the work, so it never reaches the business logic', () => {
    const good = pickingRecord(7);
    const broken = sqsRecord('{not json', { orderId: 'order-8' });

    const { items, poison, repeats } = parse([broken, good]);

    expect(items.map((i) => i.record)).toEqual([good]);
    expect(poison.map((p) => [p.record, p.kind])).toEqual([[broken, 'poison']]);
    expect(repeats).toBe(0);
  });

  it('counts a record with a missing, unreadable or zero receive count as its first delivery', () => {
    const none = { ...pickingRecord(9), attributes: undefined } as unknown as SQSRecord;
    expect(receiveCountOf(none)).toBe(1);
    expect(receiveCountOf(receivedAs('many'))).toBe(1);
    expect(receiveCountOf(receivedAs('Infinity'))).toBe(1);
    expect(receiveCountOf(receivedAs('0'))).toBe(1);
    expect(receiveCountOf(receivedAs('-3'))).toBe(1);
    expect(receiveCountOf(receivedAs('7'))).toBe(7);
  });
});

describe('poison', () => {
  /** The one dead letter a batch of just `record` plans. */
  const poisonOf = (record: SQSRecord, reader: MessageReader<unknown> = pickingStage as never) => {
    const { items, poison } = parseBatch([record], reader, WAREHOUSE);
    expect(items).toEqual([]);
    expect(poison).toHaveLength(1);
    return poison[0]!;
  };

  it('says where a body stops being JSON, without quoting it, and keeps the order id and trace id it arrived with', () => {
    const body = '{"order":{"orderId":"order-10","customer":"Ada Secret"} oops';
    const record = sqsRecord(body, { orderId: 'order-10' });

    expect(poisonOf(record)).toEqual({
      record,
      kind: 'poison',
      reason: `body is not valid JSON (at character ${body.indexOf('oops')} of ${body.length})`,
      traceId: record.messageAttributes[ATTR_TRACE_ID]?.stringValue,
      id: 'order-10',
    });
    expect(poisonOf(record).reason).not.toContain('Ada');
  });

  it('says a body that is empty or only whitespace is empty', () => {
    expect(poisonOf(sqsRecord('')).reason).toBe('body is not valid JSON (the body is empty)');
    expect(poisonOf(sqsRecord('  \n ')).reason).toBe('body is not valid JSON (the body is empty)');
  });

  it('says a body cut short ends early, and how long it is', () => {
    const body = '{"order":{"orderId":"order-11","items":[';
    expect(poisonOf(sqsRecord(body)).reason).toBe(
      `body is not valid JSON (it ends early, after ${body.length} characters)`,
    );
  });

  it('gives only the length of a body V8 cannot place an error in', () => {
    expect(poisonOf(sqsRecord('undefined')).reason).toBe('body is not valid JSON (9 characters)');
  });

  it('names each field that fails the schema, and the order the message claims', () => {
    const bad = { ...order(12), items: [{ sku: 'SKU-1', quantity: 0 }] };
    const record = sqsRecord(pickingBody(bad));

    const letter = poisonOf(record);

    expect(letter).toMatchObject({ kind: 'poison', id: 'order-12', traceId: record.messageId });
    expect(letter.reason).toMatch(/^invalid message: order\.items\.0\.quantity: /);
  });

  it('names the body itself when the whole message has the wrong shape', () => {
    const letter = poisonOf(sqsRecord('42'));

    expect(letter.reason).toMatch(/^invalid message: body: /);
    expect(letter).not.toHaveProperty('id');
  });

  it('lists at most five of the problems, so the reason stays readable', () => {
    const items = Array.from({ length: 7 }, (_, i) => ({ sku: `SKU-${i}`, quantity: 0 }));
    const letter = poisonOf(sqsRecord(pickingBody({ ...order(12), items })));

    const problems = letter.reason.replace(/^invalid message: /, '').split('; ');
    expect(problems.map((p) => p.split(':')[0])).toEqual([0, 1, 2, 3, 4].map((i) => `order.items.${i}.quantity`));
  });

  it('keeps the order id attribute when the body claims no usable id', () => {
    const noId = withAttributes(sqsRecord(pickingBody({ warehouseId: WAREHOUSE })), {
      [ATTR_ORDER_ID]: 'order-13',
    });
    const numericId = withAttributes(sqsRecord(pickingBody({ orderId: 42 })), { [ATTR_ORDER_ID]: 'order-14' });

    expect(poisonOf(noId).id).toBe('order-13');
    expect(poisonOf(numericId).id).toBe('order-14');
  });

  it('prefers the id the body claims over the attribute, when it is a valid id', () => {
    const record = withAttributes(sqsRecord(pickingBody({ orderId: 'order-15' })), { [ATTR_ORDER_ID]: 'order-16' });

    expect(poisonOf(record).id).toBe('order-15');
  });

  it('keeps no id that is not a valid item id (it would travel into URLs, attributes and logs)', () => {
    const invalid = ['order 17', '-order-17', 'order-17\n', 'x'.repeat(65), ''];
    for (const id of invalid) {
      const claimed = poisonOf(sqsRecord(pickingBody({ orderId: id })));
      const attribute = poisonOf(withAttributes(sqsRecord('{'), { [ATTR_ORDER_ID]: id }));
      expect(claimed, JSON.stringify(id)).not.toHaveProperty('id');
      expect(attribute, JSON.stringify(id)).not.toHaveProperty('id');
    }
  });

  it('keeps ids of one to 64 letters, digits and . _ : -', () => {
    for (const id of ['A', 'o1', 'order-18', 'shop:order_18.v2', `a${'b'.repeat(63)}`]) {
      expect(poisonOf(sqsRecord(pickingBody({ orderId: id }))).id, id).toBe(id);
    }
  });

  it('keeps the attribute id for a reader that cannot say what an invalid message claims', () => {
    const record = withAttributes(sqsRecord({ docId: 'doc-1' }), { [ATTR_ORDER_ID]: 'doc-1' });

    expect(poisonOf(record, docs as never)).toMatchObject({ kind: 'poison', id: 'doc-1' });
  });

  it('sends an order of another warehouse back as poison, naming both pipelines', () => {
    const record = sqsRecord(pickingBody(order(19, 'wh-2')), { orderId: 'order-19' });

    expect(poisonOf(record)).toMatchObject({
      kind: 'poison',
      id: 'order-19',
      reason: `order-19 belongs to pipeline wh-2, but arrived in pipeline ${WAREHOUSE}`,
    });
  });
});

describe('skipping what the ledger has seen', () => {
  it('drops items done here or already final, and counts them', () => {
    const { items } = parse([20, 21, 22, 23].map((n) => pickingRecord(n)));
    const seen = new Map<string, SeenItem>([
      ['order-20', { done: true, final: false }],
      ['order-21', { done: false, final: true }],
      ['order-22', { done: false, final: false }],
    ]);

    const { work, skipped } = skipSeen(items, seen);

    expect(work.map((i) => i.id)).toEqual(['order-22', 'order-23']);
    expect(skipped).toBe(2);
  });
});

describe('the fate of each outcome', () => {
  const MAX_RECEIVES = 3;
  const itemAt = (n: number, receiveCount: number) => parse([pickingRecord(n, receiveCount)]).items[0]!;

  it('retries a transient failure while the record has receives left', () => {
    const item = itemAt(30, MAX_RECEIVES - 1);

    expect(failTransiently(item, 'scanner offline', MAX_RECEIVES)).toEqual({
      retry: { item, reason: 'scanner offline' },
    });
  });

  it('dead-letters a transient failure as exhausted on the last receive and after it, saying how often it tried', () => {
    for (const count of [MAX_RECEIVES, MAX_RECEIVES + 1]) {
      const item = itemAt(31, count);
      expect(failTransiently(item, 'scanner offline', MAX_RECEIVES)).toEqual({
        deadLetter: {
          record: item.record,
          kind: 'exhausted',
          reason: `scanner offline (gave up after ${count} attempts)`,
          id: 'order-31',
          partition: WAREHOUSE,
          traceId: item.traceId,
        },
      });
    }
  });

  it('forwards successes, dead-letters rejections at once, and retries or gives up on transient failures', () => {
    const work = [itemAt(40, 1), itemAt(41, 1), itemAt(42, 1), itemAt(43, MAX_RECEIVES)];

    const plan = classify(
      work,
      [succeed('pick list'), reject('SKU discontinued'), retry('scanner offline'), retry('scanner offline')],
      MAX_RECEIVES,
    );

    expect(plan.done).toEqual([{ item: work[0], value: 'pick list' }]);
    expect(plan.retries).toEqual([{ item: work[2], reason: 'scanner offline' }]);
    expect(plan.deadLetters.map((d) => [d.id, d.kind, d.reason])).toEqual([
      ['order-41', 'rejected', 'SKU discontinued'],
      ['order-43', 'exhausted', `scanner offline (gave up after ${MAX_RECEIVES} attempts)`],
    ]);
    expect(plan.deadLetters[0]).toEqual({
      record: work[1]?.record,
      kind: 'rejected',
      reason: 'SKU discontinued',
      id: 'order-41',
      partition: WAREHOUSE,
      traceId: work[1]?.traceId,
    });
  });

  it('adds a failure’s fate to an existing plan', () => {
    const plan = { retries: [], deadLetters: [] };
    addFailure(plan, failTransiently(itemAt(50, 1), 'timeout', MAX_RECEIVES));
    addFailure(plan, failTransiently(itemAt(51, MAX_RECEIVES), 'timeout', MAX_RECEIVES));

    expect(plan.retries).toHaveLength(1);
    expect(plan.deadLetters).toHaveLength(1);
  });
});
