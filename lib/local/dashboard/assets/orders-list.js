/**
 * Orders by state (`GET /api/orders?status=…&warehouse=…&since=…`): dead-lettered, cancelled and
 * purged orders, newest first. An order's id looks it up; a dead-lettered order can be cancelled.
 */
import { cancelOrder, describeError, send } from './actions.js';

const clock = new Intl.DateTimeFormat('en-GB', {
  month: 'short',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});
const LIMIT = 100;

function cell(content, className) {
  const td = document.createElement('td');
  if (className) td.className = className;
  if (content instanceof Node) td.append(content);
  else td.textContent = content ?? '—';
  return td;
}

function button(text, className, onClick) {
  const element = document.createElement('button');
  element.type = 'button';
  element.className = className;
  element.textContent = text;
  element.addEventListener('click', onClick);
  return element;
}

/**
 * Wires the panel. `lookUp(id)` shows an order; `changed()` after a cancel.
 * @returns `{ refresh, watch(totals) }` — `watch` lists again when the totals of listed states move.
 */
export function ordersList({ lookUp, changed }) {
  const form = document.getElementById('orders-filter');
  const summary = document.getElementById('orders-summary');
  let seen;
  /** Reads started: only the latest shows (a change of filter and a change of totals may overlap). */
  let reads = 0;

  function row(order) {
    const tr = document.createElement('tr');
    tr.dataset.orderId = order.orderId;
    const cancel =
      order.status === 'dead-lettered'
        ? button('Cancel…', 'act danger', async () =>
            (await cancelOrder(order.orderId))?.ok ? (changed(), refresh()) : undefined,
          )
        : '';
    tr.append(
      cell(button(order.orderId, 'link mono', () => lookUp(order.orderId))),
      cell(order.warehouseId),
      cell(order.stage),
      cell(clock.format(new Date(order.since)), 'mono'),
      cell(order.reason ?? (order.by ? `by ${order.by}` : undefined), 'reason'),
      cell(cancel),
    );
    return tr;
  }

  async function refresh() {
    const data = new FormData(form);
    const query = new URLSearchParams({ status: String(data.get('status')), limit: String(LIMIT) });
    if (data.get('warehouse')) query.set('warehouse', String(data.get('warehouse')));
    const since = Number(data.get('since'));
    if (since > 0) query.set('since', new Date(Date.now() - since * 1000).toISOString());
    const read = ++reads;
    const answer = await send('GET', `/api/orders?${query}`);
    if (read !== reads) return;
    if (!answer.ok) {
      summary.textContent = describeError(answer);
      summary.dataset.tone = 'bad';
      return;
    }
    document.getElementById('orders-list').replaceChildren(...answer.body.orders.map(row));
    summary.textContent = `${answer.body.orders.length}${answer.body.truncated ? '+' : ''} ${query.get('status')} order(s)${query.get('warehouse') ? ` in ${query.get('warehouse')}` : ''}`;
    summary.dataset.tone = 'muted';
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void refresh();
  });
  form.addEventListener('change', () => void refresh());

  return {
    refresh,
    watch(totals) {
      const now = `${totals.deadLettered}/${totals.cancelled}/${totals.purged}`;
      if (now !== seen) void refresh();
      seen = now;
    },
  };
}
