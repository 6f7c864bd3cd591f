"""On PostgreSQL with real threads: the counter handing a pick-up over while the task cancels it
(and a second clerk typing the code at the same moment) ends in one outcome, never both."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from catalog.models import Location, StockLevel
from catalog.tests import factories as f
from conftest import run_together
from orders.models import Order
from orders.services import PlacementLine, ShippingChoice, place_order
from payments.models import Refund
from payments.services import record_manual_payment
from pickup import codes, services
from pickup.models import Pickup

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("stock_ledger_checked")]


def _ready_pickup(key: str):
    shop = Location.objects.get(code="uptown")
    variant = f.VariantFactory(price=Decimal("20.00"))
    f.StockLevelFactory(variant=variant, location=shop, on_hand=2)
    staff = get_user_model().objects.get(username="clerk")
    order = place_order(lines=[PlacementLine(variant.pk, 1)], email=f"{key}@example.com", idempotency_key=key,
                        shipping=ShippingChoice(name="Pick up", price=Decimal("0"), pickup_location_id=shop.pk,
                                                location_ids=[shop.pk]))
    record_manual_payment(order_id=order.pk, user=staff)
    pickup = services.mark_ready_for_pickup(order_id=order.pk, user=staff)
    return order, variant, codes.pickup_code(order_id=order.pk, salt=pickup.code_salt), staff


@pytest.mark.parametrize("round_", range(3))
def test_collecting_and_cancelling_at_once_do_one_or_the_other(round_):
    f.LocationFactory(code="uptown", kind=Location.Kind.SHOP, pickup_allowed=True)
    get_user_model().objects.create_user("clerk", "clerk@example.com", "pw", is_staff=True)
    order, variant, code, staff = _ready_pickup(f"race-{round_}")
    later = timezone.now() + timedelta(days=60)

    def act(i: int):
        if i == 0:
            return services.cancel_uncollected_pickup(order_id=order.pk, now=later)
        return services.collect_pickup(order_id=order.pk, code=code, user=staff)

    results = run_together(act, 3)

    order.refresh_from_db()
    pickup = Pickup.objects.get(order=order)
    level = StockLevel.objects.get(variant=variant)
    collected = [r for r in results[1:] if isinstance(r, Pickup)]
    if pickup.status == Pickup.Status.COLLECTED:
        assert results[0] == 0 and len(collected) == 1, results
        assert order.fulfilment_status == Order.FulfilmentStatus.FULFILLED
        assert (level.on_hand, level.reserved) == (1, 0) and not Refund.objects.exists()
    else:
        assert pickup.status == Pickup.Status.CANCELLED and results[0] == 1 and not collected, results
        assert order.fulfilment_status == Order.FulfilmentStatus.CANCELLED
        assert (level.on_hand, level.reserved) == (2, 0) and Refund.objects.count() == 1
