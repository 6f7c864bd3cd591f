"""Every storefront page runs a fixed number of SQL queries, whatever the number of items on it.

Each page is measured cold (the cache is cleared first, so the work behind a cache miss is what
counts) on a small and on a large catalog: the counts must be equal, and within the page's budget.
"""
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Location, ProductImage
from catalog.tests import factories as f

from conftest import png_file

pytestmark = pytest.mark.django_db

# The most queries each page may take on a cache miss (docs/architecture.md says what they are).
# Measured: home 7 (tree, and for featured and new arrivals each: their ids, cards, images);
# product 11 (product, variants with their option values, stock, images, attributes: precompiled,
# catalog/product_rows.py; related ids + cards + images, tree, and the live promotions for its
# sale labels: promotions/labels.py, one query with none, two with some, none once cached; and
# the pick-up shops' addresses and hours: pickup/selectors.py `shop_directory`, one query when
# the cache is cold, shared by every page after).
# Choosing a grid's ids apart from its cards costs a query and lets the cards come from
# precompiled SQL (catalog/card_rows.py), ~2.5 ms of CPU less per grid.
# A category listing is 7 whatever its filters (tree, listing index, brand / option value /
# attribute value labels, page's cards + images), and 13 right after a change to one of its
# categories, when the listing index is rebuilt on the way (5 reads and one write, for any number
# of stale categories). Search is that plus the backend's own lookups (a known-word check and the
# ranking, which also names each match's category), which may still change (the categories are
# also what its cache entry is checked against: catalog/versions.py).
# Home, category and search pages take one query more for the sale labels on their cards: the live
# promotions (promotions/offers.py), shared by every page and cached, so none once cached; the
# product page already counted it (promotions/tests/test_card_labels.py: with promotions live).
BUDGET = {"home": 8, "category": 14, "category_filtered": 14, "product": 11, "search": 17}
FRESH_INDEX_BUDGET = {"category": 8, "category_filtered": 8}


def _build(count: int, *, variants_per_product: int = 2, images_per_product: int = 2) -> None:
    """`count` active products in tools/widgets, each with variants, stock at two places, images."""
    tools = f.CategoryFactory(name="Tools", slug="tools")
    widgets = f.CategoryFactory(name="Widgets", slug="widgets", parent=tools)
    brands = [f.BrandFactory(name=f"Maker {n}", slug=f"maker-{n}") for n in range(3)]
    size = f.OptionFactory(name="Size", slug="size")
    colour = f.OptionFactory(name="Colour", slug="colour", changes_look=True)
    sizes = [f.OptionValueFactory(option=size, slug=s, value=s.upper(), position=n) for n, s in enumerate("sml")]
    colours = [f.OptionValueFactory(option=colour, slug=c, value=c, swatch="#123456") for c in ("red", "blue")]
    material = f.AttributeFactory(name="Material", slug="material")
    materials = [f.AttributeValueFactory(attribute=material, slug=m, value=m) for m in ("wool", "steel")]
    warehouse = f.LocationFactory(code="warehouse")
    shop = f.LocationFactory(code="downtown", kind=Location.Kind.SHOP, pickup_allowed=True)
    for n in range(count):
        product = f.ProductFactory(
            title=f"Widget {n}", slug=f"widget-{n}", category=widgets, brand=brands[n % 3],
            is_featured=n % 2 == 0, description="<p>A sturdy widget.</p>",
        )
        product.attribute_values.add(materials[n % 2])
        for k in range(variants_per_product):
            variant = f.VariantFactory(
                product=product, sku=f"W{n}-{k}", price=Decimal(10 + n + k),
                compare_at_price=Decimal(20 + n) if k == 0 else None,
                option_values=[sizes[k % 3], colours[(k // 3) % 2]],
            )
            f.StockLevelFactory(variant=variant, location=warehouse, on_hand=(n + k) % 4)
            f.StockLevelFactory(variant=variant, location=shop, on_hand=2)
        for k in range(images_per_product):
            # The first picture is the whole product's, the others each show a colour.
            ProductImage.objects.create(
                product=product, image=png_file(f"w{n}-{k}.png"), alt_text=f"Widget {n}",
                option_value=colours[k % 2] if k else None,
            )


def _queries(client, url: str, **headers) -> tuple[int, object]:
    cache.clear()  # measure the uncached work
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    assert response.status_code == 200, url
    assert response.get("X-Cache") == "miss"
    return len(captured), response


def _same_count_for_small_and_large(client, django_assert_num_queries, url: str, budget: int, *, rebuild,
                                    expect_items) -> int:
    rebuild(10)
    small, response = _queries(client, url)
    expect_items(response, 10)
    assert small <= budget, f"{url}: {small} queries, budget {budget}"

    rebuild(50)
    cache.clear()
    with django_assert_num_queries(small):
        response = client.get(url)
    expect_items(response, 50)
    return small


@pytest.fixture
def rebuild(db):
    """Replace the catalog with one of `count` products."""
    from catalog.models import Attribute, Brand, Category, Option, Product, StockLevel

    def build(count: int, **kwargs) -> None:
        StockLevel.objects.all().delete()
        Product.objects.all().delete()
        Category.objects.filter(parent__isnull=False).delete()
        Category.objects.all().delete()
        for model in (Brand, Option, Attribute, Location):
            model.objects.all().delete()
        _build(count, **kwargs)

    return build


def test_home_page_query_budget(client, rebuild, django_assert_num_queries):
    def expect(response, count):
        assert len(response.context["new_arrivals"]) == 8

    _same_count_for_small_and_large(
        client, django_assert_num_queries, "/", BUDGET["home"], rebuild=rebuild, expect_items=expect
    )


@pytest.mark.parametrize(
    ("url", "budget", "listed"),
    [
        ("/c/tools/", "category", lambda n: n),
        ("/c/tools/widgets/?sort=price_desc", "category", lambda n: n),
        (
            "/c/tools/?brand=maker-0&brand=maker-1&o_size=s&a_material=wool&in_stock=1&price_min=1&price_max=500",
            "category_filtered",
            None,
        ),
        # Cards show a picture of the chosen colour: chosen from the images already loaded.
        ("/c/tools/?o_colour=red", "category_filtered", lambda n: n),
    ],
)
def test_category_page_query_budget(client, rebuild, django_assert_num_queries, monkeypatch, url, budget, listed):
    monkeypatch.setattr("catalog.views.PER_PAGE", 60)  # every product on one page

    def expect(response, count):
        products = list(response.context["products"])
        if listed:
            assert len(products) == listed(count)
        else:
            assert products  # the filters still match something

    _same_count_for_small_and_large(
        client, django_assert_num_queries, url, BUDGET[budget], rebuild=rebuild, expect_items=expect
    )

    # Cold again, the listing index now fresh: the usual cold miss.
    fresh, response = _queries(client, url)
    expect(response, 50)
    assert fresh <= FRESH_INDEX_BUDGET[budget], f"{url}: {fresh} queries with a fresh index"


def test_category_page_htmx_fragment_query_budget(client, rebuild, django_assert_max_num_queries, monkeypatch):
    monkeypatch.setattr("catalog.views.PER_PAGE", 60)
    rebuild(50)

    cache.clear()
    with django_assert_max_num_queries(BUDGET["category_filtered"]):
        response = client.get("/c/tools/?o_colour=red&in_stock=1", HTTP_HX_REQUEST="true")

    assert response.context["products"]


def test_product_page_query_budget_does_not_grow_with_variants_or_images(client, rebuild,
                                                                         django_assert_num_queries):
    rebuild(10, variants_per_product=1, images_per_product=1)
    one, response = _queries(client, "/p/widget-3/")
    assert len(response.context["page"].variants) == 1
    assert one <= BUDGET["product"]

    rebuild(50, variants_per_product=6, images_per_product=4)
    cache.clear()
    with django_assert_num_queries(one):
        response = client.get("/p/widget-3/?size=m&colour=red")

    page = response.context["page"]
    assert len(page.variants) == 6 and len(page.images) == 4 and len(page.related) == 4
    assert [o.slug for o in page.picker] == ["colour", "size"]


def test_product_page_htmx_fragment_query_budget(client, rebuild, django_assert_max_num_queries):
    rebuild(10, variants_per_product=6, images_per_product=3)

    cache.clear()
    with django_assert_max_num_queries(BUDGET["product"]):
        response = client.get("/p/widget-3/?size=l&colour=blue", HTTP_HX_REQUEST="true")

    assert response.status_code == 200


@pytest.mark.parametrize("query", ["widget", "widget&brand=maker-1&o_size=s&in_stock=1", "widget&sort=price_asc"])
def test_search_page_query_budget(client, rebuild, django_assert_num_queries, monkeypatch, query):
    monkeypatch.setattr("catalog.views.PER_PAGE", 60)

    def expect(response, count):
        assert response.context["products"]

    _same_count_for_small_and_large(
        client, django_assert_num_queries, f"/search/?q={query}", BUDGET["search"], rebuild=rebuild,
        expect_items=expect,
    )


def test_search_suggestions_query_budget(client, rebuild, django_assert_max_num_queries):
    rebuild(50)

    cache.clear()
    with django_assert_max_num_queries(4):
        response = client.get("/search/suggest/?q=widg", HTTP_HX_REQUEST="true")

    assert b"/p/widget-" in response.content


def test_a_visitor_with_a_session_costs_the_same_plus_the_session(client, rebuild, django_assert_max_num_queries,
                                                                  monkeypatch):
    monkeypatch.setattr("catalog.views.PER_PAGE", 60)
    rebuild(50)
    anonymous, _ = _queries(client, "/c/tools/")

    client.cookies["sessionid"] = "x" * 32
    cache.clear()
    with django_assert_max_num_queries(anonymous + 1):  # + reading the session row
        response = client.get("/c/tools/")

    assert len(response.context["products"]) == 50
