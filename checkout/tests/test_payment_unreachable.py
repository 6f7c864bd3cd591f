"""Stripe unreachable when the order is placed: the shopper is told plainly that the order is not
paid and how to pay, never thanked as if it were.

The real stripe client library runs, with its real HTTP client (`stripe.RequestsClient`), over a
requests session whose transport raises the connection error a network that is down raises:
nothing reaches the network, and the library's own retries and error handling are what is tested.
"""
from __future__ import annotations

import pytest
import requests
import stripe
from django.core import mail

from notifications.services import send_order_email
from orders.links import signed_confirmation_url, signed_order_url
from orders.models import Order
from payments.models import Payment
from payments.providers import stripe as stripe_provider
from conftest import html_tags

from .conftest import fill_cart
from .test_views import messages_of, to_review

pytestmark = pytest.mark.django_db


class NetworkDown(requests.adapters.BaseAdapter):
    """A transport that cannot connect: every request times out while connecting."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def send(self, request, **kwargs):
        self.urls.append(request.url)
        raise requests.exceptions.ConnectTimeout(f"Connection to {request.url} timed out. (connect timeout=30)")

    def close(self) -> None:
        pass


@pytest.fixture
def stripe_unreachable(monkeypatch, settings) -> NetworkDown:
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_secret"
    down = NetworkDown()
    session = requests.Session()
    session.mount("https://", down)
    session.mount("http://", down)
    http = stripe.RequestsClient(session=session)
    # The library waits between its retries; that back-off is time, not network: none here.
    monkeypatch.setattr(http, "_sleep_time_seconds", lambda num_retries: 0)
    monkeypatch.setattr(stripe_provider, "http_client", http)
    return down


def test_stripe_unreachable_at_checkout_says_the_order_is_not_paid_and_offers_to_pay(
    client, storefront_catalog, shipping, stripe_unreachable
):
    fill_cart(client, ("LAMP-1", 1))
    key = to_review(client, shipping)

    # when
    response = client.post("/checkout/place/", {"idempotency_key": key})

    # then: the library tried Stripe (and retried) and gave up; nothing was charged
    assert stripe_unreachable.urls and all(u == "https://api.stripe.com/v1/checkout/sessions"
                                           for u in stripe_unreachable.urls)
    assert len(stripe_unreachable.urls) == 3  # the first try and the client's two retries
    order = Order.objects.get()
    payment = Payment.objects.get(order=order)
    assert order.status == Order.Status.PENDING_PAYMENT and order.paid_at is None
    assert payment.status == "cancelled"  # never opened: the next try is a new payment

    # the shopper lands on the order's payment page, not on a thank-you page
    assert response.status_code == 302 and response["Location"].startswith("/payments/")
    assert f"Your order {order.number} is saved, but it is not paid yet." in messages_of(response)
    page = client.get(response["Location"])
    text = page.content.decode()
    assert "Thank you" not in text and "We have sent a confirmation" not in text
    [box] = html_tags(page.content, "section", id="payment-status")
    assert box["data-state"] == "unavailable" and "data-hx-get" not in box  # no spinner, no polling
    assert "Your order is not paid yet" in text and "nothing was charged" in text
    assert html_tags(page.content, "button", id="payment-retry")

    # the order's own page says the same, and offers to pay
    for url in (signed_order_url(order), signed_confirmation_url(order)):
        shown = client.get(url)
        [status] = html_tags(shown.content, "section", id="order-status")
        assert status["data-payment"] == "not_paid" and "data-hx-get" not in status, url
        assert "Not paid yet" in shown.content.decode() and "Thank you for your order" not in shown.content.decode()
        assert html_tags(shown.content, "form", id="pay-now-form"), url

    # the confirmation email claims no payment and says how to pay
    send_order_email(order_id=order.pk, kind="confirmation")  # (after commit, which this test never reaches)
    [email] = [m for m in mail.outbox if order.number in m.subject]
    assert "Your order is not paid yet" in email.body and signed_order_url(order) in email.body
    assert "payment received" not in email.body.lower() and "we have your payment" not in email.body.lower()
    assert "Your order is not paid yet" in email.alternatives[0][0]


def test_stripe_calls_give_up_in_seconds_not_minutes(monkeypatch, settings):
    """The library's own default waits 80 s per try: a shopper at checkout would wait minutes."""
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    monkeypatch.setattr(stripe_provider, "http_client", None)
    seen = []
    monkeypatch.setattr(requests.Session, "request", lambda self, method, url, **kwargs: seen.append(
        kwargs["timeout"]) or (_ for _ in ()).throw(requests.exceptions.ConnectTimeout("down")))
    http = stripe_provider.default_http_client()
    monkeypatch.setattr(stripe_provider, "default_http_client", lambda: http)
    monkeypatch.setattr(http, "_sleep_time_seconds", lambda num_retries: 0)

    with pytest.raises(stripe.APIConnectionError):
        stripe_provider.client().v1.checkout.sessions.create(params={"mode": "payment"})

    assert seen == [(5, 15)] * 3
