"""Net sales reconcile (issue 10): for every store day, the daily rollup, the dashboard (today
live, past days rolled up) and Sales over time all give the sum over that day's orders of what was
charged minus what was refunded that day, on generated orders paid around midnight in New York
with partial refunds, failed and pending ones, returns and failed payments.

"That day's orders" are the orders whose money moved that day: a refund made on the 5th for an
order paid on the 2nd comes off the 5th, so a closed day never changes afterwards. Returns are in
it through the refund that gives their money back (a return alone moves no money); discounts will
be in it through what the payment takes (the order's discounted total), with nothing to add here.
"""
from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import reports, selectors, services
from analytics.models import DailyMetric
from analytics.tests.helpers import refund
from orders.models import Order
from orders.tests.factories import OrderFactory, OrderLineFactory
from payments.models import Payment, Refund

NY = ZoneInfo("America/New_York")
FIRST = datetime.date(2024, 6, 2)
DAYS = [FIRST + datetime.timedelta(days=i) for i in range(4)]
NOW = datetime.datetime(2024, 6, 5, 18, 0, tzinfo=NY)
CENT = Decimal("0.01")

# Minutes into the four days, often right around midnight (the store's, not UTC's).
minute_of_day = st.one_of(st.sampled_from([0, 1, 59, 60 * 19 + 59, 60 * 20, 1410, 1439]), st.integers(0, 1439))
instant = st.builds(lambda day, minute: datetime.datetime.combine(DAYS[day], datetime.time(), tzinfo=NY)
                    + datetime.timedelta(minutes=minute), st.integers(0, 3), minute_of_day).filter(lambda t: t <= NOW)
refunds = st.lists(st.tuples(st.integers(0, 3 * 1440), st.integers(1, 100),
                             st.sampled_from([Refund.Status.SUCCEEDED] * 3 + [Refund.Status.FAILED, Refund.Status.PENDING])),
                   max_size=3)
orders = st.lists(st.fixed_dictionaries({
    "paid_at": instant,
    "cents": st.integers(1, 40_000),
    "payment": st.sampled_from([Payment.Status.SUCCEEDED] * 4 + [Payment.Status.FAILED]),
    "refunds": refunds,
    "returned": st.booleans(),
}), min_size=1, max_size=8)


def build(specs) -> dict[datetime.date, Decimal]:
    """Write the orders; return what each store day should show: per order, charged that day minus
    refunded that day, summed (computed here from the specs, not read back from the database)."""
    expected: dict[datetime.date, Decimal] = defaultdict(lambda: Decimal("0"))
    for spec in specs:
        amount = Decimal(spec["cents"]) * CENT
        ok = spec["payment"] == Payment.Status.SUCCEEDED
        order = OrderFactory(total=amount, subtotal=amount, paid_at=spec["paid_at"] if ok else None,
                             payment_status=Order.PaymentStatus.PAID if ok else Order.PaymentStatus.UNPAID)
        line = OrderLineFactory(order=order, variant=None, quantity=1, unit_price=amount, line_total=amount)
        payment = Payment.objects.create(order=order, provider="demo", amount=amount, currency="USD",
                                         status=spec["payment"], succeeded_at=spec["paid_at"] if ok else None)
        if not ok:
            continue
        expected[spec["paid_at"].astimezone(NY).date()] += amount
        left = spec["cents"]
        for delay, share, status in spec["refunds"]:
            at = spec["paid_at"] + datetime.timedelta(minutes=delay)
            cents = max(left * share // 100, 1)
            if at > NOW or left <= 0:
                continue
            refund(payment, amount=str(Decimal(cents) * CENT), at=at, status=status)
            if status == Refund.Status.SUCCEEDED:
                left -= cents
                expected[at.astimezone(NY).date()] -= Decimal(cents) * CENT
        if spec["returned"] and left > 0:
            # The line comes back; its money goes back by a refund the next morning (or now).
            type(line).objects.filter(pk=line.pk).update(quantity_fulfilled=1, quantity_returned=1)
            at = min(spec["paid_at"] + datetime.timedelta(hours=9), NOW)
            refund(payment, amount=str(Decimal(left) * CENT), at=at)
            expected[at.astimezone(NY).date()] -= Decimal(left) * CENT
    return {day: expected.get(day, Decimal("0")) for day in DAYS}


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=orders)
def test_net_sales_of_a_day_is_what_that_days_orders_were_charged_minus_refunded(specs, settings_tz):
    with transaction.atomic():
        expected = build(specs)
        for day in DAYS[:-1]:  # the dashboard computes today live
            services.rollup_day(day=day)
        rolled = dict(DailyMetric.objects.filter(metric=DailyMetric.Metric.NET_SALES).values_list("day", "value"))
        assert {day: rolled[day] for day in DAYS[:-1]} == {day: expected[day] for day in DAYS[:-1]}

        _today, week, *_rest = selectors.dashboard(now=NOW)
        net = next(f for f in week.figures if f.key == "net_sales")
        assert dict(zip(week.days, net.series)) == {**{d: Decimal("0") for d in week.days}, **expected}
        assert net.value == sum(expected.values())

        report = reports.sales_over_time(first=DAYS[0], last=DAYS[-1], grain=reports.DAY, dimension="product",
                                         links=False)
        assert [total.net_sales for total in report.totals] == [expected[day] for day in DAYS]
        assert sum((row.total.net_sales for row in report.rows), Decimal("0")) == sum(expected.values())
        transaction.set_rollback(True)


@pytest.fixture
def settings_tz(settings):
    settings.TIME_ZONE = "America/New_York"
