"""Delivery chosen for lines only a shop that does not ship online orders holds: the delivery step
says which lines and where they can be picked up, before the review, and changes nothing.

On the demo store: staff moved one item's stock to the Harbour Street shop, then unticked "ships
online orders" there (its stock is for its counter and click and collect)."""
from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.db.models import F
from django.utils.html import escape

from catalog.models import Location, StockLevel
from catalog.services import StockChange, set_stock_levels
from catalog.tests.demo_stock import stocked_only_at
from orders.models import Order

from .conftest import address, fill_cart

pytestmark = pytest.mark.usefixtures("stock_ledger_checked")

KEY_INPUT = re.compile(r'name="idempotency_key" value="([^"]+)"')


@pytest.fixture
def harbour_only(demo_catalog, shipping):
    demo_catalog(products=6)
    item = stocked_only_at("shop-harbour-street", units=4)
    Location.objects.filter(pk=item.shop.pk).update(ships_online_orders=False)  # see the location admin test
    return item


def _errors(response) -> list[str]:
    return re.findall(r'<ul class="checkout-errors" role="alert">(.*?)</ul>', response.content.decode(), re.S)


def test_delivery_of_a_line_only_a_non_shipping_shop_holds_is_refused_with_the_shop_to_pick_it_up(
    client, harbour_only, shipping
):
    item = harbour_only
    fill_cart(client, (item.variant.sku, 2))

    response = client.post("/checkout/", address(delivery=f"method:{shipping.standard.pk}"))

    assert response.status_code == 200  # the delivery step again, nothing saved
    text = " ".join(_errors(response))
    assert escape(f"{item.product.title} ({item.variant.sku}) cannot be delivered: it can only be picked up at "
                  "Harbour Street shop.") in text
    assert "Choose pick-up at Harbour Street shop below" in text
    assert f'value="pickup:{item.shop.pk}"' in response.content.decode()  # offered right there
    assert "checkout" not in client.session
    assert client.get("/checkout/review/")["Location"] == "/checkout/"

    # the shopper takes the offer: pick-up at the shop, reviewed and placed there
    response = client.post("/checkout/", address(delivery=f"pickup:{item.shop.pk}"))
    assert response["Location"] == "/checkout/review/"
    key = KEY_INPUT.search(client.get("/checkout/review/").content.decode())[1]
    client.post("/checkout/place/", {"idempotency_key": key})
    order = Order.objects.get()
    assert order.pickup_location_id == item.shop.pk
    assert StockLevel.objects.get(variant=item.variant, location=item.shop).reserved == 2


def test_a_mixed_cart_names_only_the_collect_only_line_and_says_no_shop_holds_everything(
    client, harbour_only, shipping
):
    item = harbour_only
    # another demo item the warehouse holds and Harbour Street does not
    other = (StockLevel.objects.filter(location__code="warehouse", on_hand__gt=F("reserved"), variant__is_active=True)
             .exclude(variant__product=item.product)
             .exclude(variant__stock_levels__location=item.shop, variant__stock_levels__on_hand__gt=0)
             .select_related("variant__product").order_by("pk").first())
    fill_cart(client, (item.variant.sku, 1), (other.variant.sku, 1))

    response = client.post("/checkout/", address(delivery=f"method:{shipping.standard.pk}"))

    text = " ".join(_errors(response))
    assert escape(f"{item.product.title} ({item.variant.sku}) cannot be delivered") in text
    assert other.variant.sku not in text
    assert "No single shop holds everything in your cart: remove these items" in text
    assert "checkout" not in client.session and not Order.objects.exists()


def test_more_than_delivery_can_take_says_how_many_can_be_delivered(client, harbour_only, shipping):
    item = harbour_only
    warehouse = Location.objects.get(code="warehouse")
    set_stock_levels(changes=[StockChange(variant_id=item.variant.pk, location_id=warehouse.pk, on_hand=1)])
    fill_cart(client, (item.variant.sku, 3))

    response = client.post("/checkout/", address(delivery=f"method:{shipping.standard.pk}"))

    assert escape(f"{item.product.title} ({item.variant.sku}): only 1 of the 3 you want can be delivered; all 3 "
                  "can be picked up at Harbour Street shop.") in " ".join(_errors(response))
    assert "checkout" not in client.session


def test_a_saved_delivery_the_shop_can_no_longer_ship_goes_back_to_the_delivery_step(
    client, demo_catalog, shipping
):
    demo_catalog(products=6)
    item = stocked_only_at("shop-harbour-street", units=4)
    fill_cart(client, (item.variant.sku, 1))
    assert client.post("/checkout/", address(delivery=f"method:{shipping.standard.pk}"))["Location"] == (
        "/checkout/review/")
    # meanwhile staff untick "ships online orders" on the shop
    Location.objects.filter(pk=item.shop.pk).update(ships_online_orders=False)

    response = client.get("/checkout/review/")

    assert response["Location"] == "/checkout/"
    assert f"{item.product.title} ({item.variant.sku}) cannot be delivered: it can only be picked up at " \
           "Harbour Street shop." in [str(m) for m in get_messages(response.wsgi_request)]
    assert not Order.objects.exists()
