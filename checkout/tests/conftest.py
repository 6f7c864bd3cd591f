"""Fixtures for checkout tests: shipping rules and tax rates staff would set, and a shopper's cart.

`shipping` replaces the defaults the data migration creates:
| zone             | countries | methods                                                              |
| Domestic (pos 0) | US, CA    | Standard flat 5.00 free from 100.00; Heavy by weight (<=1kg 4.00,     |
|                  |           | <=5kg 9.00); Banded by subtotal (<=50 6.00, <=500 3.00); Express flat |
|                  |           | 15.00; Old (inactive) flat 1.00                                       |
| Europe (pos 1)   | DE, FR    | EU flat 12.00                                                         |
"""
from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from carts.services import add_to_cart
from catalog.models import Variant
from checkout.models import ShippingMethod, ShippingRateBand, ShippingZone

K = ShippingMethod.Kind


@pytest.fixture
def shipping(db):
    ShippingZone.objects.all().delete()
    domestic = ShippingZone.objects.create(name="Domestic", countries="US, CA", position=0)
    europe = ShippingZone.objects.create(name="Europe", countries="DE, FR", position=1)
    standard = ShippingMethod.objects.create(
        zone=domestic, name="Standard", kind=K.FLAT, price=Decimal("5.00"), free_above=Decimal("100.00"), position=0
    )
    heavy = ShippingMethod.objects.create(zone=domestic, name="Heavy", kind=K.WEIGHT, position=1)
    ShippingRateBand.objects.create(method=heavy, up_to=Decimal("1"), price=Decimal("4.00"))
    ShippingRateBand.objects.create(method=heavy, up_to=Decimal("5"), price=Decimal("9.00"))
    banded = ShippingMethod.objects.create(zone=domestic, name="Banded", kind=K.PRICE, position=2)
    ShippingRateBand.objects.create(method=banded, up_to=Decimal("500"), price=Decimal("3.00"))
    ShippingRateBand.objects.create(method=banded, up_to=Decimal("50"), price=Decimal("6.00"))
    express = ShippingMethod.objects.create(zone=domestic, name="Express", kind=K.FLAT, price=Decimal("15.00"), position=3)
    old = ShippingMethod.objects.create(
        zone=domestic, name="Old", kind=K.FLAT, price=Decimal("1.00"), is_active=False, position=4
    )
    eu = ShippingMethod.objects.create(zone=europe, name="EU", kind=K.FLAT, price=Decimal("12.00"))
    return SimpleNamespace(domestic=domestic, europe=europe, standard=standard, heavy=heavy, banded=banded,
                           express=express, old=old, eu=eu)


def fill_cart(client, *items: tuple[str, int]) -> None:
    """Add (sku, quantity) pairs to the cart of the browser `client`, through the real view."""
    for sku, quantity in items:
        variant = Variant.objects.get(sku=sku)
        response = client.post("/cart/add/", {"variant": variant.pk, "product": variant.product_id,
                                              "quantity": str(quantity)})
        assert response.status_code == 302, response


def address(**overrides) -> dict:
    data = {
        "email": "sam@example.com", "phone": "", "delivery": "", "billing_same": "1",
        "shipping-name": "Sam Shopper", "shipping-company": "", "shipping-line1": "1 Main St",
        "shipping-line2": "", "shipping-city": "Springfield", "shipping-region": "IL",
        "shipping-postal_code": "62701", "shipping-country": "US",
    }
    data.update(overrides)
    return data


@pytest.fixture
def guest_cart():
    """A guest as the cart services see one (for service-level tests)."""
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.db import SessionStore

    def make(*items: tuple[str, int]):
        shopper = SimpleNamespace(user=AnonymousUser(), session=SessionStore())
        for sku, quantity in items:
            add_to_cart(user=shopper.user, session=shopper.session, variant_id=Variant.objects.get(sku=sku).pk,
                        quantity=quantity)
        return shopper

    return make
