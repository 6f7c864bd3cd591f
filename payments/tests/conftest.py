"""Fixtures for payment tests: an order placed for real, Stripe's HTTP layer faked."""
from __future__ import annotations

from decimal import Decimal

import pytest

from catalog.tests import factories as f
from orders.models import Order
from payments.providers import stripe as stripe_provider

from .helpers import checkout_session_response, place
from .stripe_fakes import FakeStripeHTTP


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
