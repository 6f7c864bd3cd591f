"""The daily rollup: every figure on hand-built data, store-time-zone days, reconciliation, idempotence."""
from __future__ import annotations

import datetime
import random
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from analytics import services
from analytics.models import DailyMetric, Event
from analytics.tests.helpers import paid_order, refund
from customers.tests.factories import CustomerFactory
from payments.models import Refund

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
UTC = datetime.UTC
M = DailyMetric.Metric
# 10 March 2024: New York moves its clocks forward, a 23-hour day.
DAY = datetime.date(2024, 3, 10)


@pytest.fixture(autouse=True)
def new_york(settings):
    settings.TIME_ZONE = "America/New_York"


def at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY)


def figures(day: datetime.date) -> dict[str, Decimal]:
    return {metric: value for (_channel, metric), value in services.day_figures(day).items()}


def test_the_day_is_the_store_s_day_not_utc_s():
    start, end = services.day_bounds(DAY)
    assert start == datetime.datetime(2024, 3, 10, 5, 0, tzinfo=UTC)
    assert end == datetime.datetime(2024, 3, 11, 4, 0, tzinfo=UTC)  # 23 hours: clocks went forward
    # 23:30 on the 9th in New York is 04:30 UTC on the 10th: it belongs to the 9th
    paid_order(at=datetime.datetime(2024, 3, 10, 4, 30, tzinfo=UTC), total="40.00")
    # 00:10 on the 11th in New York is 04:10 UTC on the 11th: the next day
    paid_order(at=datetime.datetime(2024, 3, 11, 4, 10, tzinfo=UTC), total="70.00")
    # 23:59 on the 10th (New York, daylight time) is 03:59 UTC on the 11th: the 10th
    paid_order(at=datetime.datetime(2024, 3, 11, 3, 59, tzinfo=UTC), total="25.00")
    assert figures(DAY - datetime.timedelta(days=1))[M.NET_SALES] == Decimal("40.00")
    assert figures(DAY)[M.NET_SALES] == Decimal("25.00")
    assert figures(DAY + datetime.timedelta(days=1))[M.NET_SALES] == Decimal("70.00")


def test_every_figure_of_a_day():
    ada, bob, cy = CustomerFactory(), CustomerFactory(), CustomerFactory()
    # Ada bought before: returning. Bob buys twice today: new, once. Cy: new. A guest: no customer.
    paid_order(at=at(DAY - datetime.timedelta(days=20), 12), total="10.00", customer=ada)
    paid_order(at=at(DAY, 9), total="100.00", units=2, customer=ada)
    _, bob_first = paid_order(at=at(DAY, 10), total="50.00", units=1, customer=bob)
    paid_order(at=at(DAY, 18), total="30.00", units=3, customer=bob)
    paid_order(at=at(DAY, 20), total="20.00", units=4, customer=cy)
    _, guest = paid_order(at=at(DAY, 21), total="15.00", units=1)
    # Refunds by the day the money went back: 12.50 of Bob's today; a pending and a failed one count nowhere.
    refund(bob_first, amount="12.50", at=at(DAY, 22))
    refund(guest, amount="5.00", at=at(DAY, 22), status=Refund.Status.PENDING)
    refund(guest, amount="5.00", at=at(DAY, 22), status=Refund.Status.FAILED)
    # An unpaid order (no payment, no paid_at) counts nowhere.
    from orders.tests.factories import OrderFactory

    OrderFactory(total=Decimal("999.00"))
    # Events: 4 visitors, 2 of whom placed an order; one event without a visitor (a webhook's).
    for visitor, name in [("a" * 32, "product_viewed"), ("a" * 32, "added_to_cart"), ("a" * 32, "checkout_started"),
                          ("a" * 32, "order_placed"), ("b" * 32, "product_viewed"), ("b" * 32, "order_placed"),
                          ("b" * 32, "order_placed"), ("c" * 32, "product_viewed"), ("d" * 32, "search"),
                          ("", "order_paid")]:
        Event.objects.create(name=name, visitor_id=visitor, occurred_at=at(DAY, 12))
    Event.objects.create(name="product_viewed", visitor_id="e" * 32, occurred_at=at(DAY + datetime.timedelta(days=1), 0, 5))

    got = figures(DAY)

    assert got[M.CHARGED] == Decimal("215.00")
    assert got[M.REFUNDED] == Decimal("12.50")
    assert got[M.NET_SALES] == Decimal("202.50")
    assert got[M.ORDERS] == 5
    assert got[M.ORDER_VALUE] == Decimal("215.00")
    assert got[M.UNITS] == 11
    assert got[M.NEW_CUSTOMERS] == 2  # Bob and Cy
    assert got[M.RETURNING_CUSTOMERS] == 1  # Ada
    assert got[M.VISITORS] == 4
    assert got[M.CONVERTED_VISITORS] == 2
    assert got[M.PRODUCT_VIEWS] == 3
    assert got[M.ADDS_TO_CART] == 1
    assert got[M.CHECKOUTS] == 1


def test_net_sales_reconcile_with_the_ledger_on_generated_data_with_partial_refunds():
    rng = random.Random(10)
    expected: dict[datetime.date, Decimal] = defaultdict(Decimal)
    first = datetime.date(2024, 3, 5)
    for _ in range(60):
        paid_day = first + datetime.timedelta(days=rng.randrange(8))
        paid_at = at(paid_day, rng.randrange(24), rng.randrange(60))
        total = Decimal(rng.randrange(500, 30000)) / 100
        _, payment = paid_order(at=paid_at, total=str(total), units=rng.randrange(1, 4))
        expected[paid_day] += total
        left = total
        for _ in range(rng.randrange(3)):  # up to two partial refunds, some days later, some late at night
            amount = (left * Decimal(rng.choice(["0.1", "0.25", "0.5"]))).quantize(Decimal("0.01"))
            if amount <= 0:
                continue
            refunded_at = paid_at + datetime.timedelta(hours=rng.randrange(0, 72))
            refund(payment, amount=str(amount), at=refunded_at)
            expected[refunded_at.astimezone(NY).date()] -= amount
            left -= amount
    for offset in range(12):
        day = first + datetime.timedelta(days=offset)
        services.rollup_day(day=day)
        stored = DailyMetric.objects.get(day=day, channel="web", metric=M.NET_SALES).value
        assert stored == expected.get(day, Decimal("0")), day
    # and the same in total, from the payments and refunds tables directly
    from django.db.models import Sum

    from payments.models import Payment

    ledger = (Payment.objects.aggregate(s=Sum("amount"))["s"]
              - Refund.objects.filter(status=Refund.Status.SUCCEEDED).aggregate(s=Sum("amount"))["s"])
    assert DailyMetric.objects.filter(metric=M.NET_SALES).aggregate(s=Sum("value"))["s"] == ledger


def test_rolling_up_a_day_twice_gives_the_same_rows():
    customer = CustomerFactory()
    _, payment = paid_order(at=at(DAY, 9), total="80.00", units=2, customer=customer)
    refund(payment, amount="20.00", at=at(DAY, 11))
    Event.objects.create(name="product_viewed", visitor_id="a" * 32, occurred_at=at(DAY, 8))

    def rows():
        return sorted(DailyMetric.objects.values_list("day", "channel", "metric", "value"))

    services.rollup_day(day=DAY)
    once = rows()
    services.rollup_day(day=DAY)
    assert rows() == once
    assert len(once) == len(M.values)
    assert (DAY, "web", M.NET_SALES, Decimal("60.00")) in once
    # a late refund changes the day's figures on the next run, and only them
    refund(payment, amount="5.00", at=at(DAY, 23))
    services.rollup_day(day=DAY)
    assert DailyMetric.objects.get(day=DAY, metric=M.NET_SALES).value == Decimal("55.00")
    assert DailyMetric.objects.count() == len(M.values)


def test_rollup_recent_does_yesterday_again_and_fills_missing_days():
    now = at(DAY, 15)
    services.rollup_day(day=DAY - datetime.timedelta(days=1))
    paid_order(at=at(DAY - datetime.timedelta(days=1), 23), total="10.00")  # after that rollup
    done = services.rollup_recent(now=now, backfill_days=5)
    assert done == [DAY - datetime.timedelta(days=i) for i in range(5, 0, -1)]
    assert DailyMetric.objects.get(day=DAY - datetime.timedelta(days=1), metric=M.NET_SALES).value == Decimal("10.00")
    # the next run does only yesterday
    assert services.rollup_recent(now=now, backfill_days=5) == [DAY - datetime.timedelta(days=1)]


def test_the_command_flushes_and_rolls_up_the_last_days():
    import io

    from django.core.management import call_command
    from django.test import RequestFactory

    import analytics

    analytics.record(RequestFactory().get("/"), "search", query="tent")
    out = io.StringIO()
    call_command("rollup_analytics", "--days", "3", stdout=out)
    assert "1 buffered events written; 3 days rolled up." in out.getvalue()
    assert Event.objects.count() == 1
    assert DailyMetric.objects.values("day").distinct().count() == 3


def test_every_figures_channel_column_holds_any_sales_channels_code():
    # The demo's counter "pos-shop-harbour-street" (23 characters) did not fit varchar(20): on
    # PostgreSQL the day's rollup failed with a DataError once a counter sale was made there.
    from django.apps import apps as global_apps

    from saleschannels.models import Channel

    longest = Channel._meta.get_field("code").max_length
    short = [f"{model.__name__}.channel ({model._meta.get_field('channel').max_length})"
             for model in global_apps.get_app_config("analytics").get_models()
             if any(field.name == "channel" for field in model._meta.fields)
             and model._meta.get_field("channel").max_length < longest]

    assert short == []
