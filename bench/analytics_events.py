"""The back office's dashboard and sales report over 10 million storefront events (issue 10).

A script, not a test. On one PostgreSQL database, in this process, through Django's test client
(the real admin URLs, middleware and views; no HTTP server in front), as a staff member of the
Reports and Order managers groups:

    .venv/bin/python bench/analytics_events.py     # postgres://postgres@127.0.0.1:5432/shop_analytics_bench
    .venv/bin/python bench/analytics_events.py --events 1000000 --database-url postgres://postgres@127.0.0.1:5432/shop_x_bench

The database is created if missing and migrated; its name must contain "bench" (it is filled with
made-up events and orders). What it does, each step timed:

1. Events: --events (10 million) spread evenly over the retention period
   (ANALYTICS_EVENT_RETENTION_DAYS, 396 days) up to now, plus a month more before it at the same
   rate for the purge to delete. Written by PostgreSQL itself (INSERT ... SELECT from
   generate_series, in chunks; the table's secondary indexes are dropped for the load and
   created again with their own definitions), never through the ORM. The mix: product views,
   listings, searches, cart adds and removals, checkouts, campaign clicks, orders placed and paid,
   about nine events per visitor, on mobile, desktop and tablet. A second run reuses what is there.
2. Orders: --orders-per-day paid orders over the same 14 months with lines over 12 categories,
   8 brands and 60 products, one in 12 partly refunded (analytics/tests/generated.py).
3. The rollup: `services.rollup_day` for the last --rollup-days days (the dashboard reads 180)
   and today so far (which the flush task keeps up to date).
4. The pages: the admin index with the dashboard, and the sales report for 7, 30 and 90 days by
   day and by category: "first" is the first load in this process (templates compiled, a new
   database connection, the cache empty), "cold" a later load after emptying the cache and
   opening a new database connection, "warm" the median of --rounds loads. PostgreSQL's buffers
   and the OS page cache are not emptied (that needs a server restart). With the queries and
   their SQL time, and the page's size.
5. The purge: `services.purge_events` deletes the month past the retention, in batches.

--profile prints the ten costliest functions of a warm load of each page (cProfile).
"""
from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import json
import os
import pstats
import signal
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.databases import ensure_postgres_database  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/shop_analytics_bench"
CHUNK = 500_000
# Past the retention, for the purge: about a month at the same rate.
EXTRA_DAYS = 30
STAFF = "analytics-bench-staff"
# The event table's index definitions, saved before a load drops them (see _restore_indexes).
INDEXES_FILE = ROOT / "var" / "bench" / "analytics_event_indexes.json"

# (share per thousand, event name): the storefront's mix, roughly as a small shop's.
MIX = ((450, "product_viewed"), (250, "listing_viewed"), (80, "search"), (80, "added_to_cart"),
       (20, "removed_from_cart"), (30, "checkout_started"), (30, "checkout_step"), (30, "campaign_click"),
       (15, "order_placed"), (15, "order_paid"))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--redis-url", default="", help="the cache (default: this process's memory)")
    parser.add_argument("--events", type=int, default=10_000_000,
                        help="events within the retention period (default 10,000,000)")
    parser.add_argument("--orders-per-day", type=int, default=120)
    parser.add_argument("--rollup-days", type=int, default=182)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-purge", action="store_true", help="leave the events past the retention")
    parser.add_argument("--profile", action="store_true")
    return parser.parse_args()


def step(label: str):
    """Print `label`, run the block, print how long it took."""
    class Timer:
        def __enter__(self):
            print(f"{label} ...", flush=True)
            self.started = time.perf_counter()
            return self

        def __exit__(self, *exc):
            self.seconds = time.perf_counter() - self.started
            print(f"{label}: {self.seconds:.1f} s", flush=True)

    return Timer()


# --- 1. Events --------------------------------------------------------------------------------

def _name_case() -> str:
    branches, bound = [], 0
    for share, name in MIX:
        bound += share
        branches.append(f"WHEN r < {bound} THEN '{name}'")
    return "CASE " + " ".join(branches[:-1]) + f" ELSE '{MIX[-1][1]}' END"


INSERT = """
INSERT INTO analytics_event (uid, name, occurred_at, visitor_id, channel, device, utm_source, utm_medium,
                             utm_campaign, utm_verified, properties, customer_id)
SELECT md5(%(tag)s || i)::uuid, name,
       %(start)s::timestamptz + (i::float8 / %(count)s) * %(span)s::interval,
       CASE WHEN name = 'order_paid' THEN '' ELSE md5('visitor' || (i / 9)) END,
       'web',
       CASE WHEN name = 'order_paid' THEN '' WHEN (i / 9) %% 10 < 6 THEN 'mobile'
            WHEN (i / 9) %% 10 < 9 THEN 'desktop' ELSE 'tablet' END,
       CASE WHEN name = 'campaign_click' THEN 'campaign' ELSE '' END,
       CASE WHEN name = 'campaign_click' THEN 'email' ELSE '' END,
       CASE WHEN name = 'campaign_click' THEN ((i / 9) %% 20)::text ELSE '' END,
       name = 'campaign_click',
       CASE name
         WHEN 'product_viewed' THEN jsonb_build_object('slug', 'gen-product-' || (i %% 60))
         WHEN 'listing_viewed' THEN jsonb_build_object('path', 'gen-category-' || (i %% 12), 'page', '1')
         WHEN 'search' THEN jsonb_build_object('query', 'query ' || (i %% 500), 'results', i %% 7)
         WHEN 'added_to_cart' THEN jsonb_build_object('product_id', i %% 60, 'quantity', 1)
         WHEN 'order_placed' THEN jsonb_build_object('order', 'G' || i)
         ELSE '{}'::jsonb END,
       NULL
FROM (SELECT i, """ + _name_case() + """ AS name
      FROM (SELECT i, (i * 2654435761) %% 1000 AS r FROM generate_series(%(low)s::bigint, %(high)s::bigint) i) n) e
"""


def _secondary_indexes(cursor) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The event table's unique constraints and other indexes (name, definition), the primary key aside."""
    cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                   "WHERE conrelid = 'analytics_event'::regclass AND contype = 'u'")
    constraints = cursor.fetchall()
    cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'analytics_event' "
                   "AND indexname <> 'analytics_event_pkey' AND indexname <> ALL(%s)", [[n for n, _d in constraints]])
    return constraints, cursor.fetchall()


def _restore_indexes(cursor) -> None:
    """Put back any index or unique constraint a load dropped and could not build again (a run
    killed mid-load), from the definitions it saved first: without them the rollup scans the
    whole table for each day."""
    if not INDEXES_FILE.exists():
        return
    saved = json.loads(INDEXES_FILE.read_text())
    constraints, indexes = _secondary_indexes(cursor)
    have = {name for name, _d in constraints + indexes}
    cursor.execute("SET maintenance_work_mem = '256MB'")
    for name, definition in saved["constraints"]:
        if name not in have:
            print(f"  restoring {name}", flush=True)
            cursor.execute(f'ALTER TABLE analytics_event ADD CONSTRAINT "{name}" {definition}')
    for name, definition in saved["indexes"]:
        if name not in have:
            print(f"  restoring {name}", flush=True)
            cursor.execute(definition)


def write_events(*, total: int, start: datetime.datetime, span: datetime.timedelta, tag: str) -> None:
    """`total` events evenly from `start` over `span`; `tag` keeps their uids apart from another call's."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        _restore_indexes(cursor)
        constraints, indexes = _secondary_indexes(cursor)
        INDEXES_FILE.parent.mkdir(parents=True, exist_ok=True)
        INDEXES_FILE.write_text(json.dumps({"constraints": constraints, "indexes": indexes}))
        # Loading into a table without its secondary indexes and building them once afterwards is
        # several times faster than keeping a random uuid index up to date row by row.
        for name, _definition in constraints:
            cursor.execute(f'ALTER TABLE analytics_event DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        try:
            for low in range(0, total, CHUNK):
                high = min(low + CHUNK, total) - 1
                with transaction.atomic():
                    cursor.execute(INSERT, {"tag": tag, "start": start, "low": low, "high": high, "count": total,
                                            "span": f"{span.total_seconds()} seconds"})
                print(f"  {high + 1:,} / {total:,} events", flush=True)
        finally:
            _restore_indexes(cursor)


def build_events(total: int) -> None:
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from analytics.models import Event

    with connection.cursor() as cursor:
        _restore_indexes(cursor)
    retention = datetime.timedelta(days=settings.ANALYTICS_EVENT_RETENTION_DAYS)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    cutoff = now - retention
    within = Event.objects.filter(occurred_at__gte=cutoff).count()
    # Spread up to now: the last day has its share (written at another hour, a day's worth more).
    if Event.objects.filter(occurred_at__gte=now - datetime.timedelta(days=1)).count() < total / retention.days / 2:
        within = 0
    before = Event.objects.filter(occurred_at__lt=cutoff).count()
    extra = round(total * EXTRA_DAYS / retention.days)
    if within >= total * 0.98 and before >= extra * 0.9:
        print(f"Reusing {within:,} events within the retention and {before:,} before it.")
        return
    if within < total * 0.98:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE analytics_event")
        with step(f"Writing {total:,} events over {retention.days} days"):
            write_events(total=total, start=now - retention, span=retention, tag=f"r{now:%Y%m%d%H}")
    # A run that purged them wrote them only: the month before the retention, for the purge.
    with step(f"Writing {extra:,} events over the {EXTRA_DAYS} days before"):
        write_events(total=extra, start=cutoff - datetime.timedelta(days=EXTRA_DAYS),
                     span=datetime.timedelta(days=EXTRA_DAYS), tag=f"o{now:%Y%m%d%H}")
    with step("VACUUM ANALYZE analytics_event"), connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE analytics_event")


# --- 2. Orders --------------------------------------------------------------------------------

def build_orders(per_day: int) -> None:
    from django.conf import settings

    from analytics.services import store_today
    from analytics.tests.generated import generated_sales
    from orders.models import Order

    today = store_today()
    first = today - datetime.timedelta(days=settings.ANALYTICS_EVENT_RETENTION_DAYS + EXTRA_DAYS)
    generated = Order.objects.filter(email__endswith="@generated.invalid")
    if generated.count() >= per_day * (today - first).days * 0.75:
        print(f"Reusing {generated.count():,} orders.")
        return
    if generated.exists():  # made with another --orders-per-day
        from payments.models import Payment, Refund

        Refund.objects.filter(payment__order__in=generated).delete()
        Payment.objects.filter(order__in=generated).delete()
        generated.delete()
    with step(f"Writing about {per_day} paid orders a day from {first} to {today}"):
        made = generated_sales(first=first, last=today, per_day=per_day, prefix="bench")
    print(f"  {made.orders:,} orders, {made.payments:,} payments, {made.refunds:,} refunds")


# --- 4. Pages ---------------------------------------------------------------------------------

def load(client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content


def measure(client, url: str, rounds: int, *, profile: bool) -> dict:
    from django.core.cache import cache
    from django.db import connection, connections

    def cold() -> float:
        cache.clear()
        connections.close_all()
        started = time.perf_counter()
        load(client, url)
        return (time.perf_counter() - started) * 1000

    first = cold()
    again = cold()
    seen: list[float] = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seen.append(time.perf_counter() - started)

    with connection.execute_wrapper(timed):
        body = load(client, url)
    sql_ms = sum(seen) * 1000
    timings = []
    for _round in range(rounds):
        started = time.perf_counter()
        load(client, url)
        timings.append((time.perf_counter() - started) * 1000)
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        load(client, url)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(f"\n--- profile of {url}\n{out.getvalue()}")
    return {"first": first, "cold": again, "warm": statistics.median(timings), "worst": max(timings),
            "queries": len(seen), "sql": sql_ms, "kb": len(body) / 1024}


def reports_staff():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user = get_user_model().objects.filter(username=STAFF).first()
    if user is None:
        user = get_user_model().objects.create_user(STAFF, f"{STAFF}@bench.invalid", None, is_staff=True)
    user.groups.set(Group.objects.filter(name__in=["Reports", "Order managers"]))
    return user


def main() -> None:
    args = parse_args()
    # Killed mid-load, still build the indexes again (the `finally` in write_events).
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit("Stopped."))
    ensure_postgres_database(args.database_url, name_must_contain="bench")
    os.environ["DATABASE_URL"] = args.database_url
    if args.redis_url:
        os.environ["REDIS_URL"] = args.redis_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    sys.path.insert(0, str(ROOT))
    from bench import setup_django

    setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from analytics import services
    from analytics.models import DailyMetric, Event

    # Not setup_test_environment(): its instrumented template rendering would inflate the times.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    # The test client's requests make this a web process, whose background thread would run the
    # beat schedule (shop/background.py), the purge among it: only this script's steps run here.
    settings.BACKGROUND_THREAD = False
    call_command("migrate", verbosity=0)
    build_events(args.events)
    build_orders(args.orders_per_day)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    today = services.store_today()
    # The last --rollup-days days, and today so far (as the flush task keeps it: the dashboard
    # reads today's visitors from it).
    days = [today - datetime.timedelta(days=n) for n in range(args.rollup_days, -1, -1)]
    with step(f"Rolling up {len(days)} days") as rollup:
        for day in days:
            services.rollup_day(day=day)
    print(f"  {rollup.seconds / len(days) * 1000:.0f} ms a day; {DailyMetric.objects.count():,} daily figures")

    settings.DEBUG = False
    client = Client()
    client.force_login(reports_staff())
    sales = reverse("admin:reports_sales")
    pages = [("Dashboard (admin index)", reverse("admin:index"))]
    for length in (7, 30, 90):
        first = today - datetime.timedelta(days=length - 1)
        pages.append((f"Sales report, {length} days by day",
                      f"{sales}?first={first}&last={today}&grain=day&dimension=category"))
    events = Event.objects.count()
    print(f"\n{events:,} events; {settings.DATABASES['default']['NAME']}; cache "
          f"{settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}. Warm: median of {args.rounds} loads.\n")
    print(f"| {'page':<32} | first ms | cold ms | warm ms | worst warm | queries | SQL ms | KB |")
    print(f"|{'-' * 34}|----------|---------|---------|------------|---------|--------|----|")
    for name, url in pages:
        m = measure(client, url, args.rounds, profile=args.profile)
        print(f"| {name:<32} | {m['first']:8.0f} | {m['cold']:7.0f} | {m['warm']:7.0f} | {m['worst']:10.0f} | "
              f"{m['queries']:>7} | {m['sql']:6.1f} | {m['kb']:.0f} |", flush=True)

    if not args.no_purge:
        with step("\nPurging events past the retention") as purge:
            deleted = services.purge_events()
        print(f"  {deleted:,} events deleted ({deleted / max(purge.seconds, 1e-9):,.0f} a second); "
              f"{Event.objects.count():,} left")


if __name__ == "__main__":
    main()
