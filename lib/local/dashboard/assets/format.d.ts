/** Types of format.js (plain JavaScript, shared with the browser). */
import type { AlarmReport, AlarmState, AlarmStatus, CompositeAlarmStatus } from '../../alarms.ts';
import type { StageView, StatsSnapshot } from '../../stats.ts';

export type ValueKind = 'int' | 'rate' | 'seconds' | 'ms' | 'state' | 'paused' | 'breaker' | 'retention' | 'text';

export interface PageModel {
  readonly stats: StatsSnapshot;
  readonly alarms: AlarmReport;
  readonly derived: {
    readonly acceptedPerSecond: number;
    readonly deliveredPerSecond: number;
    readonly failedPerSecond: number;
  };
}

export declare const DASH: string;
export declare const STATE_LABELS: Readonly<Record<AlarmState, string>>;
export declare function formatInt(value: unknown): string;
export declare function formatRate(value: unknown): string;
export declare function formatSeconds(value: unknown): string;
export declare function formatMs(value: unknown): string;
export declare function formatValue(kind: string | undefined, value: unknown): string;
export declare function toneOf(kind: string | undefined, value: unknown): string;
export declare function retentionWarning(
  view: Pick<
    StageView,
    | 'nearsRetention'
    | 'oldestMessageAgeSeconds'
    | 'retentionSeconds'
    | 'deadLettersNearRetention'
    | 'oldestDeadLetterAgeSeconds'
    | 'deadLetterRetentionSeconds'
  >,
): string;
export declare function isShown(model: unknown, path: string, values: readonly string[]): boolean;
export declare function lookup(model: unknown, path: string): unknown;
export declare function isHot(value: unknown, over?: number): boolean;
export declare function recentRate(series: readonly number[] | undefined, seconds?: number): number;
export declare function pageModel(stats: StatsSnapshot, alarms: AlarmReport): PageModel;
export declare function alarmView(status: AlarmStatus | CompositeAlarmStatus | undefined): {
  readonly state: AlarmState | 'PENDING';
  readonly label: string;
};
export declare function pendingAlarms(alarms: AlarmReport | undefined): string[];
export declare function overallView(alarms: AlarmReport | undefined): {
  readonly state: AlarmState | 'PENDING';
  readonly label: string;
};
