"""Concurrent checkouts on PostgreSQL never take a promotion past its limits (Saleor #544/#15849,
Oscar #2101, eventyay #1398: a voucher limited to 3 redeemed 5 times).

Real threads, each with its own connection, released together by a barrier; each places an
order through `place_order` with the promotions' discounter, as checkout does.
"""
from decimal import Decimal

import pytest

from catalog.tests import factories as f
from conftest import run_together
from orders.models import Order
from orders.services import PlacementLine, ShippingChoice, place_order
from promotions.exceptions import PromotionUnavailable
from promotions.models import Code, Promotion, Redemption
from promotions.selectors import Shopper
from promotions.services import discounter_for

from .factories import CodeFactory, PromotionFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
DELIVERY = ShippingChoice(name="Standard", price=Decimal("0"))


def buy(variant, i, code):
    return place_order(
        lines=[PlacementLine(variant.pk, 1)], email=f"b{i}@example.com", idempotency_key=f"promo-buyer-{i}",
        shipping=DELIVERY,
        discounter=discounter_for(shopper=Shopper(email=f"b{i}@example.com"), code=code, shipping=Decimal(0),
                                  shown_discount=Decimal("2.00")),
    )


@pytest.fixture
def variant(db):
    variant = f.VariantFactory(price=Decimal("20.00"))
    f.StockLevelFactory(variant=variant, location=f.LocationFactory(code="warehouse"), on_hand=100)
    return variant


def test_fifty_checkouts_with_a_code_limited_to_ten_uses_give_exactly_ten_orders(variant):
    promotion = PromotionFactory(name="Ten only", trigger=Promotion.Trigger.CODE, value=Decimal(10), usage_limit=10)
    CodeFactory(code="TEN", promotion=promotion)

    results = run_together(lambda i: buy(variant, i, "TEN"), 50)

    orders = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if isinstance(r, PromotionUnavailable)]
    assert (len(orders), len(refused)) == (10, 40), [r for r in results if not isinstance(r, (Order, PromotionUnavailable))]
    promotion.refresh_from_db()
    assert promotion.uses == 10
    assert Redemption.objects.filter(promotion=promotion).count() == Order.objects.count() == 10
    assert all(order.discount_total == Decimal("2.00") for order in Order.objects.all())


def test_single_use_codes_and_a_budget_hold_under_concurrency(variant):
    promotion = PromotionFactory(name="Budget", trigger=Promotion.Trigger.CODE, value=Decimal(10), budget=Decimal("10.00"))
    for n in range(8):
        CodeFactory(code=f"ONE{n}", promotion=promotion, max_uses=1)

    # 24 buyers over 8 single-use codes (three per code) and a budget of five discounts of 2.00.
    results = run_together(lambda i: buy(variant, i, f"ONE{i % 8}"), 24)

    orders = [r for r in results if isinstance(r, Order)]
    assert len(orders) == 5, results
    assert all(isinstance(r, (Order, PromotionUnavailable)) for r in results), results
    promotion.refresh_from_db()
    assert promotion.spent == Decimal("10.00")
    assert sorted(Code.objects.values_list("uses", flat=True)) == [0, 0, 0, 1, 1, 1, 1, 1]
