/**
 * The dead-letter workbench of one stage (bull-board's search and selective retry): a filter on the
 * reason's text, the kind, the order and the time; peek (consumes nothing), dry run (lists what
 * would move, moves nothing) and redrive (moves exactly what matches, after confirmation).
 */
import { act, describeError, send, stageApi } from './actions.js';

const clock = new Intl.DateTimeFormat('en-GB', {
  month: 'short',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});

/** The filter the form describes, as the admin API takes it (only the fields that are set). */
function filterOf(form) {
  const data = new FormData(form);
  const text = (name) => String(data.get(name) ?? '').trim();
  const since = Number(text('since'));
  return {
    ...(text('grep') ? { grep: text('grep') } : {}),
    ...(text('kind') ? { kinds: [text('kind')] } : {}),
    ...(text('orderId') ? { orderId: text('orderId') } : {}),
    ...(since > 0 ? { since: new Date(Date.now() - since * 1000).toISOString() } : {}),
  };
}

function describeFilter(filter) {
  const parts = [
    filter.grep ? `reason contains “${filter.grep}”` : '',
    filter.kinds ? `kind ${filter.kinds.join('|')}` : '',
    filter.orderId ? `order ${filter.orderId}` : '',
    filter.since ? `since ${clock.format(new Date(filter.since))}` : '',
  ];
  return parts.filter(Boolean).join(', ') || 'every dead letter';
}

function cell(text, className) {
  const td = document.createElement('td');
  if (className) td.className = className;
  td.textContent = text ?? '—';
  return td;
}

function showLetters(letters) {
  const rows = letters.map((letter) => {
    const tr = document.createElement('tr');
    const at = letter.deadLetteredAt ?? letter.sentAt;
    tr.dataset.messageId = letter.messageId;
    tr.append(
      cell(letter.orderId, 'mono'),
      cell(letter.kind),
      cell(at ? clock.format(new Date(at)) : undefined, 'mono'),
      cell(letter.reason, 'reason'),
    );
    return tr;
  });
  document.getElementById('dlq-letters').replaceChildren(...rows);
}

/** The stage whose dead letters show, and how many reads started (only the latest read shows: a peek on opening and a click may overlap). */
const shown = { row: undefined, reads: 0 };

function say(text, tone) {
  const summary = document.getElementById('dlq-summary');
  summary.textContent = text;
  summary.dataset.tone = tone;
}

/** Reads the dead letters the filter selects; consumes nothing. */
async function peek(form) {
  const { row } = shown;
  const filter = filterOf(form);
  const query = new URLSearchParams({ limit: form.dataset.limit });
  for (const [name, value] of Object.entries(filter)) query.set(name, Array.isArray(value) ? value.join(',') : value);
  say(`Reading ${row.dataset.stage}'s dead-letter queue…`, 'muted');
  const read = ++shown.reads;
  const answer = await send('GET', `${stageApi(row)}/dlq?${query}`);
  if (read !== shown.reads) return;
  if (!answer.ok) return say(describeError(answer), 'bad');
  showLetters(answer.body.messages);
  say(
    `${answer.body.messages.length}${answer.body.truncated ? '+' : ''} dead letter(s) match ${describeFilter(filter)} — ${answer.body.scanned} read, none consumed`,
    'good',
  );
}

/** A dry run asks nothing (it moves nothing); a redrive asks first. @returns whether dead letters moved. */
async function redrive(form, dryRun) {
  const { row } = shown;
  const filter = filterOf(form);
  const stage = row.dataset.stage;
  const path = `${stageApi(row)}/dlq/redrive`;
  const answer = dryRun
    ? await send('POST', path, { filter, dryRun: true }, { long: true })
    : await act({
        question: {
          title: `Redrive ${stage}?`,
          text: `Moves the dead letters that match ${describeFilter(filter)} back to ${stage}'s queue, where the stage runs them again.`,
          ok: 'Redrive',
        },
        method: 'POST',
        path,
        body: { filter },
        long: true,
        done: (report) => `${stage}: ${report.moved + report.finished} redriven`,
      });
  ++shown.reads;
  if (!answer) return false;
  if (!answer.ok) {
    say(describeError(answer), 'bad');
    return false;
  }
  const report = answer.body;
  showLetters(report.dryRun ? report.letters : []);
  say(
    report.dryRun
      ? `Dry run: ${report.matched} of ${report.scanned} would move (${describeFilter(filter)}); nothing moved`
      : `Moved ${report.moved + report.finished} of ${report.scanned} to the queue${report.notDeleted ? ` (${report.notDeleted} still in the DLQ: redrive again)` : ''}`,
    'good',
  );
  return !report.dryRun;
}

/** Wires the panel; `open(row)` shows the dead letters of a stage's row. `changed()` after a redrive. */
export function deadLetterWorkbench({ changed }) {
  const panel = document.getElementById('dead-letters');
  const form = document.getElementById('dlq-filter');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void peek(form);
  });
  form.addEventListener('click', async (event) => {
    const which = event.target instanceof Element ? event.target.closest('button[data-dlq]')?.dataset.dlq : undefined;
    if (which === 'close') panel.hidden = true;
    else if ((which === 'dry-run' || which === 'redrive') && (await redrive(form, which === 'dry-run'))) changed();
  });
  return {
    open(row) {
      shown.row = row;
      document.getElementById('dlq-stage').textContent = row.dataset.stage;
      showLetters([]);
      panel.hidden = false;
      panel.scrollIntoView({ block: 'nearest' });
      void peek(form);
    },
  };
}
