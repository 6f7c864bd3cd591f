"""A declined card: the shopper's order page says so and offers to pay again (no "Payment
processing" spinner), and the order's history records the decline with the provider's reason
and no card data. The demo card 4000 0000 0000 0002 through the real views; Stripe's
payment_intent.payment_failed (its published example objects) signed and posted to the webhook."""
import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from conftest import html_tags
from orders.links import signed_order_url
from orders.models import Order, OrderEvent
from payments.models import Payment
from payments.services import start_payment

from .helpers import place, shopper_request, start_in_browser
from .stripe_fakes import post_event, stripe_event, stripe_object
from .test_demo import card

pytestmark = pytest.mark.django_db
S = Order.Status


def _status_box(client, order: Order) -> tuple[dict, str]:
    page = client.get(signed_order_url(order))
    [box] = html_tags(page.content, "section", id="order-status")
    return box, page.content.decode()


def test_a_declined_demo_card_is_on_the_order_page_and_in_its_history(client, order):
    demo_page = start_in_browser(client, order)["Location"]

    client.post(demo_page, card("4000 0000 0000 0002"))

    # the order page: declined, why, pay again; no spinner, no polling
    box, text = _status_box(client, order)
    assert box["data-payment"] == "declined" and "data-hx-get" not in box
    assert "order-status-spinner" not in text and "Payment processing" not in text
    assert "Payment declined" in text and "Your card was declined." in text
    assert html_tags(text.encode(), "form", id="pay-now-form")
    assert text.count("Payment declined") >= 2  # the status box and the history entry

    # the history: the decline, with the provider's reason, and no card data
    [event] = order.events.filter(kind=OrderEvent.Kind.PAYMENT)
    assert (event.actor, event.data["outcome"], event.data["code"]) == ("customer", "declined", "card_declined")
    assert "declined" in event.message and "Your card was declined." in event.message
    stored = event.message + json.dumps(event.data)
    assert "4000" not in stored and "0000 0002" not in stored and "000000000002" not in stored

    # paying again from the order page goes back to the card form, and a good card pays
    again = client.post(html_tags(text.encode(), "form", id="pay-now-form")[0]["action"])
    assert again["Location"] == demo_page
    client.post(demo_page, card())
    order.refresh_from_db()
    assert order.status == S.PAID


def test_a_stripe_decline_from_the_webhook_is_on_the_order_page_and_in_its_history(client, fake_stripe, order):
    start_payment(order=order, request=shopper_request())
    payment = Payment.objects.get(order=order)
    # Stripe's example PaymentIntent, declined as Stripe reports it: the error names the card used.
    intent = stripe_object(
        "payment_intent", id="pi_test_declined", status="requires_payment_method", amount=8495, currency="usd",
        metadata={"order_id": str(order.pk), "order_number": order.number, "payment_id": str(payment.pk)},
        last_payment_error={
            "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.", "doc_url": "https://stripe.com/docs/error-codes/card-declined",
            "payment_method": stripe_object("payment_method"),
        },
    )

    response = post_event(client, stripe_event("payment_intent.payment_failed", intent))

    assert response.json() == {"result": "payment failed"}
    payment.refresh_from_db()
    assert (payment.status, payment.failure_message) == ("failed", "Your card has insufficient funds.")
    [event] = order.events.filter(kind=OrderEvent.Kind.PAYMENT)
    assert (event.actor, event.data["code"]) == ("webhook", "insufficient_funds")
    assert "Your card has insufficient funds." in event.message
    card_data = stripe_object("payment_method")["card"]
    stored = event.message + json.dumps(event.data)
    for secret in (card_data["last4"], card_data["fingerprint"], str(card_data["exp_year"])):
        assert secret not in stored
    box, text = _status_box(client, order)
    assert box["data-payment"] == "declined" and "data-hx-get" not in box
    assert "Your card has insufficient funds." in text and html_tags(text.encode(), "form", id="pay-now-form")


def test_the_order_history_list_says_declined_without_a_query_per_order(client, jacket, django_assert_max_num_queries):
    user = get_user_model().objects.create_user(username="ada", email="ada@example.com", password="pw")
    client.force_login(user)
    orders = [place(jacket, key=f"history-{n}", user=user) for n in range(3)]
    for order in orders:
        demo_page = start_in_browser(client, order)["Location"]
        client.post(demo_page, card("4000 0000 0000 0002"))
    client.get(reverse("orders:history"))

    with django_assert_max_num_queries(12):
        page = client.get(reverse("orders:history"))

    assert page.content.decode().count("Payment declined") == 3
