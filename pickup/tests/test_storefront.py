"""The shops' address and opening hours on the product page (shared cache) and in checkout."""
from datetime import time

import pytest
from django.core.cache import cache

from checkout.tests.conftest import address, fill_cart, shipping  # noqa: F401  (a fixture)
from pickup.models import OpeningHours, PickupShop

pytestmark = pytest.mark.django_db


@pytest.fixture
def downtown_hours(storefront_catalog):
    shop = storefront_catalog.downtown
    shop.address_line1, shop.postal_code, shop.city, shop.country = "9 Harbour Road", "02110", "Boston", "US"
    shop.save()
    details = PickupShop.objects.create(location=shop, instructions="Bring the email and a photo ID.")
    OpeningHours.objects.create(shop=details, weekday=0, opens=time(9, 30), closes=time(18))
    return details


def test_the_product_page_shows_the_pickup_shops_address_and_hours(client, storefront_catalog, downtown_hours,
                                                                   django_assert_max_num_queries):
    cache.clear()
    with django_assert_max_num_queries(12):
        page = client.get("/p/storm-shell/?colour=blue&size=s").content.decode()

    assert "9 Harbour Road" in page and "02110 Boston" in page
    assert "<th scope=\"row\">Monday</th><td>09:30–18:00</td>" in page
    assert "<th scope=\"row\">Sunday</th><td>Closed</td>" in page


def test_hours_edited_in_the_back_office_reach_the_cached_product_page(client, storefront_catalog, downtown_hours,
                                                                       django_capture_on_commit_callbacks,
                                                                       django_assert_max_num_queries):
    client.get("/p/storm-shell/?colour=blue&size=s")
    with django_assert_max_num_queries(3):  # served from the shared page cache
        assert "09:30–18:00" in client.get("/p/storm-shell/?colour=blue&size=s").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        OpeningHours.objects.create(shop=downtown_hours, weekday=6, opens=time(11), closes=time(16))

    page = client.get("/p/storm-shell/?colour=blue&size=s").content.decode()
    assert "<th scope=\"row\">Sunday</th><td>11:00–16:00</td>" in page


def test_checkout_shows_the_shops_hours_and_what_to_bring(client, storefront_catalog, shipping, downtown_hours):
    fill_cart(client, ("SHELL-BLUE-S", 1))

    details = client.get("/checkout/").content.decode()
    assert "Pick up at Downtown shop" in details and "09:30–18:00" in details
    assert "Bring the email and a photo ID." in details

    response = client.post("/checkout/", address(delivery=f"pickup:{storefront_catalog.downtown.pk}"))
    assert response.status_code == 302
    review = client.get("/checkout/review/").content.decode()
    assert "9 Harbour Road" in review and "09:30–18:00" in review and "Bring the email and a photo ID." in review


def test_the_demo_store_shows_its_shops_hours_on_a_product_page(client, demo_catalog, django_assert_max_num_queries):
    from catalog.models import Product, StockLevel
    from pickup.demo import seed_demo_pickup_shops

    demo_catalog(products=2)
    assert seed_demo_pickup_shops() >= 1
    assert seed_demo_pickup_shops() == 0  # idempotent
    shop_stock = StockLevel.objects.filter(location__pickup_allowed=True).select_related("variant__product").first()
    product = shop_stock.variant.product if shop_stock else Product.objects.first()
    cache.clear()

    with django_assert_max_num_queries(12):
        page = client.get(f"/p/{product.slug}/").content.decode()

    assert "Address and opening hours" in page and "10:00–13:00, 14:00–18:00" in page
