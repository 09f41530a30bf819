/**
 * The Operate table's buttons: pause, resume, scale and override the breaker of a stage, or open its
 * dead letters. Each button names its action (`data-action`); its row names the stage.
 */
import { act, stageApi } from './actions.js';

/** Per action: the question, the admin route (under the stage) and its body, what success says. */
const STAGE_ACTIONS = {
  pause: (stage) => ({
    question: {
      title: `Pause ${stage}?`,
      text: 'Its event source mapping stops polling: messages wait in the queue until you resume. Kept across restarts.',
      ok: 'Pause',
    },
    route: 'pause',
    done: () => `${stage} paused`,
  }),
  resume: (stage) => ({
    question: {
      title: `Resume ${stage}?`,
      text: 'Its event source mapping polls again and works off what waits in the queue.',
      ok: 'Resume',
    },
    route: 'resume',
    done: () => `${stage} resumed`,
  }),
  scale: (stage, button, row) => ({
    question: {
      title: `Scale ${stage}?`,
      text: 'The most invocations its event source mapping runs at once. Kept across restarts.',
      ok: 'Scale',
      input: {
        label: `Max concurrency (${button.dataset.min}–${button.dataset.max})`,
        min: button.dataset.min,
        max: button.dataset.max,
        value:
          row.querySelector('[data-bind$=".concurrency.max"]')?.textContent.replace(/\D/g, '') || button.dataset.min,
      },
    },
    route: 'scale',
    body: (value) => ({ maxConcurrency: value }),
    done: (answer) => `${stage}: max concurrency ${answer.maxConcurrency}`,
  }),
  'breaker-open': (stage) => ({
    question: {
      title: `Open the breaker of ${stage}?`,
      text: 'Consumption stops and stays stopped until you close it: messages wait in the queue, none go to the DLQ.',
      ok: 'Open the breaker',
    },
    route: 'breaker',
    body: { state: 'open' },
    done: (answer) => `${stage}: breaker ${answer.breaker?.state}`,
  }),
  'breaker-close': (stage) => ({
    question: {
      title: `Close the breaker of ${stage}?`,
      text: 'Consumption resumes at once at the stage’s concurrency; the breaker opens again if the stage keeps failing.',
      ok: 'Close the breaker',
    },
    route: 'breaker',
    body: { state: 'closed' },
    done: (answer) => `${stage}: breaker ${answer.breaker?.state}`,
  }),
};

/**
 * Wires the buttons. `openDeadLetters(row)` shows a stage's dead letters; `changed()` after an action
 * that succeeded (the page polls at once).
 */
export function wireStageActions({ openDeadLetters, changed }) {
  document.addEventListener('click', async (event) => {
    const button = event.target instanceof Element ? event.target.closest('button[data-action]') : null;
    const row = button?.closest('tr[data-stage]');
    if (!button || !row) return;
    const action = button.dataset.action;
    if (action === 'dead-letters') return openDeadLetters(row);
    const plan = STAGE_ACTIONS[action]?.(row.dataset.stage, button, row);
    if (!plan) return;
    button.disabled = true;
    try {
      const answer = await act({
        question: plan.question,
        method: 'POST',
        path: `${stageApi(row)}/${plan.route}`,
        body: plan.body ?? {},
        done: plan.done,
      });
      if (answer?.ok) changed();
    } finally {
      button.disabled = false;
    }
  });
}
