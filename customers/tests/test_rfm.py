"""RFM scores and built-in segments on a hand-built dataset whose answers are written out."""
from datetime import datetime, timedelta, timezone as dt_timezone
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from customers.models import Activity, Customer, RFMSegment
from customers.services.rfm import quintile_scores, score_customers
from customers.services.stats import refresh_customer_stats
from customers.tests.factories import CustomerFactory
from orders.models import Order
from orders.tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=dt_timezone.utc)

# name: (days since last order, paid orders, spent, days since first order)
DATASET = {
    "ann": (1, 8, "800.00", 300),
    "ben": (3, 6, "450.00", 200),
    "cat": (7, 1, "40.00", 7),
    "dan": (50, 4, "300.00", 250),
    "eve": (200, 5, "500.00", 360),
    "fay": (300, 1, "20.00", 300),
    "gus": (45, 2, "120.00", 100),
    "hal": (60, 3, "200.00", 330),
    "ivy": (250, 2, "60.00", 340),
    "joe": (90, 3, "120.00", 150),  # spends the same as gus: a tie
}

# With n = 10, score = 1 + floor(5 * (rank - 1) / 10), rank counted from the worst value.
# Recency, worst first: fay 300d, ivy 250, eve 200, joe 90, hal 60, dan 50, gus 45, cat 7, ben 3, ann 1.
# Frequency, worst first: cat 1, fay 1 (rank 1), gus 2, ivy 2 (rank 3), hal 3, joe 3 (rank 5), dan 4 (7),
#   eve 5 (8), ben 6 (9), ann 8 (10).
# Monetary, worst first: fay 20, cat 40, ivy 60, gus 120, joe 120 (both rank 4), hal 200 (6), dan 300 (7),
#   ben 450 (8), eve 500 (9), ann 800 (10).
EXPECTED = {
    # name: (R, F, M, segment)
    "ann": (5, 5, 5, RFMSegment.CHAMPIONS),
    "ben": (5, 5, 4, RFMSegment.CHAMPIONS),
    "cat": (4, 1, 1, RFMSegment.NEW),  # first order a week ago
    "dan": (3, 4, 4, RFMSegment.LOYAL),  # buys often, not recent enough to be a champion
    "eve": (2, 4, 5, RFMSegment.AT_RISK),  # a big, frequent buyer gone quiet: at risk before loyal
    "fay": (1, 1, 1, RFMSegment.LOST),
    "gus": (4, 2, 2, RFMSegment.OTHER),
    "hal": (3, 3, 3, RFMSegment.OTHER),
    "ivy": (1, 2, 2, RFMSegment.LOST),
    "joe": (2, 3, 2, RFMSegment.AT_RISK),
}


def _buy(customer: Customer, *, last: int, count: int, spent: str, first: int) -> None:
    """`count` paid orders from `first` to `last` days before NOW, totalling `spent`."""
    spent = Decimal(spent)
    each = (spent / count).quantize(Decimal("0.01"))
    totals = [each] * (count - 1) + [spent - each * (count - 1)]
    for number, total in enumerate(totals):
        days = first if count == 1 else first - (first - last) * number // (count - 1)
        order = OrderFactory(customer=customer, email=customer.email, payment_status=Order.PaymentStatus.PAID, fulfilment_status=Order.FulfilmentStatus.COMPLETED,
                             subtotal=total, total=total, paid_at=NOW - timedelta(days=days))
        Order.objects.filter(pk=order.pk).update(created_at=NOW - timedelta(days=days, hours=1))


@pytest.fixture
def dataset() -> dict[str, Customer]:
    customers = {}
    for name, (last, count, spent, first) in DATASET.items():
        customers[name] = CustomerFactory(email=f"{name}@example.com", first_name=name.title())
        _buy(customers[name], last=last, count=count, spent=spent, first=first)
    # Not scored: no paid order (only a cancelled one), and an erased customer.
    customers["nil"] = CustomerFactory(email="nil@example.com")
    OrderFactory(customer=customers["nil"], fulfilment_status=Order.FulfilmentStatus.CANCELLED, total=Decimal("99.00"))
    customers["gone"] = CustomerFactory(email="gone@example.com", erased_at=NOW)
    _buy(customers["gone"], last=1, count=9, spent="900.00", first=2)
    refresh_customer_stats()
    return customers


def _scores() -> dict[str, tuple]:
    return {
        c.email.split("@")[0]: (c.recency_score, c.frequency_score, c.monetary_score, c.rfm_segment)
        for c in Customer.objects.all()
    }


def test_scores_and_segments_match_the_hand_computed_answers(dataset):
    result = score_customers(now=NOW)

    scores = _scores()
    assert {name: scores[name] for name in EXPECTED} == EXPECTED
    assert scores["nil"] == (0, 0, 0, "")
    assert scores["gone"] == (0, 0, 0, "")
    assert result["scored"] == 10
    assert result["segments"] == {"champions": 2, "new": 1, "loyal": 1, "at_risk": 2, "lost": 2, "other": 2}
    assert set(Customer.objects.filter(rfm_scored_at=NOW).values_list("email", flat=True)) == {
        f"{name}@example.com" for name in EXPECTED
    }
    assert Customer.objects.get(email="ann@example.com").rfm_code == "555"


def test_a_segment_change_is_recorded_once_and_a_second_run_changes_nothing(dataset):
    score_customers(now=NOW)
    activities = Activity.objects.filter(kind=Activity.Kind.SEGMENT)
    assert activities.count() == 10
    eve = activities.get(customer=dataset["eve"])
    assert eve.data == {"from": "", "to": "at_risk"}
    assert eve.message == "Segment: none → At risk"
    before = list(Customer.objects.order_by("pk").values())

    result = score_customers(now=NOW)

    assert list(Customer.objects.order_by("pk").values()) == before
    assert activities.count() == 10
    assert result["changed"] == 0


def test_customers_move_segments_as_time_passes_and_lose_scores_without_orders(dataset):
    score_customers(now=NOW)
    # A month on, with no new orders: cat is no longer new; everyone's recency keeps its rank.
    later = NOW + timedelta(days=31)
    Order.objects.filter(customer=dataset["fay"]).update(fulfilment_status=Order.FulfilmentStatus.CANCELLED)
    refresh_customer_stats()

    score_customers(now=later)

    cat = Customer.objects.get(pk=dataset["cat"].pk)
    fay = Customer.objects.get(pk=dataset["fay"].pk)
    assert cat.rfm_segment != RFMSegment.NEW
    assert (fay.recency_score, fay.frequency_score, fay.monetary_score, fay.rfm_segment) == (0, 0, 0, "")
    assert Activity.objects.filter(customer=fay, kind=Activity.Kind.SEGMENT).latest("pk").data == {
        "from": "lost", "to": ""}
    assert Activity.objects.filter(customer=cat, kind=Activity.Kind.SEGMENT).count() == 2


def test_quintiles_give_ties_one_score_whatever_the_order():
    values = {1: 5, 2: 5, 3: 5, 4: 1, 5: 9}
    assert quintile_scores(values) == {1: 2, 2: 2, 3: 2, 4: 1, 5: 5}
    assert quintile_scores(dict(reversed(values.items()))) == {1: 2, 2: 2, 3: 2, 4: 1, 5: 5}
    assert quintile_scores({1: 3, 2: 1}, higher_is_better=False) == {1: 1, 2: 3}
    assert quintile_scores({7: Decimal("1")}) == {7: 1}


def test_the_task_refreshes_figures_first_and_the_command_scores(dataset):
    from customers.tasks import score_customers_task

    Customer.objects.update(order_count=0, total_spent=0)  # figures gone stale

    result = score_customers_task.delay().get()

    assert result["scored"] == 10
    assert Customer.objects.get(pk=dataset["ann"].pk).rfm_segment  # scored on fresh figures

    out = StringIO()
    call_command("score_customers", stdout=out)
    assert "10 customers scored" in out.getvalue()


def test_the_nightly_schedule_runs_the_task():
    from django.conf import settings

    assert any(entry["task"] == "customers.tasks.score_customers_task"
               for entry in settings.CELERY_BEAT_SCHEDULE.values())
