/**
 * What an operator acts on from the page (Flower's remote control, bull-board's retry buttons):
 * each stage's consumption, concurrency, circuit breaker and dead letters — with its state, its
 * breaker's reason and its retention warnings beside the buttons. The buttons only name an action
 * (`data-action`); actions.js asks for confirmation in the page's dialog and calls the admin API
 * with the page's CSRF token.
 */
import { MAX_CONCURRENCY_RANGE } from '../../contract/limits.ts';
import { DEAD_LETTER_KINDS, MAX_GREP_LENGTH } from '../../operations/dead-letter-filter.ts';
import type { Stage, Topology } from '../../topology/index.ts';
import { MAX_PEEK } from '../dead-letter-routes.ts';
import type { PageModel } from './assets/format.js';
import { bound, shownWhen, stagePath, toned } from './bind.ts';
import { html, type Html } from './html.ts';
import { pipelineRow, stageHeader, type StageNames } from './rows.ts';

/** How far back a list looks (seconds; empty: any time), for dead letters and orders alike. */
export const SINCE_CHOICES: ReadonlyArray<readonly [string, string]> = [
  ['', 'any time'],
  ['900', 'last 15 min'],
  ['3600', 'last hour'],
  ['86400', 'last 24 h'],
  ['604800', 'last 7 days'],
];

export function sinceSelect(name: string): Html {
  return html`<select name="${name}" aria-label="Since">${SINCE_CHOICES.map(([value, label]) => html`<option value="${value}">${label}</option>`)}</select>`;
}

/** A stage's buttons; Pause or Resume and the breaker overrides show as the stage's state allows. */
function stageActions(model: PageModel, stage: Stage): Html {
  const p = stagePath(stage);
  return html`<td class="actions">
        <button type="button" class="act" data-action="pause" ${shownWhen(model, `${p}.paused`, ['false'])}>Pause</button>
        <button type="button" class="act" data-action="resume" ${shownWhen(model, `${p}.paused`, ['true'])}>Resume</button>
        <button type="button" class="act" data-action="scale" data-min="${MAX_CONCURRENCY_RANGE.min}" data-max="${MAX_CONCURRENCY_RANGE.max}">Scale…</button>
        <button type="button" class="act" data-action="breaker-open" ${shownWhen(model, `${p}.breaker`, ['closed', 'half-open'])}>Open breaker</button>
        <button type="button" class="act" data-action="breaker-close" ${shownWhen(model, `${p}.breaker`, ['open', 'half-open'])}>Close breaker</button>
        <button type="button" class="act" data-action="dead-letters">Dead letters</button>
      </td>`;
}

function controlRow(model: PageModel, names: StageNames, stage: Stage): Html {
  const p = stagePath(stage);
  return html`<tr data-stage="${stage.key}" data-pipeline-id="${stage.pipelineId}" data-stage-name="${stage.name}">
        ${stageHeader(names, stage)}
        <td>${toned(model, `${p}.paused`, 'paused', 'pill')}</td>
        <td>${toned(model, `${p}.breaker`, 'breaker', 'pill', `${p}.breakerReason`)}</td>
        ${bound(model, 'td', `${p}.concurrency.max`, 'int', {}, 'num')}
        ${bound(model, 'td', `${p}.dlq`, 'int', { hot: 'bad' }, 'num')}
        <td class="retention">${toned(model, p, 'retention', 'retention-text')}</td>
        ${stageActions(model, stage)}
      </tr>`;
}

/** The Operate table: every stage of each warehouse's chain, its state and its actions. */
export function controlsTable(model: PageModel, topology: Topology, names: StageNames): Html {
  return html`<table class="grid-table controls">
    <thead><tr>
      <th scope="col">Stage</th>
      <th scope="col" title="running: the event source mapping polls; paused: messages wait in the queue">State</th>
      <th scope="col" title="The stage's circuit breaker: open stops consumption while the stage fails (messages wait in the queue, not the DLQ); hover for why">Breaker</th>
      <th scope="col" class="num" title="The event source mapping's maximum concurrency">Max conc.</th>
      <th scope="col" class="num" title="Messages in the stage's dead-letter queue">DLQ</th>
      <th scope="col" title="Whether the oldest message of the queue or of its DLQ nears SQS's retention (then SQS deletes it)">Retention</th>
      <th scope="col" title="Each action asks for confirmation first and is logged by the runtime">Actions</th>
    </tr></thead>
    ${topology.pipelines.map((pipeline) => html`<tbody>${pipelineRow(pipeline.id, 7)}${pipeline.stages.map((stage) => controlRow(model, names, stage))}</tbody>`)}
  </table>`;
}

/** The page's confirmation dialog: actions.js fills in the question (and the number, to scale). */
export function confirmDialog(): Html {
  return html`<dialog id="confirm" aria-labelledby="confirm-title">
  <form method="dialog">
    <h3 id="confirm-title"></h3>
    <p id="confirm-text"></p>
    <label id="confirm-field" hidden><span id="confirm-label"></span> <input type="number" id="confirm-input" step="1" required></label>
    <div class="dialog-buttons"><button type="submit" value="cancel" formnovalidate>Cancel</button><button type="submit" value="confirm" id="confirm-ok" class="danger">Confirm</button></div>
  </form>
</dialog>`;
}

/** The dead-letter workbench of one stage: filter, peek, dry run, redrive (filled in by dead-letters.js). */
export function deadLetterPanel(): Html {
  return html`<section class="panel workbench" id="dead-letters" hidden aria-labelledby="dlq-title">
  <h2 id="dlq-title">Dead letters <small id="dlq-stage"></small></h2>
  <form id="dlq-filter" class="filters" data-limit="${MAX_PEEK}">
    <input type="search" name="grep" placeholder="reason contains…" maxlength="${MAX_GREP_LENGTH}" aria-label="Reason contains">
    <select name="kind" aria-label="Kind"><option value="">any kind</option>${DEAD_LETTER_KINDS.map((kind) => html`<option value="${kind}">${kind}</option>`)}</select>
    <input type="search" name="orderId" placeholder="order id" maxlength="64" aria-label="Order id">
    ${sinceSelect('since')}
    <button type="submit" data-dlq="peek" title="Shows up to ${MAX_PEEK} matching dead letters; consumes nothing">Peek</button>
    <button type="button" data-dlq="dry-run" title="Lists what a redrive would move; moves nothing">Dry run</button>
    <button type="button" data-dlq="redrive" class="danger" title="Moves the matching dead letters back to the stage's queue">Redrive…</button>
    <button type="button" data-dlq="close" class="close-panel" aria-label="Close the dead letters">×</button>
  </form>
  <p class="summary" id="dlq-summary" aria-live="polite"></p>
  <table class="grid-table letters"><thead><tr><th scope="col">Order</th><th scope="col">Kind</th><th scope="col">Dead-lettered</th><th scope="col">Reason</th></tr></thead><tbody id="dlq-letters"></tbody></table>
</section>`;
}
