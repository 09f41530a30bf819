/**
 * Orders by state: the orders worth listing (dead-lettered, cancelled, purged — the ledger's listing
 * index, `GET /api/orders`), by warehouse and time; orders-list.js fills the table and offers to
 * cancel a dead-lettered order.
 */
import { LISTED_STATES } from '../../ledger/listing.ts';
import type { Topology } from '../../topology/index.ts';
import { sinceSelect } from './controls.ts';
import { html, type Html } from './html.ts';

export function ordersPanel(topology: Topology): Html {
  return html`<section class="panel" id="orders-by-state" aria-labelledby="orders-title">
  <h2 id="orders-title">Orders by state <small>${LISTED_STATES.join(', ')} — in-flight and delivered orders: look them up by id</small></h2>
  <form id="orders-filter" class="filters">
    <select name="status" aria-label="State">${LISTED_STATES.map((state) => html`<option value="${state}">${state}</option>`)}</select>
    <select name="warehouse" aria-label="Warehouse"><option value="">every warehouse</option>${topology.pipelines.map((p) => html`<option value="${p.id}">${p.id}</option>`)}</select>
    ${sinceSelect('since')}
    <button type="submit">List</button>
  </form>
  <p class="summary" id="orders-summary" aria-live="polite"></p>
  <table class="grid-table listed"><thead><tr><th scope="col">Order</th><th scope="col">Warehouse</th><th scope="col">Stage</th><th scope="col">Since</th><th scope="col">Reason / by</th><th scope="col"></th></tr></thead><tbody id="orders-list"></tbody></table>
</section>`;
}
