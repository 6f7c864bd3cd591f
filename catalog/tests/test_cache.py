"""The storefront page cache: pages are reused, and a change is visible on the very next request.

These tests commit for real (`transactional_db`): invalidation runs on commit, so a test wrapped
in a rolled-back transaction would never see it.
"""
import re
from decimal import Decimal

import pytest

from catalog.cache import bump_catalog_version_on_commit
from catalog.models import Product, StockLevel, Variant

from conftest import html_tags

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = ["/", "/c/clothing/", "/c/clothing/?brand=northwind&sort=price_asc", "/p/storm-shell/", "/search/?q=shell"]


def _without_csrf_tokens(content: bytes) -> bytes:
    """The page minus its CSRF tokens, which differ per response by design (carts/tests/test_csrf_cache.py)."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", content)


@pytest.mark.parametrize("url", PAGES)
def test_a_page_is_served_from_the_cache_the_second_time(client, storefront_catalog, url, django_assert_num_queries):
    first = client.get(url)

    with django_assert_num_queries(0):
        second = client.get(url)

    assert (first.status_code, second.status_code) == (200, 200)
    assert (first["X-Cache"], second["X-Cache"]) == ("miss", "hit")
    assert _without_csrf_tokens(second.content) == _without_csrf_tokens(first.content)
    assert "Cookie" in second["Vary"] and "HX-Request" in second["Vary"]


def test_a_title_change_shows_on_the_next_request(client, storefront_catalog):
    for url in ("/", "/c/clothing/", "/p/storm-shell/"):
        assert re.search(r">\s*Storm Shell\s*<", client.get(url).content.decode()), url
    shell = Product.objects.get(slug="storm-shell")

    shell.title = "Tempest Shell"
    shell.save()

    for url in ("/", "/c/clothing/", "/p/storm-shell/"):
        response = client.get(url)
        assert response["X-Cache"] == "miss", url
        assert "Tempest Shell" in response.content.decode(), url
        assert not re.search(r">\s*Storm Shell\s*<", response.content.decode()), url  # (alt texts keep it)


def test_a_price_change_shows_on_the_next_request(client, storefront_catalog):
    assert "$20.00" in client.get("/c/clothing/").content.decode()
    assert "$20.00" in client.get("/p/trail-tee/").content.decode()
    tee = Variant.objects.get(sku="TEE-RED-M")

    tee.price = Decimal("17.50")
    tee.save(update_fields=["price"])

    for url in ("/c/clothing/", "/p/trail-tee/"):
        body = client.get(url).content.decode()
        assert "$17.50" in body and "$20.00" not in body, url


def test_a_stock_change_shows_on_the_next_request(client, storefront_catalog):
    assert client.get("/p/harbour-parka/").context["page"].status == "low"
    level = StockLevel.objects.get(variant__sku="PARKA-BLUE-L")

    level.on_hand = 0
    level.save(update_fields=["on_hand"])

    response = client.get("/p/harbour-parka/")
    assert response["X-Cache"] == "miss"
    assert response.context["page"].status == "out_of_stock"
    listing = client.get("/c/clothing/?in_stock=1")
    assert [p.slug for p in listing.context["products"]] == ["storm-shell"]


def test_a_bulk_update_that_bumps_the_version_shows_on_the_next_request(client, storefront_catalog):
    from django.db import transaction

    client.get("/p/camp-lamp/")

    with transaction.atomic():
        Variant.objects.filter(sku="LAMP-1").update(price=Decimal("31.00"))  # no signals fire
        bump_catalog_version_on_commit()

    assert "$31.00" in client.get("/p/camp-lamp/").content.decode()


def test_a_new_category_appears_in_the_navigation_at_once(client, storefront_catalog):
    from catalog.tests.factories import CategoryFactory

    client.get("/")

    CategoryFactory(name="Footwear", slug="footwear", position=5)

    hrefs = {a.get("href") for a in html_tags(client.get("/").content, "a")}
    assert "/c/footwear/" in hrefs


def test_a_visitor_with_a_session_is_served_the_shared_cache_privately(client, storefront_catalog):
    client.get("/p/camp-lamp/")

    # A visitor with a session (here one the store does not know) gets the shared copy too, with
    # their own bits filled in (catalog/tests/test_shared_page_personal.py), never for a proxy.
    client.cookies["sessionid"] = "a-session-of-their-own"
    response = client.get("/p/camp-lamp/")

    assert response["X-Cache"] == "hit"
    assert "$35.00" in response.content.decode()
    assert "private" in response["Cache-Control"]
    assert "Cookie" in response["Vary"]


def test_the_fragment_and_the_page_are_cached_apart(client, storefront_catalog):
    page = client.get("/p/storm-shell/")
    fragment = client.get("/p/storm-shell/", HTTP_HX_REQUEST="true")
    fragment_again = client.get("/p/storm-shell/", HTTP_HX_REQUEST="true")
    page_again = client.get("/p/storm-shell/")

    assert (page["X-Cache"], fragment["X-Cache"]) == ("miss", "miss")
    assert (fragment_again["X-Cache"], page_again["X-Cache"]) == ("hit", "hit")
    assert b"<html" in page_again.content
    assert b"<html" not in fragment_again.content


def test_every_host_names_the_one_canonical_url(client, storefront_catalog, settings):
    settings.ALLOWED_HOSTS = ["shop.example.com", "www.example.com"]
    settings.SITE_URL = "https://shop.example.com"

    client.get("/p/storm-shell/", HTTP_HOST="shop.example.com")
    response = client.get("/p/storm-shell/", HTTP_HOST="www.example.com")

    [canonical] = html_tags(response.content, "link", rel="canonical")
    assert canonical["href"] == "https://shop.example.com/p/storm-shell/"


def test_error_pages_are_not_cached(client, storefront_catalog):
    assert client.get("/p/not-yet/").status_code == 404
    from catalog.tests.factories import ProductFactory, VariantFactory

    VariantFactory(product=ProductFactory(slug="not-yet", category=storefront_catalog.gear))

    assert client.get("/p/not-yet/").status_code == 200


def test_a_page_rendered_while_the_catalog_changed_is_not_served_again(client, storefront_catalog, monkeypatch):
    # given a change committed while the page was being rendered (after the version was read)
    from catalog import selectors
    from catalog.cache import bump_catalog_version

    real_product_page = selectors.product_page

    def product_page_during_a_change(**kwargs):
        page = real_product_page(**kwargs)
        bump_catalog_version()
        return page

    monkeypatch.setattr(selectors, "product_page", product_page_during_a_change)
    assert client.get("/p/storm-shell/")["X-Cache"] == "miss"
    monkeypatch.setattr(selectors, "product_page", real_product_page)

    # then the entry stored under the older version is not reused
    assert client.get("/p/storm-shell/")["X-Cache"] == "miss"
    assert client.get("/p/storm-shell/")["X-Cache"] == "hit"


def test_a_cache_outage_after_commit_fails_nothing_and_later_callbacks_still_run(db, monkeypatch):
    from django.db import transaction

    from catalog import cache as catalog_cache

    def down():
        raise ConnectionError("cache unreachable")

    monkeypatch.setattr(catalog_cache, "bump_catalog_version", down)
    ran = []
    with transaction.atomic():
        catalog_cache.bump_catalog_version_on_commit()
        transaction.on_commit(lambda: ran.append("email"))

    assert ran == ["email"]
