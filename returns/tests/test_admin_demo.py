"""The returns back office on the demo store (`seed_demo`: catalog, customers with a year of
orders, a till per shop), driven as a browser submits its forms (WebTest `admin_app`): the list
with its filter and search, a return's page, approve, receive at a demo shop, refund; and a demo
counter sale handed back at its shop, the cash coming from the shop's till.

The demo store is seeded once for the module in a transaction rolled back after it (each test
runs in its own savepoint inside it), so the module costs one seed."""
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import F
from django.urls import reverse

from catalog.models import Location, StockLevel
from orders.models import Order
from payments.models import Provider
from pos import services as pos
from pos.models import CashMovement, Register
from returns.models import Reason, ReturnPolicy, ReturnRequest
from returns.services import request_return
from saleschannels.selectors import channel_products, counter_channel

from .helpers import rolled_back

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
S = ReturnRequest.Status


@pytest.fixture(scope="module")
def demo_store(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), rolled_back():
        call_command("seed_demo", "--products", "12", "--customers", "15", "--no-images", stdout=StringIO())
        call_command("seed_demo_registers", stdout=StringIO())
        yield


@pytest.fixture
def demo(demo_store):
    # Demo orders shipped up to a year ago: the window lets every one of them come back.
    ReturnPolicy.objects.update_or_create(pk=1, defaults={"window_days": 400})


def demo_orders(count: int) -> list[Order]:
    """Demo web orders paid with the demo card and shipped in full."""
    orders = list(Order.objects.filter(payment_status=Order.PaymentStatus.PAID, fulfilment_status__in=[
        Order.FulfilmentStatus.FULFILLED, Order.FulfilmentStatus.COMPLETED], payments__provider=Provider.DEMO)
        .distinct().order_by("pk")[:count])
    assert len(orders) == count, "the demo seeds shipped, paid orders"
    return orders


def ask(order: Order, reason=Reason.WRONG_SIZE) -> ReturnRequest:
    line = order.lines.order_by("pk").first()
    return request_return(order=order, quantities={line.pk: line.quantity}, reason=reason)


def test_the_list_filters_and_finds_demo_returns_and_a_page_has_a_query_budget(
        demo, admin_app, django_assert_max_num_queries):
    first, second, third = (ask(order) for order in demo_orders(3))
    listing = admin_app.get(reverse("admin:returns_returnrequest_changelist"))
    rows = [a.text for a in listing.html.select("#result_list tbody th a")]
    assert rows == [str(third), str(second), str(first)]  # newest first

    # Refuse the second from its page, then filter the list by status as a click on the filter does.
    page = listing.click(href=reverse("admin:returns_returnrequest_change", args=[second.pk]), index=0)
    form = page.forms["decide-form"]
    form["message"] = "Worn, with the labels cut."
    page = form.submit("refuse").follow()
    assert f"Return R{second.pk} refused" in page.text
    refused = admin_app.get(reverse("admin:returns_returnrequest_changelist"), {"status__exact": S.REFUSED})
    assert [a.text for a in refused.html.select("#result_list tbody th a")] == [str(second)]

    # The search box: by the number on the parcel, and by the order's number.
    form = listing.forms["changelist-search"]
    form["q"] = f"R{third.pk}"
    assert [a.text for a in form.submit().html.select("#result_list tbody th a")] == [str(third)]
    form["q"] = first.order.number
    assert [a.text for a in form.submit().html.select("#result_list tbody th a")] == [str(first)]

    with django_assert_max_num_queries(12):
        admin_app.get(reverse("admin:returns_returnrequest_change", args=[first.pk]))


def test_approve_receive_at_a_demo_shop_and_refund_a_demo_order_as_a_browser_does(
        demo, admin_app, django_capture_on_commit_callbacks):
    order = demo_orders(1)[0]
    request = ask(order)
    line = request.lines.get()
    shop = Location.objects.filter(kind=Location.Kind.SHOP).order_by("position").first()
    page = admin_app.get(reverse("admin:returns_returnrequest_change", args=[request.pk]))

    form = page.forms["decide-form"]
    form["message"] = "Bring it to any of our shops."
    with django_capture_on_commit_callbacks(execute=True):
        page = form.submit("approve").follow()
    assert f"Return R{request.pk} approved" in page.text

    receive = admin_app.get(page.html.select_one("#receive-link")["href"]).forms["receive-form"]
    receive["location"] = str(shop.pk)
    receive[f"restock_{line.pk}"] = str(line.quantity - 1) if line.quantity > 1 else "0"
    receive["write_off_reason"] = "Torn seam"
    page = receive.submit().follow()
    assert f"Return R{request.pk} received." in page.text
    request.refresh_from_db()
    assert request.status == S.RECEIVED and request.received_location == shop and request.refund_due > 0

    page = page.forms["refund-form"].submit().follow()
    request.refresh_from_db()
    order.refresh_from_db()
    assert request.status == S.REFUNDED
    assert f"Refunded ${request.refund_due} to the original payment for return R{request.pk}." in page.text
    refund = request.refunds.get()
    assert refund.payment.provider == Provider.DEMO and refund.status == "succeeded"
    assert order.payment_status in (Order.PaymentStatus.PARTIALLY_REFUNDED, Order.PaymentStatus.REFUNDED)
    assert f"${request.refund_due} · Demo (test cards) · Succeeded" in page.html.select_one(
        ".field-refunds_display").text
    assert "refund-form" not in page.forms and "exchange-link" not in page.text


def test_a_demo_counter_sale_handed_back_at_its_shop_is_paid_back_from_the_till(demo, admin_app):
    level = next(level for level in StockLevel.objects.filter(
        location__kind=Location.Kind.SHOP, on_hand__gt=F("reserved"), variant__is_active=True)
        .select_related("variant", "location").order_by("pk")
        if channel_products(channel=counter_channel(location_id=level.location_id))
        .filter(pk=level.variant.product_id).exists())
    clerk = get_user_model().objects.get(username="webtest-admin")
    session = pos.open_register(register=Register.objects.get(location=level.location), user=clerk,
                                opening_float="100.00")
    order = pos.sell(session_id=session.pk, staff=clerk, key="pos-demo-return",
                     lines=[pos.SaleLine(level.variant_id, 1)],
                     tenders=pos.Tenders(cash_tendered=Decimal("5000.00"))).order
    request = ask(order, reason=Reason.CHANGED_MIND)

    page = admin_app.get(reverse("admin:returns_returnrequest_change", args=[request.pk]))
    receive = admin_app.get(page.html.select_one("#receive-link")["href"]).forms["receive-form"]
    receive["location"] = str(level.location_id)  # handed in at the shop it was bought in
    page = receive.submit().follow()
    assert "session" not in page.forms["refund-form"].fields  # one till open: no choice to make
    page = page.forms["refund-form"].submit().follow()

    request.refresh_from_db()
    assert request.status == S.REFUNDED and request.refunds.get().payment.provider == Provider.CASH
    movement = CashMovement.objects.get(kind=CashMovement.Kind.REFUND)
    assert (movement.session, movement.amount, movement.order) == (session, -order.total, order)
    closed = pos.close_register(session_id=session.pk, user=clerk, counted_cash="100.00")
    assert (closed.expected_cash, closed.difference) == (Decimal("100.00"), Decimal("0.00"))
