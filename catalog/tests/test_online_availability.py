"""Online availability, the one rule (`catalog.stock`: `reach`, `available_online_q`, `OnlineStock`):
units at active locations that ship online orders can be delivered; units at a non-shipping shop
that allows pick-up can be collected there only; units anywhere else are not offered online. Every
storefront read (cards, listing index, "in stock" filter, product page, the cart's stock totals)
says the same, and staff changing a location's flags changes what shoppers see."""
from __future__ import annotations

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings, strategies as st

from catalog import listing_index, selectors, stock
from catalog.card_rows import card_products
from catalog.models import Location, Product
from catalog.tests import factories as f
from catalog.tests.demo_stock import stocked_only_at

pytestmark = pytest.mark.usefixtures("stock_ledger_checked")

# A location: active, ships online orders, allows pick-up, and (on hand, reserved) of one variant.
_units = st.integers(0, 3).flatmap(lambda on_hand: st.tuples(st.just(on_hand), st.integers(0, on_hand)))
_location = st.tuples(st.booleans(), st.booleans(), st.booleans(), _units)


@pytest.fixture
def one_variant(db):
    category = f.CategoryFactory(slug="tents", name="Tents")
    variant = f.VariantFactory(product=f.ProductFactory(slug="ridge-tent", title="Ridge tent", category=category))
    return variant


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(places=st.lists(_location, max_size=4))
def test_every_storefront_read_applies_the_one_rule(one_variant, places):
    variant, product = one_variant, one_variant.product
    with transaction.atomic():
        ids = []
        for n, (active, ships, pickup, (on_hand, reserved)) in enumerate(places):
            location = f.LocationFactory(code=f"place-{n}", is_active=active, ships_online_orders=ships,
                                         pickup_allowed=pickup, kind=Location.Kind.SHOP, position=n)
            f.StockLevelFactory(variant=variant, location=location, on_hand=on_hand, reserved=reserved)
            ids.append(location.pk)

        # The rule, written out: what each read must agree with.
        free = [on_hand - reserved for _a, _s, _p, (on_hand, reserved) in places]
        deliverable = sum(units for units, (active, ships, _p, _u) in zip(free, places) if active and ships)
        collectable = {pk: units for pk, units, (active, _s, pickup, _u) in zip(ids, free, places) if active and pickup}
        orderable = max([deliverable, *collectable.values()])
        buyable = any(units > 0 and active and (ships or pickup) for units, (active, ships, pickup, _u) in zip(free, places))

        online = stock.online_stock([variant.pk])[variant.pk]
        assert (online.deliverable, dict(online.collectable)) == (deliverable, collectable)
        assert online.orderable == orderable == selectors.stock_totals([variant.pk])[variant.pk]
        assert (orderable > 0) == buyable  # "in stock" is "one order can have a unit"
        assert Product.objects.filter(pk=product.pk).in_stock().exists() == buyable
        assert card_products([product.pk])[0].in_stock == buyable
        assert (listing_index.build([product.category_id])[product.category_id]["stock"] != "0") == buyable

        page = selectors.product_page(slug=product.slug, selection={})
        assert page.available == orderable and page.stock == {variant.pk: orderable}
        if orderable and not deliverable:
            assert page.status == selectors.Availability.PICKUP_ONLY
            assert {location.pk for location in page.pickup_only} == {pk for pk, units in collectable.items() if units}
        else:
            assert page.status == selectors.availability_status(orderable) and page.pickup_only == []
        transaction.set_rollback(True)


def _status(page) -> str:
    return page.html.select_one("p.availability").get_text(" ", strip=True)


def _card(listing, product):
    """The product's card on a listing page (None when it is not listed)."""
    link = listing.html.find("a", href=product.get_absolute_url(), class_="product-card-link")
    return link.find_parent("article") if link else None


def _untick(admin_app, shop, field, capture):
    form = admin_app.get(f"/admin/catalog/location/{shop.pk}/change/").forms["location_form"]
    form[field] = not form[field].checked
    with capture(execute=True):  # the storefront versions are bumped on commit
        form.submit("_save").follow()


def test_staff_stop_the_only_shop_holding_an_item_shipping_and_its_page_says_pick_up_only(
    demo_catalog, admin_app, django_capture_on_commit_callbacks
):
    demo_catalog(products=6)
    item = stocked_only_at("shop-harbour-street", units=4)
    before = admin_app.get(item.url)  # cached from here on
    assert _status(before) == "Only 4 left"
    assert "is-sold-out" not in _card(admin_app.get(item.category_url), item.product)["class"]

    # given: staff untick "ships online orders" on Harbour Street in the location form
    _untick(admin_app, item.shop, "ships_online_orders", django_capture_on_commit_callbacks)

    # then: the product page says it can only be picked up there, and can still be bought for that
    page = admin_app.get(item.url)
    assert _status(page) == "Pick up at Harbour Street shop only: cannot be delivered"
    assert "https://schema.org/InStoreOnly" in page.text  # what search engines are told too
    next(form for form in page.forms.values() if form.action.endswith("/cart/add/")).submit().follow()
    assert item.variant.sku in admin_app.get("/cart/").text
    # a collectable item can be bought: its card is in stock, and the "in stock" filter lists it
    assert "is-sold-out" not in _card(admin_app.get(item.category_url), item.product)["class"]
    assert _card(admin_app.get(item.category_url, {"in_stock": "1"}), item.product) is not None

    # given: the shop stops pick-ups too: its stock is for its counter only
    _untick(admin_app, item.shop, "pickup_allowed", django_capture_on_commit_callbacks)

    page = admin_app.get(item.url)
    assert _status(page) == "Out of stock"
    assert not [form for form in page.forms.values() if form.action.endswith("/cart/add/")]
    assert "In store only" in page.html.select_one(".location-list").get_text()
    assert "is-sold-out" in _card(admin_app.get(item.category_url), item.product)["class"]
    assert _card(admin_app.get(item.category_url, {"in_stock": "1"}), item.product) is None

    # and shipping again brings it back for delivery
    _untick(admin_app, item.shop, "ships_online_orders", django_capture_on_commit_callbacks)
    assert _status(admin_app.get(item.url)) == "Only 4 left"
    assert "is-sold-out" not in _card(admin_app.get(item.category_url), item.product)["class"]


def test_the_last_units_collected_at_a_shop_that_does_not_ship_sell_the_card_out(
    demo_catalog, django_app, django_capture_on_commit_callbacks
):
    demo_catalog(products=6)
    item = stocked_only_at("shop-harbour-street", units=2)
    Location.objects.filter(pk=item.shop.pk).update(ships_online_orders=False)
    listing_index.invalidate_categories()  # what saving the location in the admin does (see above)
    assert "is-sold-out" not in _card(django_app.get(item.category_url), item.product)["class"]  # collectable

    # a click-and-collect order takes the last two units at the shop
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        stock.reserve(requests=[stock.StockRequest(variant_id=item.variant.pk, quantity=2)],
                      location_ids=[item.shop.pk])

    assert "is-sold-out" in _card(django_app.get(item.category_url), item.product)["class"]
    assert _card(django_app.get(item.category_url, {"in_stock": "1"}), item.product) is None
