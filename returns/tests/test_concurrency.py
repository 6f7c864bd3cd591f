"""Returned stock received at a shop while orders reserve there keeps the numbers right, and a
return is received once however many clicks race (PostgreSQL, real threads and connections,
released together by `conftest.run_together`; data committed for real; ledger checked after)."""
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from catalog.exceptions import OutOfStock
from catalog.models import StockLevel
from catalog.tests import factories as f
from conftest import run_together
from orders.models import Order
from orders.services import PlacementLine, ShippingChoice, place_order
from returns import services
from returns.exceptions import ReturnError
from returns.models import Reason, ReturnRequest

from .helpers import paid_and_shipped, store

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("stock_ledger_checked")]


@pytest.mark.parametrize("shop_had", [2, 0])
def test_a_return_received_at_a_shop_while_orders_reserve_there(shop_had):
    _warehouse, harbour, sizes, _wrap = store()
    shirt = sizes["M"]
    if shop_had:
        f.StockLevelFactory(variant=shirt, location=harbour, on_hand=shop_had)
    manager = get_user_model().objects.create_superuser("boss", "boss@example.com", None)
    sold = paid_and_shipped((shirt, 3))  # from the warehouse
    request = services.request_return(order=sold, quantities={sold.lines.get().pk: 3}, reason=Reason.WRONG_SIZE)
    services.approve_return(request_id=request.pk, user=manager)
    line_id = request.lines.get().pk
    pickup = ShippingChoice(name="Pick up", price=Decimal("0"), pickup_location_id=harbour.pk,
                            location_ids=[harbour.pk])

    def work(index):
        if index < 2:  # the same return received twice at once (a double click, two staff)
            return services.receive_return(request_id=request.pk, location_id=harbour.pk,
                                           receipt=services.Receipt(restock={line_id: 3}), user=manager).status
        return place_order(lines=[PlacementLine(shirt.pk, 2)], email=f"buyer{index}@example.com",
                           idempotency_key=f"race-{index}", shipping=pickup).number

    results = run_together(work, 6)

    received = [r for r in results[:2] if r == ReturnRequest.Status.RECEIVED]
    assert len(received) == 1 and isinstance(next(r for r in results[:2] if r not in received), ReturnError)
    placed = [r for r in results[2:] if isinstance(r, str)]
    refused = [r for r in results[2:] if not isinstance(r, str)]
    assert all(isinstance(error, OutOfStock) for error in refused), refused
    level = StockLevel.objects.get(variant=shirt, location=harbour)
    # Every returned unit is on hand once; every order that got in holds its units; none oversold.
    assert level.on_hand == shop_had + 3
    assert level.reserved == 2 * len(placed) == 2 * (Order.objects.count() - 1)
    assert level.reserved <= level.on_hand
    assert sold.lines.get().quantity_returned == 3


def test_two_submits_of_the_same_return_ask_once():
    _warehouse, _harbour, sizes, _wrap = store()
    order = paid_and_shipped((sizes["M"], 2))
    line_id = order.lines.get().pk

    def work(index):
        return services.request_return(order=order, quantities={line_id: 2}, reason=Reason.DAMAGED).pk

    results = run_together(work, 3)

    assert ReturnRequest.objects.count() == 1
    assert sum(isinstance(r, int) for r in results) == 1
    assert all(isinstance(r, ReturnError) for r in results if not isinstance(r, int)), results
