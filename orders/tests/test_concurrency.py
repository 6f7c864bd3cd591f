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

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("stock_ledger_checked")]
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


def test_a_double_submitted_return_is_recorded_once():
    # Both requests pass the form's check (2 shipped, none back); the order's row lock makes the
    # second wait, then see the first one's return and refuse: the units come back, and go back
    # on the shelf, once.
    from orders.exceptions import OrderError
    from orders.models import OrderEvent
    from orders.services import ShipmentRequest, confirm_payment, create_shipment, record_return

    variant = f.VariantFactory(price=Decimal("10.00"))
    warehouse = f.LocationFactory(code="warehouse")
    f.StockLevelFactory(variant=variant, location=warehouse, on_hand=5)
    order = place_order(lines=[PlacementLine(variant.pk, 2)], email="r@example.com", idempotency_key="ret",
                        shipping=DELIVERY)
    confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.STAFF, reference="manual")
    line = order.lines.get()
    create_shipment(order_id=order.pk, request=ShipmentRequest(quantities={line.pk: 2}))

    results = run_together(
        lambda i: record_return(order=order, lines={line.pk: 2}, restock=True, location_id=warehouse.pk,
                                actor=OrderEvent.Actor.STAFF, user=None),
        4,
    )

    recorded = [r for r in results if isinstance(r, OrderEvent)]
    refused = [r for r in results if isinstance(r, OrderError)]
    assert (len(recorded), len(refused)) == (1, 3), results
    line.refresh_from_db()
    assert line.quantity_returned == 2
    assert StockLevel.objects.get(variant=variant).on_hand == 5  # 5 - 2 shipped + 2 back
    assert order.events.filter(kind=OrderEvent.Kind.RETURN).count() == 1
