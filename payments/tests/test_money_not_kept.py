"""A correctly signed checkout.session.completed for the wrong amount: the money arrived, the
order was not marked paid. That order must never expire silently with the money: expiry leaves
it (and its stock) for staff, with one alert in its history, and the back office lists it under
"Needs attention" and counts it on the admin index until the money is refunded.

Events are Stripe's published example event and session (fixtures/stripe_objects.json), signed
for real with the webhook secret and posted to the real webhook URL.
"""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.models import StockLevel
from conftest import html_tags
from orders.links import signed_order_url
from orders.models import Order, OrderEvent
from orders.services import expire_unpaid_orders
from payments.exceptions import OrderNotPayable
from payments.links import status_url
from payments.models import Payment
from payments.selectors import orders_needing_attention
from payments.services import refund_payment, start_payment

from .helpers import checkout_session_response, place, shopper_request, start_in_browser
from .stripe_fakes import new_id, post_event, stripe_object
from .test_webhooks import completed

pytestmark = pytest.mark.django_db
S = Order.Status


@pytest.fixture
def payment(fake_stripe, order) -> Payment:
    start_payment(order=order, request=shopper_request())
    return Payment.objects.get(order=order)


def _reserved(variant) -> int:
    return StockLevel.objects.get(variant=variant).reserved


def _underpaid(client, payment: Payment, *, intent: str = "pi_test_paid_0001") -> Order:
    """Stripe says the session was paid, $1.00 for an $84.95 order."""
    response = post_event(client, completed(payment, cents=100, intent=intent))
    assert response.status_code == 200 and response.json()["result"].startswith("amount mismatch")
    return Order.objects.get(pk=payment.order_id)


def test_an_order_holding_a_wrong_amount_is_never_expired_and_staff_are_alerted_once(client, payment, jacket):
    order = _underpaid(client, payment)
    assert _reserved(jacket) == 1
    later = order.reservation_expires_at + timedelta(minutes=1)

    # when the reservation runs out, twice
    assert expire_unpaid_orders(now=later) == 0
    assert expire_unpaid_orders(now=later + timedelta(minutes=1)) == 0

    # then the order still holds its stock, and its history says why, once
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT
    assert _reserved(jacket) == 1
    [left] = order.events.filter(kind=OrderEvent.Kind.ALERT, data__expiry="left_to_staff")
    assert "Not expired" in left.message and "$1.00" in left.message and "$84.95" in left.message
    assert not order.events.filter(to_status=S.EXPIRED).exists()
    assert list(orders_needing_attention()) == [order]


def test_the_held_order_cannot_be_paid_twice_and_its_page_says_it_is_being_checked(client, payment):
    order = _underpaid(client, payment)

    with pytest.raises(OrderNotPayable) as refused:
        start_payment(order=order, request=shopper_request())
    assert refused.value.reason == "review"
    assert Payment.objects.filter(order=order).count() == 1

    page = client.get(signed_order_url(order))
    [box] = html_tags(page.content, "section", id="order-status")
    assert box["data-payment"] == "review" and "data-hx-get" not in box
    assert "Payment being checked" in page.content.decode()
    assert not html_tags(page.content, "form", id="pay-now-form")


def test_staff_find_held_money_on_the_admin_index_and_in_the_order_list(client, payment, admin_app, fake_stripe,
                                                                        django_assert_max_num_queries, jacket):
    waiting = place(jacket, key="checkout-ok")  # an order merely waiting for its payment: not listed
    order = _underpaid(client, payment)

    index = admin_app.get(reverse("admin:index"))
    [banner] = index.html.select("#money-attention")
    assert "1 order holds money" in banner.get_text()
    queue = index.click(href=r"attention=money")
    listed = {a.get_text() for a in queue.html.select("#result_list tbody th a")}
    assert listed == {order.number} and waiting.number not in listed

    # more held orders cost the index no more queries
    one_held = len(_queries_of(admin_app))
    for n in range(3):
        extra = place(jacket, key=f"extra-{n}")
        fake_stripe.forget("post", "/v1/checkout/sessions")
        fake_stripe.answer("post", "/v1/checkout/sessions", checkout_session_response())
        start_payment(order=extra, request=shopper_request())
        _underpaid(client, Payment.objects.get(order=extra), intent=new_id("pi"))
    with django_assert_max_num_queries(one_held):
        page = admin_app.get(reverse("admin:index"))
    assert "4 orders hold money" in page.html.select_one("#money-attention").get_text()


def _queries_of(app):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        app.get(reverse("admin:index"))
    return captured


def test_once_staff_refund_it_the_order_leaves_the_queue_and_expires(client, payment, jacket, fake_stripe, staff):
    order = _underpaid(client, payment)
    later = order.reservation_expires_at + timedelta(minutes=1)
    expire_unpaid_orders(now=later)
    fake_stripe.answer("post", "/v1/refunds", stripe_object(
        "refund", id="re_test_back", amount=100, currency="usd", payment_intent="pi_test_paid_0001",
        status="succeeded"))

    refund_payment(payment_id=payment.pk, amount=Decimal("1.00"), user=staff, reason="Wrong amount")

    assert not orders_needing_attention().exists()
    assert expire_unpaid_orders(now=later + timedelta(minutes=1)) == 1
    order.refresh_from_db()
    assert order.status == S.EXPIRED and _reserved(jacket) == 0


def test_nothing_held_expires_as_before(order, jacket):
    assert expire_unpaid_orders(now=timezone.now() + timedelta(hours=1)) == 1
    order.refresh_from_db()
    assert order.status == S.EXPIRED and _reserved(jacket) == 0
    assert not order.events.filter(kind=OrderEvent.Kind.ALERT).exists()


def test_the_payment_page_does_not_claim_a_refund_that_was_never_made(client, fake_stripe, jacket):
    order = place(jacket, key="browser")
    start_in_browser(client, order)
    payment = Payment.objects.get(order=order)
    _underpaid(client, payment)

    page = client.get(status_url(payment))

    [box] = html_tags(page.content, "section", id="payment-status")
    text = page.content.decode()
    assert box["data-state"] == "not_kept"
    assert "refunded" not in text and "does not match this order" in text and "please do not pay again" in text
