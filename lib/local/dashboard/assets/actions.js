/**
 * What an operator does from the dashboard. Every change goes the same way: the page's dialog asks
 * for confirmation, the request carries the CSRF token the page was served with (the runtime refuses
 * a browser's write without it, and any cross-origin request), and a toast says how it ended. The
 * runtime logs each action with its target and result.
 */

const CSRF_HEADER = 'x-conveyor-csrf';
const TOKEN = document.querySelector('meta[name="conveyor-csrf"]')?.content ?? '';
const REQUEST_TIMEOUT_MS = 5000;
/** A redrive moves messages one batch at a time: it may take a while. */
const LONG_REQUEST_TIMEOUT_MS = 60000;

/**
 * A request to the runtime, with the token on every write.
 * @returns `{ ok, status, body }`; a network failure as status 0 with the error's message.
 */
export async function send(method, path, body, { long = false } = {}) {
  const headers = { accept: 'application/json', 'x-conveyor-operator': 'dashboard' };
  if (method !== 'GET') headers[CSRF_HEADER] = TOKEN;
  if (body !== undefined) headers['content-type'] = 'application/json';
  try {
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      signal: AbortSignal.timeout(long ? LONG_REQUEST_TIMEOUT_MS : REQUEST_TIMEOUT_MS),
    });
    const answer = await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, body: answer };
  } catch (error) {
    return {
      ok: false,
      status: 0,
      body: {
        error: 'no answer',
        details: [{ field: 'runtime', message: String(error?.message ? error.message : error) }],
      },
    };
  }
}

/** An error answer in one line, e.g. `forbidden: x-conveyor-csrf missing CSRF token: … reload the page`. */
export function describeError({ status, body }) {
  const detail = body?.details?.[0];
  return `${body?.error ?? `HTTP ${status}`}${detail?.message ? `: ${detail.field ? `${detail.field} ` : ''}${detail.message}` : ''}`;
}

/**
 * Asks in the page's dialog; resolves `{ confirmed, value }` (`value`: the number typed, with `input`).
 * @example
 * const { confirmed } = await confirmAction({ title: 'Pause wh-1/picking?', text: '…', ok: 'Pause' });
 */
export function confirmAction({ title, text, ok = 'Confirm', input }) {
  const dialog = document.getElementById('confirm');
  const field = document.getElementById('confirm-field');
  const number = document.getElementById('confirm-input');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = ok;
  field.hidden = !input;
  number.disabled = !input;
  if (input) {
    document.getElementById('confirm-label').textContent = input.label;
    Object.assign(number, { min: input.min, max: input.max, value: input.value });
  }
  dialog.returnValue = '';
  dialog.showModal();
  if (input) number.select();
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => resolve({ confirmed: dialog.returnValue === 'confirm', value: input ? Number(number.value) : undefined }),
      { once: true },
    );
  });
}

let toastTimer;

/** A short message at the bottom of the page: `good` or `bad`. */
export function toast(text, tone) {
  const element = document.getElementById('toast');
  element.textContent = text;
  element.dataset.tone = tone;
  element.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (element.hidden = true), tone === 'bad' ? 12000 : 5000);
}

/** Confirms, sends, reports: the common path of every action. @returns the answer, or undefined when not confirmed. */
export async function act({ question, method, path, body, done, long }) {
  const { confirmed, value } = await confirmAction(question);
  if (!confirmed) return undefined;
  const answer = await send(method, path, typeof body === 'function' ? body(value) : body, { long });
  toast(answer.ok ? done(answer.body) : describeError(answer), answer.ok ? 'good' : 'bad');
  return answer;
}

/** `/api/stages/{warehouse}/{stage}` of a stage's row (its ids come from the topology, in data attributes). */
export function stageApi(row) {
  return `/api/stages/${encodeURIComponent(row.dataset.pipelineId)}/${encodeURIComponent(row.dataset.stageName)}`;
}

/** Cancels an order (`DELETE /orders/{id}`: 200 cancelled, 409 already delivered or purged, 404 unknown). */
export function cancelOrder(orderId) {
  return act({
    question: {
      title: `Cancel order ${orderId}?`,
      text: 'Every later stage acknowledges its messages without running them; it will never be delivered. This cannot be undone.',
      ok: 'Cancel the order',
    },
    method: 'DELETE',
    path: `/orders/${encodeURIComponent(orderId)}`,
    done: (order) => `order ${orderId} ${order.status ?? 'cancelled'}`,
  });
}
