"""Returned stock received at a shop while orders reserve there keeps the numbers right, and a
return is received once however many clicks race (PostgreSQL, real threads and connections,
released together by `conftest.run_together`; data committed for real; ledger checked after), and
a refund split over two payments is asked of Stripe once per part however many clicks race."""
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from catalog.exceptions import OutOfStock
from catalog.models import StockLevel
from catalog.tests import factories as f
from conftest import run_together
from orders.models import Order
from orders.services import PlacementLine, ShippingChoice, place_order
from payments.models import Refund
from returns import services
from returns.exceptions import ReturnError
from returns.models import Reason, ReturnRequest

from .helpers import paid_and_shipped, store
from .test_split_refunds import fake_stripe, manager, received, stripe_refund  # noqa: F401  (fixtures)

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


def test_four_clicks_on_refund_ask_stripe_once_per_part(received, fake_stripe, manager):
    """A return refunded over two card payments, the button pressed four times at once: each part
    is recorded and sent once (the return's lock, then each payment's), and the return ends refunded."""
    order, request, _first, _second = received
    fake_stripe.answer("post", "/v1/refunds", stripe_refund("re_test_first", 5000, "pi_test_first"))
    fake_stripe.answer("post", "/v1/refunds", stripe_refund("re_test_second", 3000, "pi_test_second"))

    results = run_together(lambda i: services.refund_return(request_id=request.pk, user=manager).status, 4)

    # Each click ends refunded, is refused once it is, or (a click that found another asking Stripe
    # for a part right now) leaves the return as it was for that click to settle.
    assert ReturnRequest.Status.REFUNDED in results, results
    assert all(r in (ReturnRequest.Status.REFUNDED, ReturnRequest.Status.RECEIVED)
               or (isinstance(r, ReturnError) and "refunded, so it cannot" in str(r)) for r in results), results
    assert not request.events.filter(to_status=ReturnRequest.Status.REFUNDING).exists()  # never "not finished"
    sent = fake_stripe.requests_to("post", "/v1/refunds")
    assert sorted(r.params["payment_intent"] for r in sent) == ["pi_test_first", "pi_test_second"]
    assert sorted(Refund.objects.values_list("amount", "status")) == [
        (Decimal("30.00"), "succeeded"), (Decimal("50.00"), "succeeded")]
    request.refresh_from_db()
    assert request.status == ReturnRequest.Status.REFUNDED
