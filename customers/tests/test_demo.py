"""`seed_demo` also makes demo customers with a year of orders, consents, notes and scores."""
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, F, Q, Sum

from catalog.models import StockLevel
from customers.models import Activity, ConsentRecord, Customer, Note, Segment
from customers.selectors.segments import segment_figures
from customers.services.stats import refresh_customer_stats
from customers.tests.test_segments import built_in_segments  # noqa: F401  (fixture)
from orders.models import Order, OrderEvent, OrderLine, Shipment
from payments.models import Payment, Refund

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
P = Order.PaymentStatus
FS = Order.FulfilmentStatus


def _seed(customers: int = 60) -> str:
    out = StringIO()
    call_command("seed_demo", "--products", "40", "--no-images", "--customers", str(customers), stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    models = (Customer, get_user_model(), Order, OrderLine, OrderEvent, Payment, Refund, Shipment, ConsentRecord,
              Note, Activity, Segment)
    return {model.__name__: model.objects.count() for model in models}


def test_demo_customers_orders_consents_and_segments(built_in_segments):
    # given a catalog whose stock must not move
    call_command("seed_demo", "--products", "40", "--no-images", "--customers", "0", stdout=StringIO())
    stock = list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved"))

    output = _seed()

    assert "Demo customers: 60 created" in output
    assert Customer.objects.count() == 60
    accounts = Customer.objects.filter(user__isnull=False)
    assert 10 < accounts.count() < 50  # some with accounts, some guests
    assert not any(user.has_usable_password() for user in get_user_model().objects.filter(customer__isnull=False))
    assert list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")) == stock

    # Orders are consistent: lines add up, totals add shipping, the buyer is the customer.
    orders = Order.objects.annotate(lines_total=Sum("lines__line_total"), line_count=Count("lines"))
    assert 100 < orders.count() < 400
    for order in orders.select_related("customer"):
        assert order.line_count >= 1
        assert order.subtotal == order.lines_total
        assert order.total == order.subtotal + order.shipping_total + (0 if order.prices_include_tax else order.tax_total)
        assert order.email == order.customer.email
        assert (order.paid_at is None) == (order.fulfilment_status == FS.CANCELLED)
    assert {FS.COMPLETED, FS.CANCELLED} <= set(Order.objects.values_list("fulfilment_status", flat=True))
    assert P.REFUNDED in set(Order.objects.values_list("payment_status", flat=True))
    assert not Order.objects.filter(payment_status=P.UNPAID).exclude(fulfilment_status=FS.CANCELLED).exists()
    paid = Order.objects.exclude(fulfilment_status=FS.CANCELLED)
    assert Payment.objects.filter(status=Payment.Status.SUCCEEDED).count() == paid.count()
    assert Refund.objects.filter(payment__order__payment_status=P.REFUNDED).count() == Order.objects.filter(
        payment_status=P.REFUNDED).count()
    assert not OrderLine.objects.filter(order__fulfilment_status=FS.COMPLETED).exclude(quantity_fulfilled=F("quantity")).exists()
    assert Shipment.objects.count() == Order.objects.filter(fulfilment_status__in=[FS.FULFILLED, FS.COMPLETED]).count()
    # Every demo order's history agrees with its two states.
    for order in Order.objects.prefetch_related("events"):
        moves = [e for e in order.events.all() if e.state]
        last = {state: [e.to_status for e in moves if e.state == state][-1:] for state in ("payment", "fulfilment")}
        assert last["payment"] in ([], [order.payment_status]) and last["fulfilment"] in ([], [order.fulfilment_status])
    months = Order.objects.dates("created_at", "month")
    assert len(months) >= 10  # spread over the past year

    # Consents: a share consents, each with an import record.
    consenting = Customer.objects.filter(accepts_marketing=True)
    assert 0 < consenting.count() < 60
    assert set(ConsentRecord.objects.values_list("customer_id", flat=True)) == set(consenting.values_list("pk", flat=True))
    assert set(ConsentRecord.objects.values_list("source", "granted")) == {(ConsentRecord.Source.IMPORT, True)}

    # The stored figures and scores are current, and the segments have members.
    assert refresh_customer_stats() == 0
    assert Customer.objects.filter(order_count__gt=0, recency_score=0).count() == 0
    figures = segment_figures(Segment.objects.all())
    sizes = {segment.name: figures[segment.pk].size for segment in Segment.objects.all()}
    assert sum(1 for name in ("Champions", "Loyal", "New", "At risk", "Lost") if sizes[name]) >= 4
    assert sizes["Newsletter subscribers"] == consenting.count()
    assert sizes["Campers"] > 0 and sizes["Big spenders gone quiet"] > 0
    assert Customer.objects.exclude(rfm_segment="").count() == Customer.objects.filter(order_count__gt=0).count()


def test_running_again_adds_nothing_and_a_larger_run_adds_the_rest(built_in_segments):
    _seed(30)
    first = _counts()
    emails = set(Customer.objects.values_list("email", flat=True))

    _seed(30)
    assert _counts() == first

    _seed(40)
    assert Customer.objects.count() == 40
    assert emails <= set(Customer.objects.values_list("email", flat=True))
    assert not Customer.objects.filter(~Q(pk__in=Order.objects.values("customer_id")), order_count__gt=0).exists()
