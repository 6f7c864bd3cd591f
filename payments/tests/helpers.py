"""Helpers for payment tests: orders placed for real, and payments started as a checkout would."""
from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from orders.models import Order
from orders.services import PlacementLine, ShippingChoice, place_order
from payments.services import start_payment

from .stripe_fakes import new_id, stripe_object

DELIVERY = ShippingChoice(name="Standard", price=Decimal("4.95"))
CHECKOUT_URL = "https://checkout.stripe.com/c/pay/cs_test_fake"


def place(variant, quantity: int = 1, *, key: str = "checkout-1", user=None) -> Order:
    return place_order(lines=[PlacementLine(variant.pk, quantity)], email="ada@example.com", idempotency_key=key,
                       shipping=DELIVERY, user=user)


def checkout_session_response(session_id: str | None = None, **changes) -> dict:
    """Stripe's answer to creating a Checkout Session (its PaymentIntent is made later, on paying)."""
    return stripe_object(
        "checkout.session", id=session_id or new_id("cs"), url=CHECKOUT_URL, payment_intent=None, status="open",
        payment_status="unpaid", expires_at=2_000_000_000, **changes,
    )


def shopper_request(session=None, *, user=None, htmx: bool = False):
    """The checkout's POST as a view gets it (the checkout calls start_payment with its request)."""
    request = RequestFactory().post("/checkout/", headers={"HX-Request": "true"} if htmx else {})
    request.session = session if session is not None else SessionStore()
    request.user = user or AnonymousUser()
    request.htmx = HtmxDetails(request)
    return request


def start_in_browser(client, order: Order, *, htmx: bool = False):
    """Start paying `order` in the test client's browser session; return start_payment's response."""
    session = client.session
    response = start_payment(order=order, request=shopper_request(session, htmx=htmx))
    session.save()
    return response


def in_transaction() -> bool:
    """A transaction of the code under test is open (the test case's own blocks do not count):
    what a fake provider checks, since a provider must never be asked inside one."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)
