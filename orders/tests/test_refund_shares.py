"""Refunds of discounted orders: returned units are worth the price paid after their discounts,
to the cent, and refunding a whole line in any split gives back exactly what it cost."""
import re
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from hypothesis import given
from hypothesis import strategies as st

from catalog.tests import factories as f
from orders import links
from orders.models import OrderEvent
from orders.refund_shares import units_value
from orders.services import Discounts, LineDiscount, PlacementLine, ShipmentRequest, create_shipment, place_order
from payments.models import Refund

from .test_admin import ADDRESS, DELIVERY, paid_by_card, url


def test_three_units_of_a_two_dollar_line_are_worth_67_67_66_never_201():
    worth = [units_value(line_total=Decimal("2.00"), quantity=3, first=i, count=1, currency="USD") for i in range(3)]
    assert worth == [Decimal("0.67"), Decimal("0.67"), Decimal("0.66")]
    assert units_value(line_total=Decimal("2.00"), quantity=3, first=1, count=2, currency="USD") == Decimal("1.33")
    assert units_value(line_total=Decimal("1001"), quantity=3, first=0, count=1, currency="JPY") == Decimal("334")


@st.composite
def split_lines(draw):
    quantity = draw(st.integers(min_value=1, max_value=25))
    cents = draw(st.integers(min_value=0, max_value=10_000_00))
    cuts = sorted(draw(st.lists(st.integers(min_value=1, max_value=quantity), max_size=quantity)))
    return Decimal(cents) / 100, quantity, [b - a for a, b in zip([0, *cuts], [*cuts, quantity]) if b > a]


@given(split_lines())
def test_refunding_every_unit_in_any_split_never_exceeds_and_in_total_equals_what_was_charged(case):
    line_total, quantity, chunks = case
    first, refunded = 0, Decimal("0")
    for count in chunks:
        amount = units_value(line_total=line_total, quantity=quantity, first=first, count=count, currency="USD")
        assert amount >= 0 and amount == amount.quantize(Decimal("0.01"))
        refunded += amount
        first += count
        assert refunded <= line_total
        # No unit is worth more than a cent above its fair share, none less than a cent under it.
        assert abs(amount - line_total * count / quantity) < Decimal("0.01") * count
    assert first == quantity and refunded == line_total


# --- Through the back office, as staff use it ---

@pytest.fixture
def manager(db):
    return get_user_model().objects.create_superuser("boss", "boss@example.com", None)


@pytest.fixture
def discounted_order(db):
    """3 boots at $60.00 with $19.99 off the line: $160.01 paid for it, plus shipping; paid by card, shipped."""
    boots = f.VariantFactory(sku="BOOT-42", price=Decimal("60.00"), product__title="Trail Boot")
    f.StockLevelFactory(variant=boots, location=f.LocationFactory(code="warehouse"), on_hand=10)
    discounts = Discounts(lines={boots.pk: [LineDiscount(promotion_id=1, name="Winter sale", amount=Decimal("19.99"))]})
    order = place_order(lines=[PlacementLine(boots.pk, 3)], email="ada@example.com", customer_name="Ada",
                        idempotency_key=uuid.uuid4().hex, shipping=DELIVERY, shipping_address=ADDRESS,
                        discounter=lambda quantities, variants: discounts)
    order = paid_by_card(order)
    line = order.lines.get()
    assert (line.line_total, line.discount_total) == (Decimal("160.01"), Decimal("19.99"))
    create_shipment(order_id=order.pk, request=ShipmentRequest(quantities={line.pk: 3}))
    return order


def proposed(client, order) -> Decimal:
    page = client.get(url("refund", order))
    assert page.status_code == 200
    return page.context["form"]["amount"].value()


def refund(client, order, amount: Decimal) -> None:
    payment = order.payments.get()
    response = client.post(url("refund", order), {"payment": payment.pk, "amount": str(amount), "reason": "Return"})
    assert response.status_code == 302, response.content


def test_staff_refund_returns_of_a_discounted_line_at_its_discounted_price_to_the_cent(client, manager, discounted_order):
    order = discounted_order
    line = order.lines.get()
    client.force_login(manager)
    assert proposed(client, order) == order.total  # nothing came back: the whole payment, as before

    client.post(url("return", order), {f"line_{line.pk}": "1", "location": ""})
    event = order.events.get(kind=OrderEvent.Kind.RETURN)
    assert event.data["refund_due"] == "53.34"
    assert "Worth $53.34 back: the price paid after the discounts." in event.message
    page = client.get(url("refund", order))
    assert page.context["form"]["amount"].value() == Decimal("53.34")  # not the $60.00 shelf price
    assert "for the returned items, each at the price paid after its share of the discounts" in page.text
    refund(client, order, Decimal("53.34"))
    assert proposed(client, order) == order.total - Decimal("53.34")  # all refunded that was due: the rest

    client.post(url("return", order), {f"line_{line.pk}": "2", "location": ""})
    assert proposed(client, order) == Decimal("106.67")
    refund(client, order, Decimal("106.67"))
    refunded = sorted(Refund.objects.filter(payment__order=order).values_list("amount", flat=True))
    assert sum(refunded) == line.line_total  # the whole line back: exactly what it cost, never $180

    shopper = client.get(links.signed_order_url(order)).text
    assert re.search(r"3 returned</p>\s*<p class=\"order-line-returned-value\">Worth \$160.01 back: the price you "
                     r"paid for them after the discount.", shopper)
