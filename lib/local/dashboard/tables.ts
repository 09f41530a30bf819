/**
 * The queue table (each stage's queue and dead-letter queue) and the stage table (its function and
 * event source mapping): one row per stage of each warehouse's chain.
 */
import type { Stage, Topology } from '../../topology/index.ts';
import type { PageModel } from './assets/format.js';
import { compositeBadge } from './alarms-panel.ts';
import { bound, stagePath, toned } from './bind.ts';
import { html, type Html } from './html.ts';
import { pipelineRow, stageHeader, type StageNames } from './rows.ts';

/** One table body per warehouse: its heading row, then `row` for each stage of its chain. */
function perPipeline(
  topology: Topology,
  columns: number,
  badge: ((pipelineId: string) => Html) | undefined,
  row: (stage: Stage) => Html,
): Html[] {
  return topology.pipelines.map(
    (pipeline) =>
      html`<tbody>${pipelineRow(pipeline.id, columns, badge?.(pipeline.id))}${pipeline.stages.map(row)}</tbody>`,
  );
}

function queueRow(model: PageModel, names: StageNames, stage: Stage): Html {
  const p = stagePath(stage);
  const queues = names.get(stage.key);
  return html`<tr data-stage="${stage.key}" data-queue="${queues?.queue ?? ''}">
        ${stageHeader(names, stage)}
        <td>${toned(model, `${p}.paused`, 'paused', 'pill')}</td>
        ${bound(model, 'td', `${p}.ready`, 'int', {}, 'num')}
        ${bound(model, 'td', `${p}.inFlight`, 'int', {}, 'num')}
        ${bound(model, 'td', `${p}.delayed`, 'int', { hot: 'warn' }, 'num')}
        <td class="num dlq-cell" data-dlq="${queues?.deadLetterQueue ?? `${stage.key} DLQ`}" title="dead-letter queue ${queues?.deadLetterQueue ?? ''}">${bound(model, 'span', `${p}.dlq`, 'int', { hot: 'bad' })}</td>
        ${bound(model, 'td', `${p}.oldestMessageAgeSeconds`, 'seconds', { hot: 'bad', over: stage.alarms.maxAgeOfOldestMessageSeconds }, 'num')}
        ${bound(model, 'td', `${p}.incomingPerSecond`, 'rate', {}, 'num')}
        ${bound(model, 'td', `${p}.perSecond`, 'rate', {}, 'num')}
        ${bound(model, 'td', `${p}.failedPerSecond`, 'rate', { hot: 'warn' }, 'num')}
      </tr>`;
}

export function queueTable(model: PageModel, topology: Topology, names: StageNames): Html {
  return html`<table class="grid-table queues">
    <thead><tr>
      <th scope="col">Stage</th>
      <th scope="col" title="running: the event source mapping polls; paused: messages wait in the queue">State</th>
      <th scope="col" class="num" title="Waiting to be received (ApproximateNumberOfMessages)">Ready</th>
      <th scope="col" class="num" title="Received by the event source mapping: gathered into a batch or being processed">In flight</th>
      <th scope="col" class="num" title="Waiting out a retry backoff (invisible, not held by an invocation)">Delayed</th>
      <th scope="col" class="num" title="Messages in the stage's dead-letter queue">DLQ</th>
      <th scope="col" class="num" title="Age of the oldest message in the queue (ApproximateAgeOfOldestMessage); coloured above the alarm threshold">Oldest</th>
      <th scope="col" class="num" title="Records received per second (10 s average)">In/s</th>
      <th scope="col" class="num" title="Records processed successfully per second (10 s average)">Done/s</th>
      <th scope="col" class="num" title="Records that failed an attempt per second (10 s average)">Failed/s</th>
    </tr></thead>
    ${perPipeline(
      topology,
      10,
      (id) => compositeBadge(model, id),
      (stage) => queueRow(model, names, stage),
    )}
  </table>`;
}

function stageRow(model: PageModel, names: StageNames, stage: Stage): Html {
  const p = stagePath(stage);
  const inUse = Number(model.stats.pipelines[stage.pipelineId]?.[stage.name]?.concurrency.inUse ?? 0);
  const max = Number(model.stats.pipelines[stage.pipelineId]?.[stage.name]?.concurrency.max ?? stage.maxConcurrency);
  return html`<tr data-stage="${stage.key}">
        ${stageHeader(names, stage)}
        <td class="concurrency"><progress max="${max}" value="${inUse}" data-progress="${p}.concurrency"></progress>${bound(model, 'span', `${p}.concurrency.inUse`, 'int')}<span class="of"> / </span>${bound(model, 'span', `${p}.concurrency.max`, 'int')}</td>
        ${bound(model, 'td', `${p}.succeeded`, 'int', {}, 'num')}
        ${bound(model, 'td', `${p}.failed`, 'int', { hot: 'warn' }, 'num')}
        ${bound(model, 'td', `${p}.retried`, 'int', {}, 'num')}
        ${bound(model, 'td', `${p}.deadLettered`, 'int', { hot: 'bad' }, 'num')}
        ${bound(model, 'td', `${p}.duplicates`, 'int', {}, 'num')}
        ${bound(model, 'td', `${p}.batches`, 'int', {}, 'num')}
        <td class="num">${bound(model, 'span', `${p}.averageBatchSize`, 'rate')}<span class="of"> / </span>${bound(model, 'span', `${p}.maxBatchSize`, 'int')}</td>
        ${bound(model, 'td', `${p}.failedBatches`, 'int', { hot: 'warn' }, 'num')}
      </tr>`;
}

export function stageTable(model: PageModel, topology: Topology, names: StageNames): Html {
  return html`<table class="grid-table stages">
    <thead><tr>
      <th scope="col">Stage</th>
      <th scope="col" title="Concurrent invocations now / the event source mapping's maximum concurrency">Concurrency</th>
      <th scope="col" class="num" title="Records processed successfully">Processed</th>
      <th scope="col" class="num" title="Attempts that failed: retried plus dead-lettered">Failed</th>
      <th scope="col" class="num" title="Records returned to the queue for another attempt, after a backoff">Retried</th>
      <th scope="col" class="num" title="Records sent to the dead-letter queue">To DLQ</th>
      <th scope="col" class="num" title="Redeliveries skipped: the stage had already handled the order">Dupes</th>
      <th scope="col" class="num" title="Invocations (batches)">Batches</th>
      <th scope="col" class="num" title="Average and largest batch size (records per invocation)">Avg / max</th>
      <th scope="col" class="num" title="Invocations that failed as a whole (error, timeout, malformed response): their records return after the visibility timeout">Failed inv.</th>
    </tr></thead>
    ${perPipeline(topology, 10, undefined, (stage) => stageRow(model, names, stage))}
  </table>`;
}
