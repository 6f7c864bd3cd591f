"""A search that finds nothing still offers a way on: "Did you mean", popular categories and products.

Runs on whichever database DATABASE_URL names.
"""
import re

import pytest
from django.core.cache import cache
from django.utils.text import slugify

from .factories import CategoryFactory, product_with_stock

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def catalog_without_korean():
    """Three categories whose products sold 30, 20 and 10 units, and one product no one bought."""
    tents = CategoryFactory(name="Tents", slug="tents")
    boots = CategoryFactory(name="Boots", slug="boots")
    mugs = CategoryFactory(name="Mugs", slug="mugs")
    for category, title, sold in [(boots, "Trail Boots", 20), (tents, "Dome Tent", 30), (mugs, "Enamel Mug", 10),
                                  (mugs, "Camp Mug", 0)]:
        product_with_stock(title=title, slug=slugify(title), category=category, units_sold=sold)


@pytest.mark.parametrize("query", ["재킷", "xylophone", "café"])
def test_a_search_that_finds_nothing_shows_popular_categories_and_products(
    client, catalog_without_korean, django_assert_max_num_queries, query
):
    cache.clear()
    # 14 on PostgreSQL for "xylophone": the tree, four prefix probes and two "did you mean" lookups
    # of the search words, the search and its fallback, the popular products' ids, cards and images
    # (a grid's ids are chosen apart from its cards: catalog/card_rows.py), the popular categories,
    # and the live promotions for the cards' sale labels (promotions/offers.py; cached after).
    with django_assert_max_num_queries(14):
        response = client.get("/search/", {"q": query})

    assert response.status_code == 200
    assert response.context["no_results"]
    assert [node.name for node in response.context["popular_categories"]] == ["Tents", "Boots", "Mugs"]
    assert [p.title for p in response.context["popular_products"]] == ["Dome Tent", "Trail Boots", "Enamel Mug",
                                                                      "Camp Mug"]
    html = response.content.decode()
    assert 'href="/c/tents/"' in html and 'href="/c/boots/"' in html
    assert "/p/dome-tent/" in html
    assert f"No results for “{query}”" in _text(response)


def test_the_no_results_fragment_keeps_the_listing_target(client, catalog_without_korean):
    response = client.get("/search/", {"q": "xylophone"}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="listing-results"')
    assert "/p/dome-tent/" in html


def test_a_likely_word_is_offered_as_did_you_mean(client, catalog_without_korean):
    response = client.get("/search/", {"q": "boats"})

    assert response.context["no_results"]
    assert response.context["suggestion"] == "boots"
    assert 'href="/search/?q=boots"' in response.content.decode()
    assert "Did you mean boots?" in _text(response).replace(" ?", "?")


def test_a_search_with_results_does_not_show_the_fallback(client, catalog_without_korean):
    response = client.get("/search/", {"q": "tent"})

    assert not response.context.get("no_results")
    assert "popular_products" not in response.context
    assert [p.title for p in response.context["products"]] == ["Dome Tent"]
