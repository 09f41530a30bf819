/**
 * The alarms panel: every stage's alarms as the CloudWatch alarms judge them (the shared rules of
 * lib/contract/alarm-rules.ts, evaluated locally), each warehouse's composite, and the list of
 * alarms in ALARM with their reasons.
 */
import type { AlarmStatus } from '../alarms.ts';
import { stageAlarmRule, type StageAlarmRule } from '../../contract/alarm-rules.ts';
import { STAGE_ALARM_KINDS, type StageAlarmKind } from '../../contract/index.ts';
import type { Stage, Topology } from '../../topology/index.ts';
import { alarmView, formatSeconds, type PageModel } from './assets/format.js';
import { html, type Html } from './html.ts';
import { pipelineRow, stageHeader, type StageNames } from './rows.ts';

const RULE_LABELS: Record<StageAlarmKind, string> = {
  'dead-letters': 'DLQ',
  backlog: 'Age',
  'error-rate': 'Errors',
  throttles: 'Throttles',
  'queue-retention': 'Retention',
  'dead-letter-retention': 'DLQ retention',
};

/** When each rule fires, with the shared rule's numbers — the cloud alarms' descriptions in short. */
const RULE_HELP: Record<StageAlarmKind, (rule: StageAlarmRule) => string> = {
  'dead-letters': (r) =>
    `Dead letters: the dead-letter queue holds messages ${windowOf(r)}. Orders wait there, unprocessed, until redriven.`,
  backlog: (r) =>
    `Backlog: the oldest message is older than ${formatSeconds(r.threshold)} ${windowOf(r)}. The stage is paused, too slow or too narrow, or retrying a sick dependency.`,
  'error-rate': (r) =>
    `Function errors: more than ${r.threshold} % of invocations failed as a whole (error, timeout, malformed response) ${windowOf(r)}. Records failed one by one do not count.`,
  throttles: (r) =>
    `Throttles: more than ${r.threshold} throttled invocations per ${formatSeconds(r.periodSeconds)} ${windowOf(r)}. Always 0 locally: the local runtime has no reserved concurrency, so nothing is throttled here.`,
  'queue-retention': (r) =>
    `Near retention: the oldest message is older than ${formatSeconds(r.threshold)}, three quarters of the queue's retention; SQS deletes it at the end.`,
  'dead-letter-retention': (r) =>
    `Dead letters near retention: the oldest dead letter is older than ${formatSeconds(r.threshold)}, three quarters of the dead-letter queue's retention; redrive or export it before SQS deletes it.`,
};

function windowOf(rule: StageAlarmRule): string {
  const { evaluationPeriods: n, periodSeconds } = rule;
  return n === 1
    ? `in a period of ${formatSeconds(periodSeconds)}`
    : `for ${n} consecutive periods of ${formatSeconds(periodSeconds)}`;
}

/** One stage alarm's state; the script keeps it live (`data-alarm`). */
export function alarmBadge(model: PageModel, stage: Stage, rule: StageAlarmKind): Html {
  const status = model.alarms.pipelines[stage.pipelineId]?.stages[stage.name]?.[rule];
  const view = alarmView(status);
  return html`<span class="alarm alarm-${view.state}" data-alarm="${stage.pipelineId}.${stage.name}.${rule}" title="${status?.reason ?? 'no evaluation yet'}">${view.label}</span>`;
}

/** A warehouse's composite alarm (`data-composite`). */
export function compositeBadge(model: PageModel, pipelineId: string): Html {
  const composite = model.alarms.pipelines[pipelineId]?.composite;
  const view = alarmView(composite);
  return html`<span class="alarm alarm-${view.state}" data-composite="${pipelineId}" title="${composite?.reason ?? 'no evaluation yet'}">${view.label}</span>`;
}

/** Every alarm in ALARM, with its reason (the hidden ones show when they fire). */
function activeAlarms(model: PageModel, topology: Topology): Html {
  const items = topology.pipelines.flatMap((pipeline) =>
    pipeline.stages.flatMap((stage) =>
      STAGE_ALARM_KINDS.map((rule) => {
        const status: AlarmStatus | undefined = model.alarms.pipelines[pipeline.id]?.stages[stage.name]?.[rule];
        const id = `${pipeline.id}.${stage.name}.${rule}`;
        return html`<li data-alarm-item="${id}"${status?.state === 'ALARM' ? '' : html` hidden`}><b>${pipeline.id} / ${stage.name}</b> · ${RULE_LABELS[rule]}: <span data-alarm-reason="${id}">${status?.reason ?? ''}</span></li>`;
      }),
    ),
  );
  return html`<ul class="active-alarms" id="active-alarms" aria-label="Alarms in ALARM">${items}</ul>`;
}

/** The alarm matrix: one row per stage of each warehouse's chain, one column per rule. */
export function alarmMatrix(model: PageModel, topology: Topology, names: StageNames): Html {
  const first = topology.pipelines[0]?.stages[0];
  return html`<table class="grid-table alarms">
      <thead><tr>
        <th scope="col">Stage</th>
        ${STAGE_ALARM_KINDS.map((rule) => html`<th scope="col" title="${first ? RULE_HELP[rule](stageAlarmRule(rule, first, topology.retention)) : ''}">${RULE_LABELS[rule]}</th>`)}
      </tr></thead>
      ${topology.pipelines.map(
        (pipeline) => html`<tbody>
        ${pipelineRow(pipeline.id, STAGE_ALARM_KINDS.length + 1, compositeBadge(model, pipeline.id))}
        ${pipeline.stages.map(
          (stage) => html`<tr data-stage="${stage.key}">
          ${stageHeader(names, stage)}
          ${STAGE_ALARM_KINDS.map((rule) => html`<td title="${RULE_HELP[rule](stageAlarmRule(rule, stage, topology.retention))}">${alarmBadge(model, stage, rule)}</td>`)}
        </tr>`,
        )}
      </tbody>`,
      )}
    </table>
    ${activeAlarms(model, topology)}
    <p class="note">The CloudWatch alarms' rules and thresholds, evaluated every few seconds on this runtime's figures. <span class="alarm alarm-PENDING">1/3</span> breaching for 1 of 3 periods: it fires at 3/3. Hover a state for its reason. Throttles are always 0 locally: no reserved concurrency here.</p>`;
}
