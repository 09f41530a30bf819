"""Enqueues N orders into the pipeline, one ``picking.apply_async`` per order, as fast as it can.

Usage: ``CONVEYOR_CELERY_BROKER=redis://127.0.0.1:PORT/0 /usr/bin/python3 -m bench.celery.produce N [prefix]``

The orders are the ones Conveyor's bench sends (bench/support.ts ``orders()``): ids ``prefix-i``,
warehouses alternating ``wh-1``/``wh-2``, three items each. It imports Celery and connects first,
prints ``ready``, waits for a line on stdin (the driver starts its clock then), enqueues, and prints
one JSON line: ``{"enqueued", "seconds", "cpuMs"}`` where ``cpuMs`` is this process's CPU during
the enqueue loop only and ``cpuMsStartup`` its CPU before it (interpreter start and imports).
"""

from __future__ import annotations

import json
import resource
import sys
import time

from .warehouse import app, picking


def orders(prefix: str, count: int):
    for i in range(count):
        yield {
            "orderId": f"{prefix}-{i}",
            "warehouseId": "wh-1" if i % 2 == 0 else "wh-2",
            "priority": "standard",
            "items": [
                {"sku": f"SKU-{i % 97}", "quantity": 1 + i % 3},
                {"sku": f"SKU-B{i % 13}", "quantity": 1},
                {"sku": "SKU-COMMON", "quantity": 1},
            ],
        }


def cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (usage.ru_utime + usage.ru_stime) * 1000


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    prefix = sys.argv[2] if len(sys.argv) > 2 else "bench"
    with app.producer_or_acquire() as producer:
        producer.connection.ensure_connection()
        startup = cpu_ms()
        print("ready", flush=True)
        sys.stdin.readline()
        started, cpu_before = time.perf_counter(), cpu_ms()
        for order in orders(prefix, count):
            picking.apply_async(
                ({"v": 1, "order": order, "acceptedAt": time.time() * 1000},),
                queue=f"{order['warehouseId']}.picking",
                producer=producer,
            )
        result = {"enqueued": count, "seconds": time.perf_counter() - started, "cpuMs": cpu_ms() - cpu_before, "cpuMsStartup": startup}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
