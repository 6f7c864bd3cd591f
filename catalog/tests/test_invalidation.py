"""Invalidation as fine as the change: every kind of change shows on the next request, and a
stock change leaves the pages of unrelated products and categories in the cache.

Committed for real (`transactional_db`): versions are bumped on commit. "Stays cached" is proven
by the response (`X-Cache: hit`) and by the database not being asked anything for it.
"""
import re
from decimal import Decimal

import pytest
from django.db import transaction

from catalog import services, stock, versions
from catalog.models import Category, Product, ProductImage, StockLevel, Variant
from catalog.stock import StockRequest

from conftest import png_file

from .factories import ProductFactory, StockLevelFactory, VariantFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("stock_ledger_checked")]


def warm(client, *urls: str) -> None:
    """Render each page into the cache and check the next request is served from it."""
    for url in urls:
        assert client.get(url).status_code == 200, url
        assert client.get(url)["X-Cache"] == "hit", url


def assert_still_cached(client, django_assert_num_queries, *urls: str) -> None:
    for url in urls:
        with django_assert_num_queries(0):
            response = client.get(url)
        assert response["X-Cache"] == "hit", url


def body(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    assert response["X-Cache"] == "miss", url
    return response.content.decode()


def slugs(response) -> list[str]:
    """The products a listing shows, in order (from the HTML: a page from the cache has no context)."""
    return re.findall(r'<a href="/p/([^/]+)/[^"]*" class="product-card-link">', response.content.decode())


def sold_out_cards(html: str) -> int:
    return html.count("product-card is-sold-out")


def reserve(variant_sku: str, quantity: int):
    variant = Variant.objects.get(sku=variant_sku)
    with transaction.atomic():
        return stock.reserve(requests=[StockRequest(variant_id=variant.pk, quantity=quantity)])


UNRELATED_TO_THE_LAMP = [
    "/p/storm-shell/", "/p/harbour-parka/", "/c/clothing/", "/c/clothing/jackets/", "/search/?q=shell",
]


# --- Stock --------------------------------------------------------------------------------------


def test_a_sale_that_leaves_units_redraws_that_product_page_only(client, storefront_catalog, django_assert_num_queries):
    # given the lamp (8 in stock) on its page, its category, the home page and unrelated pages
    listings_with_the_lamp = ["/", "/c/gear/", "/search/?q=lamp"]
    warm(client, "/p/camp-lamp/", *listings_with_the_lamp, *UNRELATED_TO_THE_LAMP)

    # when one is sold
    reserve("LAMP-1", 1)

    # then its page shows what is left, and every other page (its card included: still in stock)
    # is served from the cache without a query
    response = client.get("/p/camp-lamp/")
    assert response["X-Cache"] == "miss"
    assert response.context["page"].available == 7
    assert_still_cached(client, django_assert_num_queries, *listings_with_the_lamp, *UNRELATED_TO_THE_LAMP)


def test_a_sale_that_sells_out_shows_everywhere_the_product_is_and_nowhere_else(
    client, storefront_catalog, django_assert_num_queries
):
    # given the parka (2 in stock, in clothing > jackets) and pages that do not show it
    showing_the_parka = ["/p/harbour-parka/", "/c/clothing/", "/c/clothing/jackets/", "/search/?q=parka"]
    in_stock_only = "/c/clothing/?in_stock=1"
    unrelated = ["/p/camp-lamp/", "/c/gear/", "/p/storm-shell/", "/c/clothing/jackets/rain/", "/search/?q=lamp"]
    warm(client, *showing_the_parka, in_stock_only, *unrelated)
    assert "harbour-parka" in slugs(client.get(in_stock_only))

    # when the last two are sold
    reserve("PARKA-BLUE-L", 2)

    # then its page, its cards and the listings it is in say so at once
    assert client.get("/p/harbour-parka/").context["page"].status == "out_of_stock"
    for url in showing_the_parka[1:]:
        html = body(client, url)
        card = re.search(r'<article class="product-card[^"]*">(?:(?!</article>).)*Harbour Parka', html, re.S)
        assert card and "is-sold-out" in card.group(0), url
    response = client.get(in_stock_only)
    assert response["X-Cache"] == "miss"
    assert slugs(response) == ["storm-shell"]  # the "in stock only" facet drops it
    # and the pages of other products and of categories it is not in stay cached
    assert_still_cached(client, django_assert_num_queries, *unrelated)


def test_back_in_stock_shows_in_filtered_listings_that_did_not_show_it(
    client, storefront_catalog, django_assert_num_queries
):
    # given the tee, out of stock, missing from "in stock only" listings
    in_stock_only = "/c/clothing/shirts/?in_stock=1"
    unrelated = ["/p/camp-lamp/", "/c/gear/", "/p/storm-shell/", "/c/clothing/jackets/"]
    warm(client, "/p/trail-tee/", in_stock_only, "/c/clothing/?in_stock=1", "/search/?q=tee&in_stock=1", *unrelated)
    assert slugs(client.get(in_stock_only)) == []
    tee = Variant.objects.get(sku="TEE-RED-M")

    # when returned units go back on the shelf
    with transaction.atomic():
        stock.restock_at(location_id=StockLevel.objects.get(variant=tee).location_id, quantities={tee.pk: 40})

    # then every listing that filters on stock shows it again, and its page sells it
    assert client.get("/p/trail-tee/").context["page"].status == "in_stock"
    for url in (in_stock_only, "/c/clothing/?in_stock=1", "/search/?q=tee&in_stock=1"):
        response = client.get(url)
        assert response["X-Cache"] == "miss", url
        assert "trail-tee" in slugs(response), url
    assert_still_cached(client, django_assert_num_queries, *unrelated)


def test_a_stock_count_typed_in_the_back_office_shows_at_once(client, storefront_catalog):
    warm(client, "/p/camp-lamp/", "/c/gear/")
    lamp = StockLevel.objects.get(variant__sku="LAMP-1")

    services.set_stock_levels(
        changes=[services.StockChange(variant_id=lamp.variant_id, location_id=lamp.location_id, on_hand=0)]
    )

    assert client.get("/p/camp-lamp/").context["page"].status == "out_of_stock"
    assert sold_out_cards(body(client, "/c/gear/")) == 1


# --- Prices -------------------------------------------------------------------------------------


def test_a_price_change_shows_on_the_page_the_cards_listings_and_searches(
    client, storefront_catalog, django_assert_num_queries
):
    showing_the_lamp = ["/p/camp-lamp/", "/", "/c/gear/", "/c/gear/?sort=price_desc", "/search/?q=lamp"]
    warm(client, *showing_the_lamp, "/p/storm-shell/", "/c/clothing/jackets/")

    services.change_prices_by_percentage(products=Product.objects.filter(slug="camp-lamp"), percentage=Decimal("-20"))

    for url in showing_the_lamp:
        html = body(client, url)
        assert "$28.00" in html and "$35.00" not in html, url
    assert_still_cached(client, django_assert_num_queries, "/p/storm-shell/", "/c/clothing/jackets/")


def test_a_price_saved_on_a_variant_reorders_the_price_sorted_listing(client, storefront_catalog):
    url = "/c/clothing/?sort=price_asc"
    warm(client, url)
    assert slugs(client.get(url)) == ["trail-tee", "storm-shell", "harbour-parka"]

    parka = Variant.objects.get(sku="PARKA-BLUE-L")
    parka.price = Decimal("10.00")
    parka.save(update_fields=["price"])

    assert slugs(client.get(url)) == ["harbour-parka", "trail-tee", "storm-shell"]


# --- Publishing and the assortment --------------------------------------------------------------


def test_publishing_shows_the_product_in_its_listings_searches_home_and_neighbours(client, storefront_catalog):
    pages = ["/", "/c/clothing/jackets/", "/search/?q=prototype", "/search/suggest/?q=prototype", "/p/harbour-parka/"]
    warm(client, *pages)
    assert client.get("/p/secret-prototype/").status_code == 404

    services.publish_products(products=Product.objects.filter(slug="secret-prototype"))

    for url in pages:
        assert "Secret Prototype" in body(client, url), url  # "more from this category" on the parka
    assert client.get("/p/secret-prototype/").status_code == 200


def test_unpublishing_takes_the_product_off_every_page(client, storefront_catalog):
    pages = ["/", "/c/clothing/", "/c/clothing/jackets/rain/", "/search/?q=shell", "/search/suggest/?q=storm"]
    warm(client, *pages, "/p/storm-shell/")

    services.unpublish_products(products=Product.objects.filter(slug="storm-shell"))

    for url in pages:
        assert not re.search(r">\s*Storm Shell\s*<", body(client, url)), url
    assert client.get("/p/storm-shell/").status_code == 404


def test_a_new_product_appears_in_its_category_its_neighbours_home_and_search(client, storefront_catalog):
    pages = ["/", "/c/gear/", "/p/camp-lamp/", "/search/?q=stove"]
    warm(client, *pages)

    with transaction.atomic():
        stove = ProductFactory(title="Trail Stove", slug="trail-stove", category=storefront_catalog.gear)
        StockLevelFactory(variant=VariantFactory(product=stove, price=Decimal("45.00")), on_hand=3)

    for url in pages:
        assert "Trail Stove" in body(client, url), url


def test_a_category_move_shows_in_both_categories_and_on_the_product_page(client, storefront_catalog):
    warm(client, "/c/gear/", "/c/clothing/", "/c/clothing/shirts/", "/p/camp-lamp/")

    services.move_products_to_category(
        products=Product.objects.filter(slug="camp-lamp"), category=Category.objects.get(slug="shirts")
    )

    assert "camp-lamp" not in slugs(client.get("/c/gear/"))
    assert "camp-lamp" in slugs(client.get("/c/clothing/"))
    assert "camp-lamp" in slugs(client.get("/c/clothing/shirts/"))
    breadcrumbs = [node.slug for node in client.get("/p/camp-lamp/").context["page"].breadcrumbs]
    assert breadcrumbs == ["clothing", "shirts"]


def test_a_category_saved_in_the_admin_moves_its_products_out_of_the_old_listings(client, storefront_catalog):
    warm(client, "/c/gear/", "/c/clothing/shirts/")
    lamp = Product.objects.get(slug="camp-lamp")

    lamp.category = Category.objects.get(slug="shirts")
    lamp.save()

    assert slugs(client.get("/c/gear/")) == []
    assert "camp-lamp" in slugs(client.get("/c/clothing/shirts/"))


# --- Pictures -----------------------------------------------------------------------------------


def test_a_new_picture_shows_on_the_page_and_the_cards(client, storefront_catalog, django_assert_num_queries):
    showing_the_lamp = ["/p/camp-lamp/", "/c/gear/", "/"]
    warm(client, *showing_the_lamp, "/c/clothing/jackets/")
    lamp = Product.objects.get(slug="camp-lamp")

    image = ProductImage.objects.create(product=lamp, image=png_file("lamp-lit.png"), alt_text="Lamp, lit")

    name = image.image.name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    for url in showing_the_lamp:
        assert name in body(client, url), url
    assert_still_cached(client, django_assert_num_queries, "/c/clothing/jackets/")


def test_a_picture_removed_leaves_the_page_and_the_cards(client, storefront_catalog):
    lamp = Product.objects.get(slug="camp-lamp")
    image = ProductImage.objects.create(product=lamp, image=png_file("lamp.png", colour=(1, 2, 3)), alt_text="Lamp")
    name = image.image.name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    warm(client, "/p/camp-lamp/", "/c/gear/")
    assert name in client.get("/c/gear/").content.decode()

    image.delete()

    for url in ("/p/camp-lamp/", "/c/gear/"):
        assert name not in body(client, url), url


# --- Robustness ---------------------------------------------------------------------------------


def test_a_page_rendered_while_a_product_changed_is_not_stored(client, storefront_catalog, monkeypatch):
    from catalog import selectors

    real = selectors.product_page

    def product_page_during_a_sale(**kwargs):
        page = real(**kwargs)
        versions.bump([versions.product_key(page.product.pk)])  # committed after we read it
        return page

    monkeypatch.setattr(selectors, "product_page", product_page_during_a_sale)
    assert client.get("/p/camp-lamp/")["X-Cache"] == "miss"
    monkeypatch.setattr(selectors, "product_page", real)

    assert client.get("/p/camp-lamp/")["X-Cache"] == "miss"
    assert client.get("/p/camp-lamp/")["X-Cache"] == "hit"


def test_a_cache_outage_at_commit_fails_no_sale_and_later_callbacks_still_run(storefront_catalog, monkeypatch):
    def down(keys):
        raise ConnectionError("cache unreachable")

    monkeypatch.setattr(versions, "bump", down)
    ran = []
    variant = Variant.objects.get(sku="LAMP-1")
    with transaction.atomic():
        stock.reserve(requests=[StockRequest(variant_id=variant.pk, quantity=1)])
        transaction.on_commit(lambda: ran.append("email"))

    assert ran == ["email"]
    assert StockLevel.objects.get(variant=variant).reserved == 1


def test_versions_lost_from_the_cache_never_bring_back_an_old_page(client, storefront_catalog):
    import hashlib

    from django.core.cache import cache

    # given a cached page whose versions are then evicted (the entry itself survives)
    warm(client, "/p/camp-lamp/")
    path_hash = hashlib.sha256(b"http://testserver/p/camp-lamp/").hexdigest()[:32]
    stamp = cache.get(f"catalog:page:en:page:{path_hash}")[0]
    keys, _values = stamp
    assert versions.product_key(Product.objects.get(slug="camp-lamp").pk) in keys
    cache.delete_many(keys)

    # then it is not served: the versions start again from values it was never stamped with
    assert client.get("/p/camp-lamp/")["X-Cache"] == "miss"
    assert client.get("/p/camp-lamp/")["X-Cache"] == "hit"
    assert not versions.is_current(stamp)
