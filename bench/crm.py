"""The customer list at 100,000 customers: milliseconds and queries for every filter, the search,
the customer page and the CSV export.

A script, not a test. It measures one PostgreSQL database in this process through Django's test
client (the real admin URLs, middleware and views; no HTTP server in front):

    .venv/bin/python bench/crm.py                      # postgres://postgres@127.0.0.1:5432/shop_crm
    .venv/bin/python bench/crm.py --customers 20000 --database-url postgres://postgres@127.0.0.1:5432/shop_crm

The database is created if missing and migrated; its name must contain "crm" (it is filled with
made-up customers). The data set is written once with bulk_create (a second run reuses it):
customers with stored figures spread like a real shop's (a third never ordered; lifetime values
skewed; RFM segments; 40% consented; 30% with an account), an order with one line for each buyer
(for the "bought from category" rule), three tags on 1 customer in 10, and one segment of each
kind. Every page is loaded --rounds times after a warm-up; the table shows the median and the
query count.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.databases import ensure_postgres_database  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/shop_crm"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    return parser.parse_args()


def build_dataset(total: int) -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from catalog.tests import factories as cf
    from customers.models import Customer, RFMSegment, Segment, Tag
    from orders.models import Order, OrderLine

    existing = Customer.objects.filter(email__endswith="@bench.invalid").count()
    if existing >= total:
        print(f"Reusing {existing:,} customers.")
        return
    started = time.perf_counter()
    rng = random.Random(42)
    now = timezone.now()
    User = get_user_model()
    outdoor = cf.CategoryFactory(name="Bench outdoor", slug=f"bench-outdoor-{rng.randrange(10**9)}")
    tents = cf.CategoryFactory(name="Bench tents", slug="bench-tents", parent=outdoor)
    kitchen = cf.CategoryFactory(name="Bench kitchen", slug=f"bench-kitchen-{rng.randrange(10**9)}")
    variants = [cf.VariantFactory(product__category=category) for category in (tents, tents, kitchen)]
    tags = [Tag.objects.get_or_create(name=name)[0] for name in ("wholesale", "press", "vip", "b2b", "newsletter")]
    first_names = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Linus", "Ken", "Radia"]
    last_names = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Torvalds", "Thompson"]
    segments_by_scores = [RFMSegment.CHAMPIONS, RFMSegment.LOYAL, RFMSegment.NEW, RFMSegment.AT_RISK,
                          RFMSegment.LOST, RFMSegment.OTHER]
    batch = 5000
    for start in range(existing, total, batch):
        stop = min(start + batch, total)
        users = User.objects.bulk_create([User(username=f"bench{n}", email=f"shopper{n}@bench.invalid")
                                          for n in range(start, stop) if n % 10 < 3])
        user_by_n = {int(user.username[5:]): user for user in users}
        customers = []
        for n in range(start, stop):
            ordered = n % 3 != 0
            last = now - timedelta(days=rng.randrange(0, 900)) if ordered else None
            count = min(int(rng.expovariate(0.6)) + 1, 40) if ordered else 0
            spent = (Decimal(rng.lognormvariate(4.2, 0.9)).quantize(Decimal("0.01")) * count) if ordered else 0
            customers.append(Customer(
                email=f"shopper{n}@bench.invalid", user=user_by_n.get(n),
                first_name=rng.choice(first_names), last_name=rng.choice(last_names),
                phone=f"+1 555 {n:07d}", accepts_marketing=rng.random() < 0.4,
                order_count=count, total_spent=spent, last_order_at=last,
                first_order_at=(last - timedelta(days=rng.randrange(0, 400))) if last else None,
                rfm_segment=rng.choice(segments_by_scores) if ordered else "",
            ))
        customers = Customer.objects.bulk_create(customers)
        # created_at is auto_now_add: spread it over three years so the default order means something.
        for customer in customers:
            customer.created_at = now - timedelta(days=rng.randrange(0, 1100), seconds=rng.randrange(86400))
        Customer.objects.bulk_update(customers, ["created_at"], batch_size=batch)
        Through = Customer.tags.through
        Through.objects.bulk_create([Through(customer_id=c.pk, tag_id=tag.pk) for c in customers if c.pk % 10 == 0
                                     for tag in rng.sample(tags, 3)])
        orders = Order.objects.bulk_create([
            Order(customer=c, email=c.email, customer_name=c.full_name, currency="USD", payment_status=Order.PaymentStatus.PAID,
                  subtotal=Decimal("50"), total=Decimal("50"), idempotency_key=f"bench-{c.pk}",
                  number=f"B{c.pk:09d}",
                  paid_at=c.last_order_at)
            for c in customers if c.order_count
        ])
        OrderLine.objects.bulk_create([
            OrderLine(order=order, variant=variant, product_title="Bench item", sku=variant.sku, quantity=1,
                      unit_price=Decimal("50"), line_total=Decimal("50"))
            for order in orders for variant in [variants[order.pk % 3]]
        ])
        print(f"  {stop:,} customers ({time.perf_counter() - started:.0f} s)", flush=True)
    manual = Segment.objects.get_or_create(name="Bench manual", kind=Segment.Kind.MANUAL)[0]
    manual.members.set(Customer.objects.filter(email__endswith="@bench.invalid").order_by("?")[:1000])
    print(f"Built {total - existing:,} customers in {time.perf_counter() - started:.0f} s.")


def segments() -> dict[str, int]:
    from catalog.models import Category
    from customers.models import RFMSegment, Segment, Tag

    made = {
        "RFM champions": dict(kind=Segment.Kind.RFM, rfm_segment=RFMSegment.CHAMPIONS),
        "Rules: spent 500+, consented": dict(kind=Segment.Kind.RULES, min_total_spent=Decimal("500"),
                                             has_marketing_consent=True),
        "Rules: no order for 180 days": dict(kind=Segment.Kind.RULES, no_order_for_days=180),
        "Rules: bought from outdoor": dict(kind=Segment.Kind.RULES,
                                           bought_from_category=Category.objects.get(name="Bench outdoor")),
        "Rules: tag vip, 3+ orders": dict(kind=Segment.Kind.RULES, tag=Tag.objects.get(name="vip"), min_orders=3),
    }
    ids = {}
    for name, fields in made.items():
        if fields["kind"] == Segment.Kind.RFM:
            segment = Segment.objects.filter(kind=Segment.Kind.RFM, rfm_segment=fields["rfm_segment"]).first()
            segment = segment or Segment.objects.create(name=name, **fields)
        else:
            segment, _created = Segment.objects.update_or_create(name=name, defaults=fields)
        ids[name] = segment.pk
    ids["Manual list (1,000)"] = Segment.objects.get(name="Bench manual").pk
    return ids


def measure(client, url: str, rounds: int, method: str = "get") -> tuple[float, float, int, int]:
    """Median milliseconds of the whole request, milliseconds spent in SQL, queries, rows listed."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def load():
        response = getattr(client, method)(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code == 200, (url, response.status_code)
        return body

    load()  # warm-up
    with CaptureQueriesContext(connection) as queries:
        body = load()
    # Read now: every request starts by emptying the connection's query log.
    sql_ms = sum(float(query["time"]) for query in queries.captured_queries) * 1000
    count = len(queries)
    rows = body.count(b'name="_selected_action"')
    timings = []
    for _round in range(rounds):
        started = time.perf_counter()
        load()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), sql_ms, count, rows


def main() -> None:
    args = parse_args()
    ensure_postgres_database(args.database_url, name_must_contain="crm")
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from customers.models import Customer, Tag

    # Not setup_test_environment(): its instrumented template rendering would triple the times.
    # DEBUG off as in production (no query log kept on every query).
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0)
    build_dataset(args.customers)
    settings.DEBUG = False
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    from django.contrib.auth import get_user_model

    boss = get_user_model().objects.filter(username="crm-bench-boss").first() or \
        get_user_model().objects.create_superuser("crm-bench-boss", "boss@bench.invalid", None)
    client = Client()
    client.force_login(boss)
    changelist = reverse("admin:customers_customer_changelist")
    vip = Tag.objects.get(name="vip").pk
    scenarios = [("No filter (newest first)", "")]
    scenarios += [(f"Segment: {name}", f"segment={pk}") for name, pk in segments().items()]
    scenarios += [
        ("Tag: vip", f"tag={vip}"),
        ("Has account", "account=yes"), ("Guest", "account=no"),
        ("Consent: yes", "accepts_marketing__exact=1"),
        ("LTV 100 to 500", "ltv_min=100&ltv_max=500"), ("LTV at least 2,000", "ltv_min=2000"),
        ("Last order: 30 days", "last_order=30d"), ("Last order: over a year", "last_order=over_year"),
        ("Last order: never", "last_order=never"),
        ("Sorted by lifetime value, highest first", "o=-4"),
        ("Consent + LTV 100+ + last order 90 days", "accepts_marketing__exact=1&ltv_min=100&last_order=90d"),
        ("Search: whole email", "q=shopper4242@bench.invalid"),
        ("Search: a surname", "q=hopper"),
        ("Search: phone digits", "q=0004242"),
        ("Page 100 of the list", "p=100"),
    ]
    print(f"\n{Customer.objects.count():,} customers. Median of {args.rounds} loads after a warm-up.\n")
    print(f"| {'customer list':<48} | page ms | SQL ms | queries | rows |")
    print(f"|{'-' * 50}|---------|--------|---------|------|")

    def row(name: str, url: str, rounds: int, method: str = "get") -> None:
        ms, sql_ms, queries, rows = measure(client, url, rounds, method)
        print(f"| {name:<48} | {ms:7.1f} | {sql_ms:6.1f} | {queries:>7} | {rows:>4} |", flush=True)

    for name, query in scenarios:
        row(name, f"{changelist}?{query}" if query else changelist, args.rounds)
    busiest = Customer.objects.order_by("-order_count").first()
    row("Customer page (busiest customer)", reverse("admin:customers_customer_change", args=[busiest.pk]),
        args.rounds)
    consented = Customer.objects.filter(accepts_marketing=True).count()
    row(f"CSV export of {consented:,} consented customers",
        f"{reverse('admin:customers_customer_export')}?accepts_marketing__exact=1", 1, method="post")


if __name__ == "__main__":
    main()
