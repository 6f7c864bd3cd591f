"""The order back office on the demo store `make run` seeds: demo orders with payments, refunds and
shipments, worked the way staff work them (django-webtest submits what a browser would)."""
from decimal import Decimal

import pytest

from customers.demo import seed_demo_customers
from orders.models import Order
from payments.models import Refund

from .test_admin import url
from .test_bulk import CHANGELIST, SHIP_CSV, errors_of, read_csv, run_action, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]

P, F = Order.PaymentStatus, Order.FulfilmentStatus


@pytest.fixture
def demo_store(demo_catalog):
    demo_catalog(products=8)
    seed_demo_customers(count=60)
    return Order.objects.all()


@pytest.mark.parametrize(("payment", "fulfilment"), [
    (P.PAID, F.COMPLETED), (P.PAID, F.FULFILLED), (P.PARTIALLY_REFUNDED, F.UNFULFILLED), (P.UNPAID, F.CANCELLED),
])
def test_each_kind_of_demo_order_opens_with_both_states(admin_app, demo_store, payment, fulfilment):
    order = demo_store.filter(payment_status=payment, fulfilment_status=fulfilment).first()
    assert order is not None, (payment, fulfilment)

    page = admin_app.get(url("change", order))

    assert order.number in page.text
    assert order.get_payment_status_display() in page.text
    assert order.get_fulfilment_status_display() in page.text


def test_a_demo_orders_refund_form_refunds_what_it_shows(admin_app, demo_store):
    order = demo_store.filter(payment_status=P.PAID).order_by("-pk").first()

    form = admin_app.get(url("refund", order)).forms["refund-form"]

    assert Decimal(form["amount"].value) == order.total
    form.submit()
    order.refresh_from_db()
    assert order.payment_status == P.REFUNDED
    assert sum(Refund.objects.filter(payment__order=order).values_list("amount", flat=True)) == order.total


def test_selected_demo_orders_export_and_print(admin_app, demo_store):
    chosen = list(demo_store.order_by("-created_at")[:3])
    page = admin_app.get(CHANGELIST)

    rows = read_csv(run_action(page, "export_csv", chosen))
    slips = run_action(admin_app.get(CHANGELIST), "print_packing_slips", chosen)

    assert sorted(row["number"] for row in rows) == sorted(order.number for order in chosen)
    assert slips.status_code == 200 and all(order.number in slips.text for order in chosen)


def test_a_paid_demo_order_ships_from_a_tracking_csv(admin_app, demo_store, django_capture_on_commit_callbacks):
    order = demo_store.filter(payment_status=P.PAID, fulfilment_status=F.UNFULFILLED, pickup_location=None).first()
    assert order is not None

    preview = upload(admin_app.get(SHIP_CSV), [[order.number, "DHL", "00340434161094042557", "", ""]])
    assert errors_of(preview) == []
    with django_capture_on_commit_callbacks(execute=True):
        preview.forms["ship-csv-apply"].submit("apply")

    order.refresh_from_db()
    assert order.fulfilment_status == F.FULFILLED
    assert order.shipments.get().tracking_number == "00340434161094042557"
