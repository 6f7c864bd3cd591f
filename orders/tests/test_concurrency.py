"""Concurrent checkouts on PostgreSQL: no oversell, no deadlock, no double order.

Real threads, each with its own database connection, started together by a barrier.
"""
from decimal import Decimal

import pytest

from catalog.exceptions import OutOfStock
from catalog.models import StockLevel
from catalog.tests import factories as f
from conftest import run_together
from orders.models import Order
from orders.services import PlacementLine, ShippingChoice, place_order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
DELIVERY = ShippingChoice(name="Standard", price=Decimal("0"))
JOIN_SECONDS = 60


def test_twenty_buyers_for_the_last_five_units():
    variant = f.VariantFactory(price=Decimal("10.00"))
    f.StockLevelFactory(variant=variant, location=f.LocationFactory(code="warehouse"), on_hand=5)

    results = run_together(
        lambda i: place_order(lines=[PlacementLine(variant.pk, 1)], email=f"b{i}@example.com",
                              idempotency_key=f"buyer-{i}", shipping=DELIVERY),
        20,
    )

    orders = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if isinstance(r, OutOfStock)]
    level = StockLevel.objects.get(variant=variant)
    assert (len(orders), len(refused)) == (5, 15), results
    assert (level.on_hand, level.reserved) == (5, 5)
    assert Order.objects.count() == 5
    assert "not enough stock" in str(refused[0])


def test_two_carts_with_two_variants_in_opposite_order_never_deadlock():
    warehouse = f.LocationFactory(code="warehouse")
    a, b = f.VariantFactory(price=Decimal("5.00")), f.VariantFactory(price=Decimal("7.00"))
    for variant in (a, b):
        f.StockLevelFactory(variant=variant, location=warehouse, on_hand=1000)
    rounds = 15

    def buy(i: int):
        first, second = (a, b) if i % 2 == 0 else (b, a)
        made = []
        for r in range(rounds):
            made.append(place_order(
                lines=[PlacementLine(first.pk, 1), PlacementLine(second.pk, 1)], email="x@example.com",
                idempotency_key=f"cart-{i}-{r}", shipping=DELIVERY,
            ))
        return made

    results = run_together(buy, 4)

    assert all(isinstance(r, list) for r in results), results  # PostgreSQL raises "deadlock detected" otherwise
    assert Order.objects.count() == 4 * rounds
    assert sorted(StockLevel.objects.values_list("reserved", flat=True)) == [4 * rounds, 4 * rounds]


def test_a_double_submitted_checkout_for_the_last_units_makes_one_order():
    # The losers wait on the stock rows the winner took and must still get the winner's order,
    # not "out of stock".
    variant = f.VariantFactory(price=Decimal("10.00"))
    f.StockLevelFactory(variant=variant, location=f.LocationFactory(code="warehouse"), on_hand=2)

    results = run_together(
        lambda i: place_order(lines=[PlacementLine(variant.pk, 2)], email="twice@example.com",
                              idempotency_key="one-form", shipping=DELIVERY),
        6,
    )

    assert all(isinstance(r, Order) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert StockLevel.objects.get(variant=variant).reserved == 2
