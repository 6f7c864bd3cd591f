"""A transfer received while orders reserve at the same location keeps the numbers right (PostgreSQL).

Real threads with their own connections, released together (`conftest.run_together`); the data
is committed for real. Every stock writer locks stock rows in pk order, so receiving (which may
create the destination's row) and reserving queue on the same row and never deadlock; the
ledger check runs after each test.
"""
from decimal import Decimal

import pytest
from django.db import transaction

from catalog import stock
from catalog.exceptions import OutOfStock
from catalog.models import Location, StockLevel
from catalog.tests import factories as f
from conftest import run_together
from inventory import services
from inventory.models import Transfer
from orders.models import Order
from orders.services import PlacementLine, ShippingChoice, place_order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("stock_ledger_checked")]


@pytest.mark.parametrize("shop_had", [1, 0])
def test_a_transfer_received_while_orders_reserve_at_the_shop(shop_had):
    warehouse = f.LocationFactory(code="warehouse", position=0)
    shop = f.LocationFactory(code="shop", kind=Location.Kind.SHOP, pickup_allowed=True, position=1)
    tee = f.VariantFactory(sku="TEE-S", price=Decimal("20.00"))
    f.StockLevelFactory(variant=tee, location=warehouse, on_hand=5)
    if shop_had:
        f.StockLevelFactory(variant=tee, location=shop, on_hand=shop_had)
    transfer = services.create_transfer(source_id=warehouse.pk, destination_id=shop.pk,
                                        lines=[services.TransferRequest(variant_id=tee.pk, quantity=5)])
    services.ship_transfer(transfer_id=transfer.pk)
    line_id = transfer.lines.get().pk
    pickup = ShippingChoice(name="Pick up", price=Decimal("0"), pickup_location_id=shop.pk, location_ids=[shop.pk])

    def work(index):
        if index == 0:
            return services.receive_transfer(transfer_id=transfer.pk, received={line_id: 5}).status
        return place_order(lines=[PlacementLine(tee.pk, 2)], email=f"buyer{index}@example.com",
                           idempotency_key=f"race-{index}", shipping=pickup).number

    results = run_together(work, 5)

    assert results[0] == Transfer.Status.RECEIVED
    placed = [result for result in results[1:] if isinstance(result, str)]
    refused = [result for result in results[1:] if not isinstance(result, str)]
    assert all(isinstance(error, OutOfStock) for error in refused), refused
    level = StockLevel.objects.get(variant=tee, location=shop)
    # Everything that arrived is on hand; every order that got in holds exactly its units; nothing oversold.
    assert level.on_hand == shop_had + 5
    assert level.reserved == 2 * len(placed) == 2 * Order.objects.count()
    assert level.reserved <= level.on_hand
    assert StockLevel.objects.get(variant=tee, location=warehouse).on_hand == 0


def test_shipping_a_transfer_and_reserving_the_same_units_never_oversell():
    warehouse = f.LocationFactory(code="warehouse", position=0)
    shop = f.LocationFactory(code="shop", kind=Location.Kind.SHOP, position=1)
    tee = f.VariantFactory(sku="TEE-S", price=Decimal("20.00"))
    f.StockLevelFactory(variant=tee, location=warehouse, on_hand=4)
    transfer = services.create_transfer(source_id=warehouse.pk, destination_id=shop.pk,
                                        lines=[services.TransferRequest(variant_id=tee.pk, quantity=3)])

    def work(index):
        if index == 0:
            return services.ship_transfer(transfer_id=transfer.pk).status
        with transaction.atomic():
            return stock.reserve(requests=[stock.StockRequest(variant_id=tee.pk, quantity=2)],
                                 location_ids=[warehouse.pk])

    results = run_together(work, 3)

    level = StockLevel.objects.get(variant=tee, location=warehouse)
    shipped = results[0] == Transfer.Status.SHIPPED
    reserved = [result for result in results[1:] if isinstance(result, list)]
    assert level.on_hand == 4 - (3 if shipped else 0)
    assert level.reserved == 2 * len(reserved) <= level.on_hand
