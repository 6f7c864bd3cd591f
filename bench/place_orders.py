"""Orders at a steady rate through the real placement service, while `make bench` loads the store.

Started by bench/traffic.py (OrderStream) with the bench's environment (its database and cache),
never by hand on a real store: every order is real, reserves stock and writes its confirmation
email to the outbox (EMAIL_URL is set to memory here, so nothing leaves the machine).

Each order is one unit of a variant picked at random among those in stock, placed with
`orders.services.placement.place_order`, so stock changes, cache invalidation and the outbox
follow exactly as for a shopper's order. Orders are due on a fixed clock (`--rate` per second): a
slow placement does not push the next ones back, it counts as "late" when it made one miss its
time. Prints "ready" once set up; on TERM, one JSON line: placed, refused (out of stock by then),
late, p50_ms and max_ms of a placement.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1.0, help="orders per second (default 1)")
    args = parser.parse_args()
    if "bench" not in os.environ.get("DATABASE_URL", ""):
        sys.exit("Refusing to place orders: DATABASE_URL must name a bench database.")
    os.environ["EMAIL_URL"] = "memorymail://"
    sys.path.insert(0, str(ROOT))
    from bench import setup_django

    setup_django()
    from catalog import selectors
    from catalog.exceptions import OutOfStock
    from catalog.models import Variant
    from orders.services.placement import PlacementLine, ShippingChoice, place_order

    candidates = list(
        Variant.objects.filter(
            is_active=True, product__in=selectors.published_products().values("pk"),
            stock_levels__location__is_active=True, stock_levels__on_hand__gt=5,
        ).values_list("pk", flat=True).distinct()
    )
    if not candidates:
        sys.exit("No variant in stock to order")
    rng = random.Random()
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("ready", flush=True)

    placed = refused = late = 0
    durations: list[float] = []
    interval = 1 / args.rate
    due = time.monotonic()
    while not stopping:
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
            if stopping:
                break
        started = time.monotonic()
        try:
            place_order(
                lines=[PlacementLine(variant_id=rng.choice(candidates), quantity=1)],
                email="bench-orders@example.com",
                idempotency_key=uuid.uuid4().hex,
                shipping=ShippingChoice(name="Bench delivery", price=Decimal("5.00")),
                customer_name="Bench Shopper",
                shipping_address={"name": "Bench Shopper", "line1": "1 Main St", "city": "Springfield",
                                  "postal_code": "62701", "country": "US"},
            )
            placed += 1
        except (OutOfStock, Variant.DoesNotExist):
            refused += 1
        durations.append(time.monotonic() - started)
        due += interval
        if time.monotonic() > due:
            late += 1
            due = time.monotonic()  # start the clock again rather than firing a burst to catch up
    print(json.dumps({
        "placed": placed, "refused": refused, "late": late,
        "p50_ms": statistics.median(durations) * 1000 if durations else 0.0,
        "max_ms": max(durations) * 1000 if durations else 0.0,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
