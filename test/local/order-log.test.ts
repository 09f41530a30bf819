/**
 * The local runtime's log of order lines (lib/local/order-log.ts): it keeps the structured lines
 * that name an order, by order; stays within its memory budget by dropping the oldest lines and says
 * from when on it is complete; with a data directory it writes them down, rotates within two files
 * and reads them back after a restart — a line cut short by a kill is skipped.
 */
import { existsSync, readdirSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LogField, LogMessage } from '../../lib/contract/index.ts';
import { ORDER_LOG_FILE, OrderLog, type OrderLogLimits } from '../../lib/local/order-log.ts';
import { tempDir } from '../support/runtime-process.ts';

const dirs: Array<{ remove(): void }> = [];
const logs: OrderLog[] = [];
afterEach(() => {
  for (const log of logs.splice(0)) log.close();
  for (const dir of dirs.splice(0)) dir.remove();
});

function open(dataDir?: string, limits?: Partial<OrderLogLimits>): OrderLog {
  const log = OrderLog.open(dataDir, {
    maxBytes: 16 * 1024 * 1024,
    maxFileBytes: 8 * 1024 * 1024,
    flushMs: 60_000,
    ...limits,
  });
  logs.push(log);
  return log;
}

const at = (n: number) => new Date(Date.UTC(2026, 11, 1, 10, 0, 0, n)).toISOString();
/** A line as a stage function's Powertools logger prints it. */
const retried = (orderId: string, n: number, receiveCount = 1) =>
  JSON.stringify({
    level: 'WARN',
    message: LogMessage.recordRetried,
    timestamp: at(n),
    service: 'conveyor',
    pipeline: 'wh-1',
    stage: 'packing',
    [LogField.orderId]: orderId,
    receiveCount,
    retryInSeconds: 2,
    reason: 'carton machine jammed',
    traceId: 't-1',
  });
const received = (orderIds: string[], n: number) =>
  JSON.stringify({
    level: 'INFO',
    message: LogMessage.ordersReceived,
    timestamp: at(n),
    function: 'intake',
    accepted: orderIds.length,
    [LogField.orderIds]: orderIds,
  });

describe('the log of order lines', () => {
  it('keeps each line under every order it names, oldest first; other lines and non-JSON are ignored', () => {
    const log = open();
    log.observe(received(['o-1', 'o-2'], 1), 'conveyor-intake');
    log.observe(retried('o-1', 2, 1), 'conveyor-wh-1-packing');
    log.observe(
      JSON.stringify({ level: 'INFO', message: LogMessage.batchProcessed, timestamp: at(3), records: 2 }),
      'conveyor-wh-1-packing',
    );
    log.observe('{"orderId": not json', 'conveyor-wh-1-packing');
    log.observe('plain text about orderId o-1', 'conveyor-wh-1-packing');
    log.observe(retried('o-1', 4, 2), 'conveyor-wh-1-packing');

    expect(log.linesOf('o-1')).toEqual([
      { at: at(1), source: 'intake', level: 'INFO', message: LogMessage.ordersReceived, orders: 2 },
      {
        at: at(2),
        source: 'packing',
        pipeline: 'wh-1',
        level: 'WARN',
        message: LogMessage.recordRetried,
        receiveCount: 1,
        retryInSeconds: 2,
        reason: 'carton machine jammed',
        traceId: 't-1',
      },
      {
        at: at(4),
        source: 'packing',
        pipeline: 'wh-1',
        level: 'WARN',
        message: LogMessage.recordRetried,
        receiveCount: 2,
        retryInSeconds: 2,
        reason: 'carton machine jammed',
        traceId: 't-1',
      },
    ]);
    expect(log.linesOf('o-2').map((l) => l.message)).toEqual([LogMessage.ordersReceived]);
    expect(log.linesOf('o-3')).toEqual([]);
    expect(log.completeSince).toBeUndefined();
  });

  it('stays within its memory budget: the oldest lines go first, and it says from when on it is complete', () => {
    const maxBytes = 64 * 1024;
    const log = open(undefined, { maxBytes });
    for (let n = 0; n < 2_000; n++) log.observe(retried(`o-${n}`, n), 'conveyor-wh-1-packing');
    expect(log.bytes).toBeLessThanOrEqual(maxBytes);
    expect(log.linesOf('o-0')).toEqual([]);
    expect(log.linesOf('o-1999')).toHaveLength(1);
    const oldestKept = [...Array(2_000).keys()].find((n) => log.linesOf(`o-${n}`).length > 0) as number;
    expect(oldestKept).toBeGreaterThan(0);
    expect(log.completeSince).toBe(at(oldestKept - 1));
  });

  it('is written to the data directory and read back by the next start; a line cut short by a kill is skipped', () => {
    const dir = tempDir();
    dirs.push(dir);
    const first = open(dir.path);
    first.observe(received(['o-1'], 1), 'conveyor-intake');
    first.observe(retried('o-1', 2), 'conveyor-wh-1-packing');
    first.close();
    appendFileSync(join(dir.path, ORDER_LOG_FILE), retried('o-1', 3).slice(0, 40));

    const second = open(dir.path);
    expect(second.linesOf('o-1').map((l) => l.at)).toEqual([at(1), at(2)]);
    second.observe(retried('o-1', 4), 'conveyor-wh-1-packing');
    second.close();
    expect(
      open(dir.path)
        .linesOf('o-1')
        .map((l) => l.at),
    ).toEqual([at(1), at(2), at(4)]);
  });

  it('keeps at most two files on disk, the newest lines readable after a restart', () => {
    const dir = tempDir();
    dirs.push(dir);
    const maxFileBytes = 16 * 1024;
    const log = open(dir.path, { maxFileBytes });
    for (let n = 0; n < 500; n++) {
      log.observe(retried(`o-${n}`, n), 'conveyor-wh-1-packing');
      if (n % 10 === 9) log.flush();
    }
    log.close();
    const files = readdirSync(dir.path);
    expect(files.length).toBeLessThanOrEqual(2);
    for (const file of files) expect(statSync(join(dir.path, file)).size).toBeLessThan(2 * maxFileBytes);
    expect(open(dir.path).linesOf('o-499')).toHaveLength(1);
  });

  it('in memory, writes nothing', () => {
    const dir = tempDir();
    dirs.push(dir);
    writeFileSync(join(dir.path, 'marker'), '');
    const log = open();
    log.observe(retried('o-1', 1), 'conveyor-wh-1-packing');
    log.close();
    expect(existsSync(join(dir.path, ORDER_LOG_FILE))).toBe(false);
  });
});
