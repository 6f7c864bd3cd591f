"""Fixtures for gift card tests: a staff member, cards issued the way the admin issues them, and
a $35 lamp and gift card products in the storefront catalog."""
from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model

from checkout.tests.conftest import shipping as checkout_rules  # noqa: F401  (the checkout's shipping rules)
from giftcards.services import issue_gift_card


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_superuser(username="boss", email="boss@example.com", password="pw")


@pytest.fixture
def issue(staff):
    """issue(amount) -> (card, code): a goodwill card without a recipient (its code returned once)."""

    def make(amount: str = "50.00", **kwargs):
        return issue_gift_card(amount=Decimal(amount), user=staff, reason=kwargs.pop("reason", "Goodwill: late parcel"),
                               **kwargs)

    return make


@pytest.fixture
def gift_card_product(storefront_catalog):
    """A $25 gift card product (stock to sell from) flagged as a gift card."""
    from catalog.tests.factories import product_with_stock
    from giftcards.models import GiftCardProduct

    product = product_with_stock(title="Gift card $25", slug="gift-card-25", price=Decimal("25.00"), on_hand=1000,
                                 category=storefront_catalog.gear)
    GiftCardProduct.objects.create(product=product, valid_months=24)
    return SimpleNamespace(product=product, variant=product.variants.get())
