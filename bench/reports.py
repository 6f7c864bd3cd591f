"""The staff reports and the order list at 300,000 orders: milliseconds and queries of every report
page (30 and 365 days, each grouping) and of the order list with each of its filters.

A script, not a test (it never runs in `make test`). It measures one PostgreSQL database in this
process through Django's test client as a superuser (the real admin URLs, middleware and views; no
HTTP server in front):

    .venv/bin/python bench/reports.py        # postgres://postgres@127.0.0.1:5432/shop_reports_bench
    .venv/bin/python bench/reports.py --orders 50000 --rounds 3 --only sales,orders
    .venv/bin/python bench/reports.py --explain      # also EXPLAIN (ANALYZE, BUFFERS) the slow statements

The database is created if missing and migrated; its name must contain "bench" (it is filled with
made-up orders). The data set is written once with bulk_create (a second run reuses it):
--orders orders over the last two years (store days in `TIME_ZONE`, America/New_York unless set),
1-4 lines each over 200 products in 12 categories and 8 brands; channels web, phone, app and a
shop's counter, some click and collect; addresses in a few countries; a succeeded payment per paid
order (1 in 25 paid in two payments on different days, 1 in 50 partly from a gift card), 3 in 100
never paid (a failed attempt); 1 in 10 paid orders refunded, partly or fully, the same day or up to
40 days later (a few refunds failed); delivered lines allocated at one of two warehouses.

Every page is loaded --rounds times after a warm-up; the table shows the median wall time, the
median CPU time of the request's thread (Python's share: a busy machine inflates it less), the time
spent in SQL (one load) and the query count. Timings on a shared machine are noisy: compare before and after in the
same run, on the same data (`--only` and `--explain` help).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.databases import ensure_postgres_database  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/shop_reports_bench"
PREFIX = "rpt"  # the catalog's slugs and SKUs, the orders' idempotency keys
EMAIL_DOMAIN = "@reports-bench.invalid"
CENT = Decimal("0.01")
COUNTRIES = ("US", "US", "US", "US", "CA", "GB", "DE", "FR", "NL", "AU")
METHODS = ("Standard", "Standard", "Standard", "Express")
SECTIONS = ("sales", "others", "orders")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--orders", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help="comma-separated: sales (Sales over time), others (the other report pages), "
                             "orders (the order list)")
    parser.add_argument("--match", default="", help="only the pages whose name contains this (e.g. \"money moved\")")
    parser.add_argument("--explain", action="store_true",
                        help="print EXPLAIN (ANALYZE, BUFFERS) of every query over 50 ms of the pages measured")
    return parser.parse_args()


@contextlib.contextmanager
def stamped_by_hand(*fields):
    """Let bulk_create write the times given (the data set spreads them over two years) instead of
    now: auto_now/auto_now_add switched off on `fields` for the block."""
    saved = [(f, f.auto_now, getattr(f, "auto_now_add", False)) for f in fields]
    for f in fields:
        f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, auto_now, auto_now_add in saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


def bench_places():
    """(web, phone, app, counter channels; the shop; two warehouses), made once."""
    from catalog.models import Location
    from saleschannels.models import Channel

    shop = Location.objects.get_or_create(code=f"{PREFIX}-shop", defaults={
        "name": "Bench shop", "kind": Location.Kind.SHOP, "pickup_allowed": True})[0]
    warehouses = [Location.objects.get_or_create(code=f"{PREFIX}-warehouse-{i}", defaults={
        "name": f"Bench warehouse {i}", "kind": Location.Kind.WAREHOUSE})[0] for i in (1, 2)]
    web = Channel.objects.get_or_create(code="web", defaults={"name": "Web store", "kind": "web"})[0]
    phone = Channel.objects.get_or_create(code="phone", defaults={"name": "Phone and back office",
                                                                  "kind": "phone"})[0]
    app = Channel.objects.get_or_create(code=f"{PREFIX}-app", defaults={"name": "Bench app", "kind": "app"})[0]
    counter = Channel.objects.get_or_create(code=f"{PREFIX}-counter", defaults={
        "name": "Bench shop counter", "kind": "pos", "location": shop})[0]
    return (web, phone, app, counter), shop, warehouses


def build_dataset(total: int) -> None:
    from catalog.models import StockLevel
    from django.conf import settings

    from analytics.services import day_bounds, store_today
    from analytics.tests.generated import generated_catalog
    from orders.models import Allocation, Order, OrderLine
    from payments.models import Payment, Refund

    existing = Order.objects.filter(email__endswith=EMAIL_DOMAIN).count()
    if existing >= total:
        print(f"Reusing {existing:,} orders.")
        return
    if existing:
        sys.exit(f"{existing:,} bench orders from an earlier, smaller or stopped run: drop the database "
                 f"(it is the bench's own) and run again.")
    started = time.perf_counter()
    rng = random.Random(2026)
    variants = generated_catalog(categories=12, brands=8, products=200, prefix=PREFIX)
    (web, phone, app, counter), shop, warehouses = bench_places()
    levels = {}
    for warehouse in warehouses:
        have = set(StockLevel.objects.filter(location=warehouse).values_list("variant_id", flat=True))
        StockLevel.objects.bulk_create([StockLevel(variant=v, location=warehouse, on_hand=10_000)
                                        for v in variants if v.pk not in have])
        levels[warehouse.pk] = dict(StockLevel.objects.filter(location=warehouse).values_list("variant_id", "pk"))
    today = store_today()
    first = today - datetime.timedelta(days=729)
    days = [first + datetime.timedelta(days=n) for n in range(730)]
    per_day = total / len(days)
    fields = [Order._meta.get_field("created_at"), Order._meta.get_field("updated_at"),
              Payment._meta.get_field("created_at"), Payment._meta.get_field("updated_at"),
              Refund._meta.get_field("created_at")]
    now = datetime.datetime.now(datetime.UTC)
    batch = 5000
    made = 0
    counts = {"lines": 0, "payments": 0, "refunds": 0, "allocations": 0}

    def place(day: datetime.date, n: int):
        """One order of `day`: (order, lines, payments [(provider, status, amount, at)],
        refunds [(payment index, amount, status, at)], warehouse pk or None)."""
        start, end = day_bounds(day)
        at = start + datetime.timedelta(seconds=rng.randrange(int((end - start).total_seconds())))
        lines = []
        for variant in rng.sample(variants, rng.choice((1, 1, 1, 2, 2, 3, 4))):
            quantity = rng.choice((1, 1, 1, 2, 3))
            lines.append(OrderLine(variant=variant, product_title=f"Product {variant.product_id}", sku=variant.sku,
                                   quantity=quantity, unit_price=variant.price, line_total=variant.price * quantity))
        subtotal = sum((line.line_total for line in lines), Decimal("0"))
        kind = rng.random()
        channel, sale_location, pickup, address, method = web, None, None, {"country": rng.choice(COUNTRIES)}, \
            rng.choice(METHODS)
        if kind < 0.05:
            channel, sale_location, address, method = counter, shop, {}, ""
        elif kind < 0.10:
            pickup, address, method = shop, {}, ""
        elif kind < 0.18:
            channel = phone
        elif kind < 0.25:
            channel = app
        shipping = Decimal("0") if subtotal > 100 or not method else Decimal("5.00")
        total_due = subtotal + shipping
        payments, refunds = [], []
        paid_at = None
        fate = rng.random()
        if fate < 0.03:  # never paid: a declined card
            payments.append(("demo", Payment.Status.FAILED, total_due, at))
        else:
            if fate < 0.07:  # paid in two parts on different days (an invoice paid in instalments)
                part = (total_due / 2).quantize(CENT)
                second = at + datetime.timedelta(days=rng.randint(1, 6), hours=rng.randrange(12))
                payments += [("manual", Payment.Status.SUCCEEDED, part, at),
                             ("manual", Payment.Status.SUCCEEDED, total_due - part, second)]
                paid_at = second
            elif fate < 0.09 and total_due > 20:  # partly from a gift card
                payments += [("gift_card", Payment.Status.SUCCEEDED, Decimal("10.00"), at),
                             ("demo", Payment.Status.SUCCEEDED, total_due - 10, at)]
                paid_at = at
            else:
                payments.append(("cash" if sale_location else "demo", Payment.Status.SUCCEEDED, total_due, at))
                paid_at = at
            if rng.random() < 0.10:  # refunded, partly or fully, on the day or up to 40 days later
                index = len(payments) - 1
                amount = payments[index][2]
                if rng.random() < 0.6:
                    amount = (amount * Decimal(rng.choice((0.1, 0.25, 0.5)))).quantize(CENT)
                when = paid_at + datetime.timedelta(days=rng.choice((0, 0, 1, 2, 3, 7, 14, 40)),
                                                    minutes=rng.randrange(600))
                status = Refund.Status.FAILED if rng.random() < 0.05 else Refund.Status.SUCCEEDED
                if when < now:
                    refunds.append((index, amount, status, when))
        refunded = sum((r[1] for r in refunds if r[2] == Refund.Status.SUCCEEDED), Decimal("0"))
        status = (Order.PaymentStatus.UNPAID if paid_at is None else
                  Order.PaymentStatus.REFUNDED if refunded and refunded >= total_due else
                  Order.PaymentStatus.PARTIALLY_REFUNDED if refunded else Order.PaymentStatus.PAID)
        fulfilment = (Order.FulfilmentStatus.CANCELLED if paid_at is None else
                      Order.FulfilmentStatus.UNFULFILLED if (today - day).days < 3 else
                      Order.FulfilmentStatus.FULFILLED)
        key = f"{PREFIX}-{day.isoformat()}-{n}"
        order = Order(number=f"R{day.strftime('%y%m%d')}{n:05d}", idempotency_key=key, email=f"{key}{EMAIL_DOMAIN}",
                      customer_name=f"Bench shopper {n}", currency="USD", subtotal=subtotal,
                      shipping_total=shipping, total=total_due, payment_status=status, fulfilment_status=fulfilment,
                      paid_at=paid_at, channel=channel, sale_location=sale_location, pickup_location=pickup,
                      shipping_address=address, shipping_method_name=method, created_at=at, updated_at=at)
        delivered = sale_location is None and pickup is None and paid_at is not None
        return order, lines, payments, refunds, rng.choice(warehouses).pk if delivered else None

    def write(pending) -> None:
        with stamped_by_hand(*fields):
            orders = Order.objects.bulk_create([p[0] for p in pending], batch_size=batch)
            for order, lines, *_rest in pending:
                for line in lines:
                    line.order = order
            OrderLine.objects.bulk_create([line for p in pending for line in p[1]], batch_size=batch)
            allocations = [Allocation(line=line, stock_level_id=levels[warehouse][line.variant_id],
                                      quantity=line.quantity,
                                      quantity_fulfilled=line.quantity if order.fulfilment_status == "fulfilled" else 0)
                           for order, lines, _p, _r, warehouse in pending if warehouse for line in lines]
            Allocation.objects.bulk_create(allocations, batch_size=batch)
            payments = Payment.objects.bulk_create([
                Payment(order=order, provider=provider, status=status, amount=amount, currency="USD",
                        succeeded_at=at if status == Payment.Status.SUCCEEDED else None, created_at=at, updated_at=at)
                for order, _l, paid, _r, _w in pending for provider, status, amount, at in paid], batch_size=batch)
            by_order = iter(payments)
            refunds = []
            for _o, _l, paid, back, _w in pending:
                mine = [next(by_order) for _p in paid]
                refunds += [Refund(payment=mine[index], amount=amount, status=status, created_at=at)
                            for index, amount, status, at in back]
            Refund.objects.bulk_create(refunds, batch_size=batch)
        counts["lines"] += sum(len(p[1]) for p in pending)
        counts["payments"] += len(payments)
        counts["refunds"] += len(refunds)
        counts["allocations"] += len(allocations)

    pending = []
    carry = 0.0
    for day in days:
        carry += per_day * rng.uniform(0.7, 1.3) * (1.25 if day.weekday() >= 5 else 0.9)
        count = int(carry)
        carry -= count
        count = min(count, total - made - len(pending))
        pending += [place(day, n) for n in range(count)]
        if len(pending) >= batch:
            write(pending)
            made += len(pending)
            pending = []
            print(f"  {made:,} orders ({time.perf_counter() - started:.0f} s)", flush=True)
    if made + len(pending) < total:  # the random day counts fell short: top up today
        pending += [place(today, 10_000 + n) for n in range(total - made - len(pending))]
    if pending:
        write(pending)
        made += len(pending)
    print(f"Built {made:,} orders, {counts['lines']:,} lines, {counts['allocations']:,} allocations, "
          f"{counts['payments']:,} payments, {counts['refunds']:,} refunds in {time.perf_counter() - started:.0f} s "
          f"(store days in {settings.TIME_ZONE}).")


def measure(client, url: str, rounds: int, explain: bool) -> tuple[float, float, float, int, list]:
    """Median milliseconds of the whole request, median CPU milliseconds of this thread (Python's
    share, which a busy machine inflates less than wall time), milliseconds spent in SQL, queries,
    and the statements over 50 ms (sql, params, ms)."""
    from django.db import connection

    def load() -> bytes:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response.content

    load()  # warm-up
    seen: list[tuple[str, object, float]] = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seen.append((sql, params, (time.perf_counter() - started) * 1000))

    with connection.execute_wrapper(timed):
        load()
    timings, cpu = [], []
    for _round in range(rounds):
        started, started_cpu = time.perf_counter(), time.thread_time()
        load()
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    slow = [(sql, params, ms) for sql, params, ms in seen if ms > 50] if explain else []
    return statistics.median(timings), statistics.median(cpu), sum(ms for _s, _p, ms in seen), len(seen), slow


def print_explain(slow: list) -> None:
    from django.db import connection

    for sql, params, ms in slow:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            plan = "\n".join(f"      {row[0]}" for row in cursor.fetchall())
        print(f"    -- {ms:.0f} ms: {sql[:300]}{'...' if len(sql) > 300 else ''}\n{plan}", flush=True)


def scenarios(sections: set[str]) -> list[tuple[str, str]]:
    from django.urls import reverse

    from analytics import reports
    from analytics.services import store_today
    from orders.models import Order

    today = store_today()
    ranges = {"30 d": (today - datetime.timedelta(days=29), today),
              "365 d": (today - datetime.timedelta(days=364), today)}
    found = []
    if "sales" in sections:
        sales = reverse("admin:reports_sales")
        for span, (first, last) in ranges.items():
            for dimension, _label in reports.DIMENSIONS:
                grain = reports.DAY if span == "30 d" else reports.WEEK
                found.append((f"Sales {span} by {grain}, {dimension}",
                              f"{sales}?first={first}&last={last}&grain={grain}&dimension={dimension}"))
            for grain in (reports.DAY, reports.MONTH) if span == "365 d" else ():
                found.append((f"Sales {span} by {grain}, category",
                              f"{sales}?first={first}&last={last}&grain={grain}&dimension=category"))
            found.append((f"Sales {span} CSV by product",
                          f"{sales}?first={first}&last={last}&grain=day&dimension=product&format=csv"))
    if "others" in sections:
        for span, (first, last) in ranges.items():
            for name in ("products", "marketing", "promotions", "funnel", "returns"):
                found.append((f"{name.capitalize()} {span}",
                              f"{reverse(f'admin:reports_{name}')}?first={first}&last={last}"))
        customers = reverse("admin:reports_customers")
        for months in (12, 24):
            first = (today.replace(day=1) - datetime.timedelta(days=31 * (months - 1))).replace(day=1)
            found.append((f"Customers {months} months", f"{customers}?first={first:%Y-%m}&last={today:%Y-%m}"))
    if "orders" in sections:
        changelist = reverse("admin:orders_order_changelist")
        product = Order.objects.filter(email__endswith=EMAIL_DOMAIN).values_list(
            "lines__variant__product_id", "lines__variant__product__category_id",
            "lines__variant__product__brand_id").first()
        shop = reports_bench_location("shop")
        warehouse = reports_bench_location("warehouse-1")
        found.append(("Orders: no filter", changelist))
        for span, (first, last) in ranges.items():
            dates = f"{first}..{last}"
            found += [(f"Orders: money moved {span}", f"{changelist}?moved={dates}"),
                      (f"Orders: paid {span}", f"{changelist}?paid={dates}"),
                      (f"Orders: returned {span}", f"{changelist}?returned={dates}")]
        day = today - datetime.timedelta(days=3)
        found += [
            ("Orders: money moved 1 day", f"{changelist}?moved={day}..{day}"),
            ("Orders: paid 1 day", f"{changelist}?paid={day}..{day}"),
            ("Orders: money moved 30 d + category", f"{changelist}?moved={ranges['30 d'][0]}..{today}"
                                                    f"&line_category={product[1]}"),
            ("Orders: paid 30 d + product", f"{changelist}?paid={ranges['30 d'][0]}..{today}&line_product={product[0]}"),
            ("Orders: line category", f"{changelist}?line_category={product[1]}"),
            ("Orders: line brand", f"{changelist}?line_brand={product[2]}"),
            ("Orders: line product", f"{changelist}?line_product={product[0]}"),
            ("Orders: line category none", f"{changelist}?line_category=none"),
            ("Orders: country GB", f"{changelist}?country=GB"),
            ("Orders: country none", f"{changelist}?country=none"),
            ("Orders: channel phone", f"{changelist}?channel=phone"),
            ("Orders: sold at the counter", f"{changelist}?sold_or_collected_at={shop}-counter"),
            ("Orders: collected", f"{changelist}?sold_or_collected_at={shop}-collect"),
            ("Orders: shipped from warehouse 1", f"{changelist}?sold_or_collected_at={warehouse}-shipped"),
            ("Orders: never allocated", f"{changelist}?sold_or_collected_at=none"),
            ("Orders: handover collect", f"{changelist}?handover=collect"),
            ("Orders: handover delivery", f"{changelist}?handover=delivery"),
            ("Orders: needs attention", f"{changelist}?attention=money"),
            ("Orders: payment status refunded", f"{changelist}?payment_status__exact=refunded"),
            ("Orders: fulfilment unfulfilled", f"{changelist}?fulfilment_status__exact=unfulfilled"),
            ("Orders: channel (sidebar)", f"{changelist}?channel__code__exact=phone"),
            ("Orders: shipping method", f"{changelist}?shipping_method_name=Express"),
            ("Orders: pick-up location", f"{changelist}?pickup={shop}"),
            ("Orders: delivered (no pick-up)", f"{changelist}?pickup=delivery"),
            ("Orders: search by number", f"{changelist}?q=R{day.strftime('%y%m%d')}00007"),
            ("Orders: page 20", f"{changelist}?p=20"),
        ]
    return found


def reports_bench_location(code: str) -> int:
    from catalog.models import Location

    return Location.objects.get(code=f"{PREFIX}-{code}").pk


def main() -> None:
    args = parse_args()
    ensure_postgres_database(args.database_url, name_must_contain="bench")
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("TIME_ZONE", "America/New_York")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    from bench import setup_django

    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from orders.models import Order

    # Not setup_test_environment(): its instrumented template rendering would inflate the times.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.BACKGROUND_THREAD = False  # no beat schedule in this process
    call_command("migrate", verbosity=0)
    build_dataset(args.orders)
    settings.DEBUG = False
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    boss = get_user_model().objects.filter(username="reports-bench-boss").first() or \
        get_user_model().objects.create_superuser("reports-bench-boss", "boss@reports-bench.invalid", None)
    client = Client()
    client.force_login(boss)
    sections = {part.strip() for part in args.only.split(",") if part.strip()}
    print(f"\n{Order.objects.count():,} orders; store days in {settings.TIME_ZONE}. "
          f"Median of {args.rounds} loads after a warm-up.\n")
    print(f"| {'page':<44} | page ms | CPU ms | SQL ms | queries |")
    print(f"|{'-' * 46}|---------|--------|--------|---------|")
    for name, url in scenarios(sections):
        if args.match.lower() not in name.lower():
            continue
        ms, cpu_ms, sql_ms, queries, slow = measure(client, url, args.rounds, args.explain)
        print(f"| {name:<44} | {ms:7.1f} | {cpu_ms:6.1f} | {sql_ms:6.1f} | {queries:>7} |", flush=True)
        if slow:
            print_explain(slow)


if __name__ == "__main__":
    main()
