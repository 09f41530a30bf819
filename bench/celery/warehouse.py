"""The Celery talk's warehouse pipeline: ``picking -> packing -> delivery``, one task message per
order per stage, Redis broker, prefork workers. The reference Conveyor is measured against; see
``bench/celery/__init__.py`` for how to run it and why each setting is what it is.

Configuration comes from the environment (the driver, bench/celery.ts, sets it):

- ``CONVEYOR_CELERY_BROKER``   broker URL, default ``redis://127.0.0.1:6379/0``
- ``CONVEYOR_CELERY_CHAOS``    probability that a task fails transiently (before doing its work), default 0
- ``CONVEYOR_CELERY_PREFETCH`` ``worker_prefetch_multiplier``, default 1 (the talk's resilient setting)
- ``CONVEYOR_CELERY_SERIALIZER`` ``json`` (default, Celery's default since 4.0) or ``pickle``
- ``CONVEYOR_CELERY_ACKS_LATE`` ``1`` (default) or ``0``
- ``CONVEYOR_CELERY_RESULTS``  ``1`` stores every task's result in Redis (a variant; default ``0``)

Settings (and why):

- ``task_acks_late=True`` + ``task_reject_on_worker_lost=True``: a message is acknowledged only
  after its task returned, so a worker killed mid-task leaves the message in Redis's ``unacked`` hash
  and it is redelivered after the visibility timeout -- the talk's "resilient". The price is one
  extra broker round trip per task (the ack happens after the task, from the worker's main process)
  and at-least-once delivery (duplicates are possible; delivery counts them).
- ``worker_prefetch_multiplier=1`` with ``-O fair``: the combination the Celery docs and the talk
  recommend with acks_late, so no process hoards unacknowledged messages and a slow task does not
  hold others behind it. For tasks this short it costs throughput (see the README for measurements
  with 4, Celery's default).
- ``autoretry_for=(TransientError,)``, ``max_retries=5``, ``retry_backoff=True`` (1, 2, 4, 8, 16 s
  caps) with ``retry_jitter`` (full jitter): as the talk, five retries and no dead-letter queue, so an
  order that fails six times in a row at one stage is dropped (counted as lost by the driver).
  Without ``retry_backoff`` Celery would wait ``default_retry_delay`` = 180 s between tries.
- ``ignore_result=True`` and no result backend: nothing reads task results; delivery records
  completion itself (one Lua call: SADD the order id -- 0 means a duplicate -- INCR a counter, RPUSH
  the latency).
- JSON serialization (Celery's default since 4.0), the message protocol 2 default.
- Queues: one per warehouse and stage (``wh-1.picking`` ...), as Conveyor's topology; every worker
  consumes all six.
"""

from __future__ import annotations

import os
import random
import time

import redis
from celery import Celery
from celery.signals import worker_ready

from . import work

BROKER_URL = os.environ.get("CONVEYOR_CELERY_BROKER", "redis://127.0.0.1:6379/0")
CHAOS = float(os.environ.get("CONVEYOR_CELERY_CHAOS", "0") or 0)
PREFETCH = int(os.environ.get("CONVEYOR_CELERY_PREFETCH", "1") or 1)
SERIALIZER = os.environ.get("CONVEYOR_CELERY_SERIALIZER", "json")
ACKS_LATE = os.environ.get("CONVEYOR_CELERY_ACKS_LATE", "1") != "0"
RESULTS = os.environ.get("CONVEYOR_CELERY_RESULTS", "0") == "1"

WAREHOUSES = ("wh-1", "wh-2")
STAGES = ("picking", "packing", "delivery")
QUEUES = [f"{wh}.{stage}" for wh in WAREHOUSES for stage in STAGES]

# Keys the pipeline writes for the driver (the broker's own keys are the queue names and unacked*).
DELIVERED_SET = "bench:delivered"
DELIVERIES = "bench:deliveries"
LATENCIES = "bench:latency-ms"
READY = "bench:workers-ready"

app = Celery("conveyor_celery_bench", broker=BROKER_URL)
app.conf.update(
    task_serializer=SERIALIZER,
    result_serializer=SERIALIZER,
    accept_content=[SERIALIZER],
    result_backend=BROKER_URL if RESULTS else None,
    task_ignore_result=not RESULTS,
    task_acks_late=ACKS_LATE,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=PREFETCH,
    task_default_queue="wh-1.picking",
    task_create_missing_queues=True,
    broker_transport_options={"visibility_timeout": 3600},
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=True,
    worker_redirect_stdouts=False,
)


class TransientError(Exception):
    """An injected transient failure (a timeout talking to a store, say): worth retrying."""


RETRY = dict(
    bind=True,
    acks_late=ACKS_LATE,
    ignore_result=not RESULTS,
    autoretry_for=(TransientError,),
    max_retries=5,
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
)


def _chaos(stage: str) -> None:
    if CHAOS and random.random() < CHAOS:
        raise TransientError(f"injected transient failure in {stage}")


def _next(task, message: dict, stage: str) -> None:
    task.apply_async((message,), queue=f"{message['order']['warehouseId']}.{stage}")


@app.task(name="warehouse.picking", **RETRY)
def picking(self, message: dict) -> None:
    """Locates each SKU (hash -> aisle/bin), orders the pick list along the route, sends to packing."""
    _chaos("picking")
    message["picking"] = work.plan_picking(message["order"])
    _next(packing, message, "packing")


@app.task(name="warehouse.packing", **RETRY)
def packing(self, message: dict) -> None:
    """Chooses boxes from the units' volumes and weights, sends to delivery."""
    _chaos("packing")
    message["packing"] = work.plan_packing(message["order"])
    _next(delivery, message, "delivery")


_recorder: tuple[int, redis.Redis, object] | None = None

_RECORD = """
local new = redis.call('SADD', KEYS[1], ARGV[1])
redis.call('INCR', KEYS[2])
if new == 1 then redis.call('RPUSH', KEYS[3], ARGV[2]) end
return new
"""


def _record(order_id: str, latency_ms: float) -> int:
    """Records a delivery; one client per process (prefork children must not share a socket)."""
    global _recorder
    if _recorder is None or _recorder[0] != os.getpid():
        client = redis.Redis.from_url(BROKER_URL)
        _recorder = (os.getpid(), client, client.register_script(_RECORD))
    return _recorder[2](keys=[DELIVERED_SET, DELIVERIES, LATENCIES], args=[order_id, f"{latency_ms:.1f}"])


@app.task(name="warehouse.delivery", **RETRY)
def delivery(self, message: dict) -> None:
    """Chooses the carrier and a deterministic tracking number, records the delivery."""
    _chaos("delivery")
    message["delivery"] = work.assign_delivery(message["order"], message["packing"])
    _record(message["order"]["orderId"], time.time() * 1000 - message["acceptedAt"])


@worker_ready.connect
def _announce_ready(**_kwargs) -> None:
    redis.Redis.from_url(BROKER_URL).sadd(READY, str(os.getpid()))
