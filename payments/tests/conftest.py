"""Fixtures for payment tests: an order placed for real, Stripe's HTTP layer faked."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from catalog.tests import factories as f
from orders.models import Order
from payments.models import Payment
from payments.providers import stripe as stripe_provider
from payments.services import handle_stripe_event, pay_with_demo_card, start_payment

from .helpers import checkout_session_response, place, shopper_request
from .stripe_fakes import FakeStripeHTTP, stripe_event, stripe_object


@pytest.fixture
def jacket(db):
    """An $80 variant with 5 units in the warehouse."""
    variant = f.VariantFactory(sku="JKT-M", price=Decimal("80.00"), product__title="Storm Jacket")
    f.StockLevelFactory(variant=variant, location=f.LocationFactory(code="warehouse"), on_hand=5)
    return variant


@pytest.fixture
def order(jacket) -> Order:
    """One jacket plus $4.95 shipping: $84.95, pending payment."""
    return place(jacket)


@pytest.fixture
def stripe_keys(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_secret"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_fake"


@pytest.fixture
def fake_stripe(monkeypatch, stripe_keys) -> FakeStripeHTTP:
    """Stripe configured, its HTTP layer answering canned responses; a Checkout Session is ready."""
    fake = FakeStripeHTTP()
    monkeypatch.setattr(stripe_provider, "http_client", fake)
    fake.answer("post", "/v1/checkout/sessions", checkout_session_response())
    return fake


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(username="sam", is_staff=True)


@pytest.fixture
def demo_paid(order) -> Payment:
    """The order paid with the demo card."""
    start_payment(order=order, request=shopper_request())
    payment = Payment.objects.get(order=order)
    return pay_with_demo_card(payment_id=payment.pk, card_number="4242424242424242")


@pytest.fixture
def stripe_paid(fake_stripe, order) -> Payment:
    """The order paid through Stripe Checkout (its completion event processed)."""
    start_payment(order=order, request=shopper_request())
    payment = Payment.objects.get(order=order)
    session = stripe_object("checkout.session", id=payment.provider_session_id, payment_status="paid",
                            status="complete", amount_total=8495, currency="usd", payment_intent="pi_test_refundable")
    assert handle_stripe_event(event=stripe_event("checkout.session.completed", session)) == "paid"
    payment.refresh_from_db()
    return payment
