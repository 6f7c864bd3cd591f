"""Gift cards under concurrency on PostgreSQL: orders spending one card at once never take more
than its balance, and cards shared by two orders in opposite orders do not deadlock.

Real threads, each with its own connection, released together (conftest.run_together); each places
an order the way checkout does (`place_order(on_placed=...)`, the debit in the order's transaction).
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from catalog.tests import factories as f
from conftest import run_together
from giftcards import selectors
from giftcards.models import GiftCard
from giftcards.services import issue_gift_card
from orders.models import Order
from orders.services import PlacementLine, ShippingChoice, place_order
from payments.models import Payment
from payments.services import open_payment, pay_with_gift_cards

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lamp():
    variant = f.VariantFactory(sku="LAMP-C", price=Decimal("30.00"))
    f.StockLevelFactory(variant=variant, location=f.LocationFactory(code="warehouse"), on_hand=100)
    return variant


def _card(amount: str) -> GiftCard:
    staff = get_user_model().objects.get_or_create(username="boss", defaults={"is_staff": True})[0]
    return issue_gift_card(amount=Decimal(amount), user=staff, reason="Concurrency test")[0]


def _checkout(lamp, card_ids, i):
    def on_placed(order):
        pay_with_gift_cards(order=order, card_ids=card_ids, user=None)
        open_payment(order=order)

    return place_order(lines=[PlacementLine(lamp.pk, 1)], email=f"s{i}@example.com", idempotency_key=f"race-{i}",
                       shipping=ShippingChoice(name="Free", price=Decimal("0")), on_placed=on_placed)


def test_orders_spending_one_card_at_once_never_take_more_than_its_balance(lamp):
    card = _card("100.00")  # six $30 orders: three and a third of them

    results = run_together(lambda i: _checkout(lamp, [card.pk], i), 6)

    assert all(isinstance(r, Order) for r in results), results
    card.refresh_from_db()
    taken = sorted(Payment.objects.filter(provider="gift_card").values_list("amount", flat=True))
    assert card.balance == Decimal("0.00")
    assert sum(taken) == Decimal("100.00") and taken == [Decimal("10.00")] + [Decimal("30.00")] * 3
    # The rest of each order is left for the card payment, to the cent.
    for order in Order.objects.all():
        gift = sum(order.payments.filter(provider="gift_card").values_list("amount", flat=True))
        card_due = sum(order.payments.filter(provider="demo").values_list("amount", flat=True))
        assert gift + card_due == order.total
    assert Order.objects.filter(payment_status="paid").count() == 3
    assert not selectors.ledger_mismatches().exists()


def test_two_orders_using_two_cards_in_opposite_orders_do_not_deadlock(lamp):
    a, b = _card("20.00"), _card("20.00")

    results = run_together(lambda i: _checkout(lamp, [a.pk, b.pk] if i % 2 else [b.pk, a.pk], i), 4)

    assert all(isinstance(r, Order) for r in results), results
    a.refresh_from_db(), b.refresh_from_db()
    assert a.balance == b.balance == Decimal("0.00")
    assert sum(Payment.objects.filter(provider="gift_card").values_list("amount", flat=True)) == Decimal("40.00")
    assert not selectors.ledger_mismatches().exists()
