"""The business work of the three stages, per order, in plain Python.

A port of Conveyor's lib/domain (catalog.ts, picking.ts, packing.ts, delivery.ts) for one order at a
time, so each Celery task does the same small but real work as Conveyor's handlers: the same hashes
(FNV-1a 32 for the catalog, cyrb53 for ids), the same warehouse grid, boxes and carriers, and the same
results for the same order (tracking numbers match Conveyor's, e.g. ``tracking_number_for('ord-1',
'PF') == 'PF2673671334707460'``). What differs is inherent to one-message-per-order: a pick "wave" and
a carrier "manifest" hold a single order here, where Conveyor plans them for a whole batch.

Pure functions, no I/O; imported by the Celery tasks in ``warehouse.py``.
"""

from __future__ import annotations

_M32 = 0xFFFFFFFF


def _imul(a: int, b: int) -> int:
    """JavaScript's Math.imul as an unsigned 32-bit result (callers only use the low 32 bits)."""
    return (a * b) & _M32


def fnv1a32(text: str) -> int:
    h = 0x811C9DC5
    for ch in text:
        h = ((h ^ ord(ch)) * 0x01000193) & _M32
    return h


def hash53(text: str) -> int:
    """bryc's cyrb53, as in Conveyor's catalog.ts (``hash53('ord-1') == 4452838255571541``)."""
    h1 = 0xDEADBEEF
    h2 = 0x41C6CE57
    for ch in text:
        c = ord(ch)
        h1 = _imul(h1 ^ c, 2654435761)
        h2 = _imul(h2 ^ c, 1597334677)
    h1 = _imul(h1 ^ (h1 >> 16), 2246822507)
    h1 ^= _imul(h2 ^ (h2 >> 13), 3266489909)
    h2 = _imul(h2 ^ (h2 >> 16), 2246822507)
    h2 ^= _imul(h1 ^ (h1 >> 13), 3266489909)
    return 4294967296 * (2097151 & h2) + (h1 & _M32)


def hash53_hex(text: str) -> str:
    return format(hash53(text), "014x")


# The warehouse grid: aisles A-T, 40 bays of 6 levels each; bins "01-01".."40-06".
AISLE_COUNT = 20
BAYS_PER_AISLE = 40
LEVELS_PER_BAY = 6
BINS_PER_AISLE = BAYS_PER_AISLE * LEVELS_PER_BAY
SLOT_COUNT = AISLE_COUNT * BINS_PER_AISLE
_AISLES = [chr(65 + i) for i in range(AISLE_COUNT)]
_BINS = [f"{i // LEVELS_PER_BAY + 1:02d}-{i % LEVELS_PER_BAY + 1:02d}" for i in range(BINS_PER_AISLE)]


def slot_of(sku: str) -> int:
    return fnv1a32(sku) % SLOT_COUNT


def route_position(slot: int) -> int:
    """Serpentine route: up the odd aisles (A, C, ...), back down the even ones."""
    aisle, bin_ = divmod(slot, BINS_PER_AISLE)
    return aisle * BINS_PER_AISLE + (bin_ if aisle % 2 == 0 else BINS_PER_AISLE - 1 - bin_)


def unit_of(sku: str) -> tuple[int, int]:
    """(volume cm³, weight g) of one unit, derived from the SKU as in catalog.ts."""
    h = fnv1a32(sku)
    h = _imul(h ^ (h >> 16), 0x85EBCA6B)
    h = _imul(h ^ (h >> 13), 0xC2B2AE35)
    h = (h ^ (h >> 16)) & _M32
    size = h >> 16
    density = h & 0xFFFF
    volume = 50 + (size * size * (6000 - 50)) // (0xFFFF * 0xFFFF)
    per_mille = 100 + (density * 567) // 0xFFFF
    weight = min(4000, max(20, _js_round(volume * per_mille / 1000)))
    return volume, weight


def _js_round(x: float) -> int:
    """Math.round (halves up), not Python's banker's rounding."""
    import math

    return math.floor(x + 0.5)


# -- picking -------------------------------------------------------------------------------------


def plan_picking(order: dict) -> dict:
    """The order's pick list: each SKU located by hash to aisle/bin, lines in route order."""
    items = order["items"]
    if not items:
        raise ValueError(f"order {order['orderId']} has no items to pick")
    stops = {}
    for item in items:
        sku = item["sku"]
        if sku not in stops:
            slot = slot_of(sku)
            stops[sku] = (route_position(slot), sku, _AISLES[slot // BINS_PER_AISLE], _BINS[slot % BINS_PER_AISLE])
    sequence = {stop[1]: i + 1 for i, stop in enumerate(sorted(stops.values()))}
    lines = [
        {"sku": it["sku"], "quantity": it["quantity"], "aisle": stops[it["sku"]][2], "bin": stops[it["sku"]][3], "sequence": sequence[it["sku"]]}
        for it in items
    ]
    lines.sort(key=lambda line: line["sequence"])
    return {"waveId": "W-" + hash53_hex(order["orderId"]), "lines": lines}


# -- packing -------------------------------------------------------------------------------------

# (size, usable volume cm³, gross weight limit g, tare g), smallest first, as packing.ts.
BOX_SIZES = [("S", 4_000, 5_000, 150), ("M", 19_200, 12_000, 400), ("L", 76_800, 20_000, 900), ("XL", 230_400, 30_000, 1_600)]


def plan_packing(order: dict) -> dict:
    """Boxes for the order: whole single-SKU boxes of the largest size, then first-fit decreasing
    by lot volume, each mixed box shrunk to the smallest size that holds it."""
    l_size, l_volume, l_max, l_tare = BOX_SIZES[-1]
    payload = l_max - l_tare
    groups: dict[str, list] = {}
    for item in order["items"]:
        g = groups.get(item["sku"])
        if g is None:
            volume, weight = unit_of(item["sku"])
            groups[item["sku"]] = [item["sku"], volume, weight, item["quantity"]]
        else:
            g[3] += item["quantity"]
    boxes = []
    for g in groups.values():
        sku, volume, weight, remaining = g
        if volume > l_volume or weight > payload:
            raise ValueError(f"order {order['orderId']}: {sku} does not fit the largest box")
        per_box = min(l_volume // volume, payload // weight)
        full = remaining // per_box
        if full:
            boxes.append({"size": l_size, "count": full, "lines": [{"sku": sku, "quantity": per_box}], "weightGrams": l_tare + per_box * weight})
            g[3] = remaining - full * per_box
    lots = sorted(groups.values(), key=lambda g: (-g[3] * g[1], -g[1], -g[2], g[0]))
    open_boxes = []  # [free volume, free weight, lines]
    for sku, volume, weight, remaining in lots:
        if remaining == 0:
            continue
        v, w = remaining * volume, remaining * weight
        box = next((b for b in open_boxes if b[0] >= v and b[1] >= w), None)
        if box is None:
            box = [l_volume, payload, []]
            open_boxes.append(box)
        box[2].append({"sku": sku, "quantity": remaining})
        box[0] -= v
        box[1] -= w
    for free_volume, free_weight, lines in open_boxes:
        volume, content = l_volume - free_volume, payload - free_weight
        size = next((s for s in BOX_SIZES if volume <= s[1] and content + s[3] <= s[2]), BOX_SIZES[-1])
        boxes.append({"size": size[0], "count": 1, "lines": lines, "weightGrams": content + size[3]})
    parcels = sum(b["count"] for b in boxes)
    total = sum(b["count"] * b["weightGrams"] for b in boxes)
    return {"boxes": boxes, "parcels": parcels, "totalWeightGrams": total}


# -- delivery ------------------------------------------------------------------------------------

# (id, code, countries, max parcel weight g, express), cheapest first, as delivery.ts.
CARRIERS = [
    ("paketfix", "PF", {"DE", "AT", "CH", "NL", "BE", "LU"}, 31_500, False),
    ("blitzkurier", "BK", {"DE", "AT", "CH", "NL", "BE", "LU", "FR", "IT", "ES"}, 30_000, True),
    ("nordlink", "NL", {"DE", "DK", "SE", "NO", "FI"}, 20_000, True),
    ("atlas-freight", "AF", {"DE", "FR", "IT", "ES", "PL", "CZ", "DK", "SE", "NO", "FI", "GB", "US"}, 70_000, False),
]


def _luhn_check_digit(digits: str) -> int:
    total = 0
    double = True
    for ch in reversed(digits):
        d = ord(ch) - 48
        if double:
            d *= 2
            if d > 9:
                d -= 9
        total += d
        double = not double
    return (10 - total % 10) % 10


def tracking_number_for(order_id: str, code: str) -> str:
    digits = str(hash53(f"{code}:{order_id}") % 10**15).zfill(15)
    return f"{code}{digits}{_luhn_check_digit(digits)}"


def assign_delivery(order: dict, packing: dict) -> dict:
    """The first carrier that serves the country, offers the service and takes the heaviest parcel."""
    country = (order.get("shipTo") or {}).get("country", "DE")
    service = "express" if order.get("priority") == "express" else "ground"
    heaviest = max(b["weightGrams"] for b in packing["boxes"])
    for cid, code, countries, max_weight, express in CARRIERS:
        if country in countries and (service == "ground" or express) and heaviest <= max_weight:
            return {
                "carrier": cid,
                "service": service,
                "trackingNumber": tracking_number_for(order["orderId"], code),
                "manifestId": f"MF-{code}-" + hash53_hex(order["orderId"] + "\n"),
                "parcels": packing["parcels"],
                "weightGrams": packing["totalWeightGrams"],
            }
    raise ValueError(f"order {order['orderId']}: no {service} carrier to {country} takes a {heaviest} g parcel")
