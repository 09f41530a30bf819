/**
 * What operators do to dead letters, as one log line each: who, which stage, what filter, how many.
 * The same messages and fields locally (the runtime's log, through its admin routes) and on AWS (a
 * line the CLI writes to stderr; CloudTrail records the SQS calls themselves with the IAM identity).
 */
import { compactFilter, describeFilter, type DeadLetterFilter } from './dead-letter-filter.ts';
import type { RedriveReport } from './dead-letter-redrive.ts';

export const OperatorAction = {
  redriven: 'dead letters redriven',
  redriveDryRun: 'dead letters redrive dry run',
  exported: 'dead letters exported',
} as const;

/** Who did it, e.g. `ana@ops-laptop`: printable, at most 128 characters. */
export const OPERATOR_PATTERN = /^[\x21-\x7e][\x20-\x7e]{0,127}$/;

export interface AuditLine {
  readonly message: (typeof OperatorAction)[keyof typeof OperatorAction];
  readonly fields: Record<string, unknown>;
}

/**
 * @example
 * redriveAudit('ana@host', 'wh-1/picking', { grep: 'scanner' }, report, 50);
 * // { message: 'dead letters redriven', fields: { who: 'ana@host', stage: 'wh-1/picking', filter: 'reason contains "scanner"', moved: 12, … } }
 */
export function redriveAudit(
  who: string,
  stage: string,
  filter: DeadLetterFilter | undefined,
  report: RedriveReport,
  ratePerSecond?: number,
): AuditLine {
  const counts = report.dryRun
    ? { wouldMove: report.matched }
    : {
        moved: report.moved + report.finished,
        resent: report.resent,
        notDeleted: report.notDeleted,
        interrupted: report.interrupted,
      };
  return {
    message: report.dryRun ? OperatorAction.redriveDryRun : OperatorAction.redriven,
    fields: {
      who,
      stage,
      filter: describeFilter(filter),
      filterFields: compactFilter(filter),
      matched: report.matched,
      scanned: report.scanned,
      ...counts,
      ...(ratePerSecond ? { ratePerSecond } : {}),
    },
  };
}

/** A whole DLQ handed to SQS's own move task (AWS, no filter): how many SQS expects to move. */
export function moveTaskAudit(
  who: string,
  stage: string,
  taskHandle: string,
  approximateNumberToMove: number | null,
  ratePerSecond?: number,
): AuditLine {
  return {
    message: OperatorAction.redriven,
    fields: {
      who,
      stage,
      filter: describeFilter(undefined),
      moveTask: taskHandle,
      approximateNumberToMove,
      ...(ratePerSecond ? { ratePerSecond } : {}),
    },
  };
}

export function exportAudit(
  who: string,
  stage: string,
  filter: DeadLetterFilter | undefined,
  exported: number,
  scanned: number,
): AuditLine {
  return {
    message: OperatorAction.exported,
    fields: { who, stage, filter: describeFilter(filter), filterFields: compactFilter(filter), exported, scanned },
  };
}
