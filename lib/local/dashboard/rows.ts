/**
 * The rows every stage table of the page shares: a warehouse's heading row and a stage's heading
 * cell. Tables list each warehouse's own chain of stages, in order, from the topology.
 */
import type { Stage } from '../../topology/index.ts';
import { html, type Html } from './html.ts';

/** Queue and dead-letter queue names by stage key. */
export type StageNames = ReadonlyMap<string, { readonly queue: string; readonly deadLetterQueue: string }>;

/** A stage's heading cell: its place in the chain and its name; its queues in the title. */
export function stageHeader(names: StageNames, stage: Stage): Html {
  const queues = names.get(stage.key);
  return html`<th scope="row" class="stage" title="${queues ? `queue ${queues.queue}, dead-letter queue ${queues.deadLetterQueue}` : stage.key}"><span class="step">${stage.index + 1}</span>${stage.name}</th>`;
}

/** A warehouse's heading row across `columns`, with its composite alarm when given. */
export function pipelineRow(pipelineId: string, columns: number, badge?: Html): Html {
  return html`<tr class="group" data-pipeline="${pipelineId}"><th colspan="${columns}" scope="rowgroup"><span class="pipeline-name">${pipelineId}</span>${badge ?? ''}</th></tr>`;
}
