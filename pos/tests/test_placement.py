"""What the counter added to placement: a ChannelSale and lines that name their own locations."""
from decimal import Decimal

import pytest
from django.db import transaction

from catalog import stock
from catalog.exceptions import OutOfStock
from catalog.models import StockLevel
from orders.models import Order
from orders.services import ChannelSale, PlacementLine, ShippingChoice, place_order

pytestmark = pytest.mark.usefixtures("stock_ledger_checked")
COUNTER = ShippingChoice(name="Counter", price=Decimal("0"))


def test_lines_must_all_name_their_locations_or_none(counter):
    with pytest.raises(ValueError, match="every line"):
        place_order(lines=[PlacementLine(counter.shirt.pk, 1, location_ids=(counter.shop.pk,)),
                           PlacementLine(counter.mug.pk, 1)], email="a@example.com", idempotency_key="k1",
                    shipping=COUNTER)
    assert not Order.objects.exists()


def test_reserve_lines_takes_each_line_from_its_own_locations_only(counter):
    with transaction.atomic():
        reservation = stock.reserve_lines(requests=[
            (stock.StockRequest(counter.shirt.pk, 2), [counter.shop.pk]),
            (stock.StockRequest(counter.mug.pk, 1), [counter.warehouse.pk]),
        ])
    assert sorted((a.variant_id, a.location_id, a.quantity) for a in reservation.allocations) == sorted([
        (counter.shirt.pk, counter.shop.pk, 2), (counter.mug.pk, counter.warehouse.pk, 1)])
    with pytest.raises(OutOfStock), transaction.atomic():  # the shop has 1 left; the warehouse's 5 do not count
        stock.reserve_lines(requests=[(stock.StockRequest(counter.shirt.pk, 2), [counter.shop.pk])])
    with pytest.raises(ValueError, match="twice"), transaction.atomic():
        stock.reserve_lines(requests=[(stock.StockRequest(counter.shirt.pk, 1), [counter.shop.pk]),
                                      (stock.StockRequest(counter.shirt.pk, 1), [counter.warehouse.pk])])
    assert StockLevel.objects.get(variant=counter.shirt, location=counter.shop).reserved == 2


def test_a_web_order_still_sells_at_catalog_prices_and_records_the_web_channel(counter):
    order = place_order(lines=[PlacementLine(counter.shirt.pk, 1)], email="web@example.com", idempotency_key="w1",
                        shipping=COUNTER)
    assert (order.channel_id, order.sale_location_id, order.sold_by_id) == ("web", None, None)
    assert order.lines.get().unit_price == Decimal("19.99")


def test_a_channel_sale_records_channel_shop_and_staff_and_writes_no_confirmation(counter):
    from notifications.models import OutboundEmail

    order = place_order(
        lines=[PlacementLine(counter.shirt.pk, 1, location_ids=(counter.shop.pk,))], email="", idempotency_key="c1",
        shipping=COUNTER, sale=ChannelSale(channel=counter.channel, location_id=counter.shop.pk,
                                           sold_by=counter.staff, anonymous=True, notify=False))
    assert (order.channel_id, order.sale_location_id, order.sold_by_id, order.customer_id) == (
        counter.channel.pk, counter.shop.pk, counter.staff.pk, None)
    placed = order.events.get(to_status="placed")
    assert (placed.actor, placed.user_id) == ("staff", counter.staff.pk)
    assert not OutboundEmail.objects.filter(order_id=order.pk).exists()


def test_the_order_page_explains_a_counter_sales_locations():
    from inventory.routing import explain

    said = explain({"split": "per_line", "whole_at": None, "locations": [1, 2]}, {1: "Soho", 2: "Warehouse"})
    assert said.startswith("Each line reserved where staff sold it from") and "Soho, Warehouse" in said
