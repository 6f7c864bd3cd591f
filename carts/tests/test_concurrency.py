"""Concurrent writes to one cart, on PostgreSQL with real threads (each with its own connection).

The cart row lock is what keeps a double click or two tabs from losing an update or tripping the
one-line-per-variant constraint; the customer's first add relies on the one-cart-per-customer
constraint and `get_or_create`.
"""
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore

from carts import services
from carts.exceptions import NotEnoughStock
from carts.models import Cart, CartLine
from carts.selectors import CART_SESSION_KEY
from catalog.tests import factories as f
from conftest import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_adds_to_one_guest_cart_neither_lose_units_nor_exceed_the_stock():
    variant = f.VariantFactory(price=Decimal("10.00"))
    f.StockLevelFactory(variant=variant, location=f.LocationFactory(code="warehouse"), on_hand=8)
    cart = Cart.objects.create()

    def add_one(_i: int):
        session = SessionStore()
        session[CART_SESSION_KEY] = cart.pk
        return services.add_to_cart(user=AnonymousUser(), session=session, variant_id=variant.pk, quantity=1)

    results = run_together(add_one, 12)

    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 4 and all(isinstance(r, NotEnoughStock) for r in refused), refused
    assert CartLine.objects.get(cart=cart).quantity == 8


def test_a_customers_simultaneous_first_adds_make_one_cart():
    user = get_user_model().objects.create_user(username="ada", password="x")
    warehouse = f.LocationFactory(code="warehouse")
    variants = []
    for _ in range(5):
        variant = f.VariantFactory()
        f.StockLevelFactory(variant=variant, location=warehouse, on_hand=3)
        variants.append(variant)

    def add(i: int):
        return services.add_to_cart(user=user, session=SessionStore(), variant_id=variants[i].pk, quantity=1)

    results = run_together(add, 5)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert Cart.objects.count() == 1
    assert Cart.objects.get().lines.count() == 5
