"""Sales channels: where products are sold, at what price, and the channel every order records."""
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from carts.models import CartLine
from catalog.models import Product
from catalog.tests import factories as f
from orders.services import PlacementLine, ShippingChoice, place_order
from saleschannels import selectors, services
from saleschannels.models import Channel, PriceList, PriceListEntry, Publication, sold_in_channel

pytestmark = pytest.mark.django_db
DELIVERY = ShippingChoice(name="Standard", price=Decimal("4.95"))


def test_the_migration_seeds_the_web_store_and_phone_channels():
    assert Channel.objects.get(pk="web").kind == Channel.Kind.WEB
    assert Channel.objects.get(pk="phone").kind == Channel.Kind.PHONE


@pytest.mark.parametrize(("sold_in", "web", "app", "pos", "phone"), [
    ("both", True, True, True, True),
    ("online", True, True, False, True),
    ("shops", False, False, True, True),
])
def test_which_channels_publish_a_product(sold_in, web, app, pos, phone):
    assert [sold_in_channel(sold_in, kind) for kind in ("web", "app", "pos", "phone")] == [web, app, pos, phone]


def test_a_shops_only_product_leaves_every_storefront_page_and_comes_back(client, storefront_catalog,
                                                                         django_capture_on_commit_callbacks):
    catalog = storefront_catalog
    assert b"Camp Lamp" in client.get("/c/gear/").content

    # when (the page cache's versions move on commit)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.set_sold_in(product_ids=[catalog.lamp.pk], sold_in="shops") == 1

    # then: the listing (index rebuilt), the product page, search, the home page
    assert b"Camp Lamp" not in client.get("/c/gear/").content
    assert client.get(f"/p/{catalog.lamp.slug}/").status_code == 404
    assert b"Camp Lamp" not in client.get("/search/?q=lamp").content
    assert catalog.lamp not in Product.objects.published()
    pos = Channel(code="pos-x", kind=Channel.Kind.POS, location=catalog.downtown)
    assert catalog.lamp in selectors.channel_products(channel=pos)

    with django_capture_on_commit_callbacks(execute=True):
        services.set_sold_in(product_ids=[catalog.lamp.pk], sold_in="both")
    assert b"Camp Lamp" in client.get("/c/gear/").content
    assert not Publication.objects.exists()


def test_an_online_only_product_stays_on_the_web_and_leaves_the_counters(storefront_catalog):
    catalog = storefront_catalog
    services.set_sold_in(product_ids=[catalog.lamp.pk, catalog.tee.pk], sold_in="online")

    pos = Channel(code="pos-x", kind=Channel.Kind.POS, location=catalog.downtown)
    assert catalog.lamp in Product.objects.published()
    assert catalog.lamp not in selectors.channel_products(channel=pos)
    assert catalog.lamp in selectors.channel_products(channel=Channel.objects.get(pk="phone"))
    assert services.set_sold_in(product_ids=[catalog.lamp.pk, catalog.tee.pk], sold_in="online") == 0


def test_a_shops_only_product_cannot_be_added_to_a_cart_or_ordered_online(client, storefront_catalog):
    catalog = storefront_catalog
    variant = catalog.lamp.variants.get()
    services.set_sold_in(product_ids=[catalog.lamp.pk], sold_in="shops")

    response = client.post("/cart/add/", {"variant": variant.pk, "product": catalog.lamp.pk, "quantity": 1})

    assert response.status_code in (200, 302)
    assert not CartLine.objects.filter(variant=variant).exists()


def test_an_order_placed_at_checkout_records_the_web_channel(storefront_catalog):
    variant = storefront_catalog.lamp.variants.get()
    order = place_order(lines=[PlacementLine(variant.pk, 1)], email="ada@example.com", idempotency_key="k-1",
                        shipping=DELIVERY)

    order.refresh_from_db()
    assert (order.channel_id, order.sale_location, order.sold_by) == ("web", None, None)


def test_a_channel_price_list_replaces_the_catalog_price_of_its_variants():
    cheap, plain = f.VariantFactory(price=Decimal("40.00")), f.VariantFactory(price=Decimal("15.00"))
    trade = PriceList.objects.create(name="Trade")
    PriceListEntry.objects.create(price_list=trade, variant=cheap, price=Decimal("32.50"))
    phone = Channel.objects.get(pk="phone")

    assert selectors.channel_prices(channel=phone, variant_ids=[cheap.pk, plain.pk]) == {
        cheap.pk: Decimal("40.00"), plain.pk: Decimal("15.00")}
    phone.price_list = trade
    phone.save()
    assert selectors.channel_prices(channel=phone, variant_ids=[cheap.pk, plain.pk]) == {
        cheap.pk: Decimal("32.50"), plain.pk: Decimal("15.00")}


def test_the_web_store_sells_at_catalog_prices_and_a_counter_needs_its_shop():
    web = Channel.objects.get(pk="web")
    web.price_list = PriceList.objects.create(name="Sale")
    with pytest.raises(ValidationError) as error:
        web.full_clean()
    assert "catalog prices" in str(error.value)
    with pytest.raises(IntegrityError), transaction.atomic():
        web.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        Channel.objects.create(code="pos-nowhere", name="Nowhere", kind=Channel.Kind.POS)


def test_every_active_shop_gets_its_counter_channel_once():
    from saleschannels.services import ensure_counter_channels

    shop = f.LocationFactory(code="harbour", name="Harbour shop", kind="shop")
    f.LocationFactory(code="central", kind="warehouse")
    created = ensure_counter_channels()
    assert [(c.code, c.kind, c.location_id, c.name) for c in created] == [
        ("pos-harbour", "pos", shop.pk, "Harbour shop counter")]
    assert ensure_counter_channels() == []


def test_a_wishlist_shows_a_shops_only_product_as_not_for_sale_online(storefront_catalog):
    from customers.selectors.wishlist import wishlist_entries
    from customers.services.wishlist import add_to_wishlist
    from customers.tests.factories import CustomerFactory

    customer = CustomerFactory()
    add_to_wishlist(customer=customer, product_id=storefront_catalog.lamp.pk)
    assert [entry.on_sale for entry in wishlist_entries(customer=customer)] == [True]

    services.set_sold_in(product_ids=[storefront_catalog.lamp.pk], sold_in="shops")

    assert [entry.on_sale for entry in wishlist_entries(customer=customer)] == [False]
