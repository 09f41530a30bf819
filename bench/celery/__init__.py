"""The Celery reference pipeline: Conveyor's performance baseline, measured side by side.

What it is
    The warehouse pipeline of the Celery talk Conveyor was rebuilt from ("production ready =
    efficient, scalable, transparent, resilient"): ``picking -> packing -> delivery`` as three
    Celery tasks, Redis as the broker, one worker with 3 prefork processes, ``max_retries=5`` and no
    dead-letter queue. One task message per order per stage -- no batching, which is the point of
    the comparison. Each task does the same work as Conveyor's stage for one order (``work.py`` is a
    port of lib/domain: same hashes, grid, boxes, carriers; identical results), then enqueues the
    next stage with ``apply_async``. Delivery records completion in Redis (a set of order ids, so
    duplicates show, a counter and the latency) so the driver knows when all orders are through.

Files
    ``warehouse.py``  the Celery app, its settings (and why, in its docstring) and the three tasks
    ``work.py``       the per-order business work (picking, packing, delivery), pure Python
    ``produce.py``    the producer: N orders, one ``picking.apply_async`` each, as fast as it can
    ``../celery.ts``  the driver: starts a private redis-server and the worker, runs the producer,
                      measures, stops everything; ``runCelery()`` for bench/run.ts

Needs (Debian 12 packages; use /usr/bin/python3, not a pyenv python)
    apt-get install -y --no-install-recommends python3-celery python3-redis redis-server
    (celery 5.2.6, kombu 5.2.4, redis-py 4.3.4, redis-server 7.0.15, Python 3.11 on Debian 12)

Run (from the repository root)
    node_modules/.bin/node bench/celery.ts --orders 2000 --runs 3
    node_modules/.bin/node bench/celery.ts --orders 20000 --chaos 0.2
    Variants: --prefetch N, --concurrency N, --nodes N (worker instances), --acks-late 0,
    --serializer pickle, --events 1 (task events, what Flower needs), --results 1 (result backend).

What it measures (as bench/e2e.ts does for Conveyor)
    Wall time from the first enqueue to the N-th distinct delivery; orders/s; CPU ms per order of
    the pipeline's process tree from /proc (redis-server + the worker's main process + its pool
    processes), and the same plus the producer's enqueue loop (its interpreter start-up excluded;
    the producer is the counterpart of Conveyor's HTTP intake); latency from enqueue to delivery
    (p50, p99 -- a burst of N orders, so mostly queueing); duplicates (deliveries of an order already
    delivered) and lost orders (never delivered once the broker is empty: with --chaos, the orders
    that failed six times in a row at one stage).

Caveat found while tuning (celery 5.2.6 / kombu 5.2.4, Redis transport, acks_late, -O fair)
    With ``worker_prefetch_multiplier=1`` and ``-c 1`` or ``-c 2`` per worker, the worker idles about
    one second between tasks (7-30 orders/s), with messages waiting in Redis. Not seen with ``-c 3``
    or more at multiplier 1 (the talk's shape), nor with multiplier 2 or more at any concurrency.
    So several small worker instances (``--nodes``) need ``--prefetch 2`` or more; the driver warns.
"""
