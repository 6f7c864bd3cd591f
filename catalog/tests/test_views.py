"""Storefront pages over HTTP: status codes, links, data, query-string handling, SEO tags.

Assertions look at stable things (ids, form field names, links, context data), never at CSS
classes or layout, so they hold while the design changes.
"""
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import path

from conftest import html_tags
from shop import urls as shop_urls

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _product_links(response) -> list[str]:
    """Product URLs linked from the page, in page order, without repeats."""
    seen: list[str] = []
    for anchor in html_tags(response.content, "a"):
        href = anchor.get("href") or ""
        if href.startswith("/p/") and href not in seen:
            seen.append(href)
    return seen


def _listed(response) -> list[str]:
    return [product.slug for product in response.context["products"]]


def _template_names(response) -> set[str]:
    return {template.name for template in response.templates}


def _checked(response, name: str) -> set[str]:
    return {tag["value"] for tag in html_tags(response.content, "input", name=name) if "checked" in tag}


def _text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


# --- Home ----------------------------------------------------------------------------------------


def test_home_page(client, storefront_catalog):
    response = client.get("/")

    assert response.status_code == 200
    assert [p.slug for p in response.context["featured"]] == ["storm-shell", "camp-lamp"]
    assert [p.slug for p in response.context["new_arrivals"]][:2] == ["trail-tee", "harbour-parka"]
    links = _product_links(response)
    assert {"/p/storm-shell/", "/p/camp-lamp/", "/p/trail-tee/", "/p/harbour-parka/"} <= set(links)
    assert "/p/secret-prototype/" not in links and "/p/attic-coat/" not in links
    hrefs = {a.get("href") for a in html_tags(response.content, "a")}
    assert {"/c/clothing/", "/c/gear/"} <= hrefs
    assert "/c/archive/" not in hrefs
    assert "$120.00" in response.content.decode()


def test_home_page_of_an_empty_store(client, db):
    response = client.get("/")

    assert response.status_code == 200
    assert response.context["featured"] == []


# --- Category page -------------------------------------------------------------------------------


def test_category_page_lists_products_of_descendant_categories(client, storefront_catalog):
    response = client.get("/c/clothing/")

    assert response.status_code == 200
    assert set(_listed(response)) == {"storm-shell", "harbour-parka", "trail-tee"}
    assert set(_product_links(response)) == {"/p/storm-shell/", "/p/harbour-parka/", "/p/trail-tee/"}
    hrefs = {a.get("href") for a in html_tags(response.content, "a")}
    assert {"/c/clothing/jackets/", "/c/clothing/shirts/"} <= hrefs  # subcategories


def test_category_page_breadcrumbs(client, storefront_catalog):
    response = client.get("/c/clothing/jackets/rain/")

    assert response.status_code == 200
    assert [node.path for node in response.context["breadcrumbs"]] == [
        "clothing", "clothing/jackets", "clothing/jackets/rain"
    ]
    hrefs = {a.get("href") for a in html_tags(response.content, "a")}
    assert {"/", "/c/clothing/", "/c/clothing/jackets/"} <= hrefs
    assert _listed(response) == ["storm-shell"]


@pytest.mark.parametrize("url", ["/c/archive/", "/c/archive/old/", "/c/clothing/nothing-here/", "/c/%00/"])
def test_inactive_or_unknown_category_is_not_found(client, storefront_catalog, url):
    from catalog.tests.factories import CategoryFactory

    CategoryFactory(parent=storefront_catalog.archive, slug="old")

    assert client.get(url).status_code == 404


def test_filter_state_lives_in_the_url(client, storefront_catalog, monkeypatch):
    monkeypatch.setattr("catalog.views.PER_PAGE", 1)

    response = client.get("/c/clothing/?brand=northwind&o_size=m&sort=price_asc")

    assert response.status_code == 200
    assert _listed(response) == ["trail-tee"]  # page 1 of 2, cheapest first
    assert _checked(response, "brand") == {"northwind"}
    assert _checked(response, "o_size") == {"m"}
    assert _checked(response, "o_colour") == set()
    assert len(html_tags(response.content, "select", name="sort")) == 1
    assert [o["value"] for o in html_tags(response.content, "option") if "selected" in o] == ["price_asc"]
    # The link to the next page keeps every filter and the sort.
    next_links = [a["href"] for a in html_tags(response.content, "a") if "page=2" in (a.get("href") or "")]
    assert next_links
    query = parse_qs(urlsplit(next_links[0]).query)
    assert query == {"brand": ["northwind"], "o_size": ["m"], "sort": ["price_asc"], "page": ["2"]}
    # ... and following it gives the second product under the same filters.
    second = client.get("/c/clothing/" + "?" + urlsplit(next_links[0]).query)
    assert _listed(second) == ["storm-shell"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("price_asc", ["trail-tee", "storm-shell", "harbour-parka"]),
        ("price_desc", ["harbour-parka", "storm-shell", "trail-tee"]),
        ("newest", ["trail-tee", "harbour-parka", "storm-shell"]),
        ("best_selling", ["trail-tee", "storm-shell", "harbour-parka"]),
        ("relevance", ["storm-shell", "trail-tee", "harbour-parka"]),
    ],
)
def test_sort_orders_on_the_category_page(client, storefront_catalog, sort, expected):
    response = client.get(f"/c/clothing/?sort={sort}")

    assert _listed(response) == expected
    assert _product_links(response)[:3] == [f"/p/{slug}/" for slug in expected]


def test_facets_on_the_category_page_carry_counts(client, storefront_catalog):
    response = client.get("/c/clothing/?brand=northwind")

    groups = {g.key: {v.slug: v.count for v in g.values} for g in response.context["facets"].groups}
    assert groups["brand"] == {"northwind": 2, "summit": 1}
    assert groups["o_size"] == {"s": 1, "m": 2}
    # The brand facet still offers the other brand (it ignores its own selection), unchecked.
    assert {tag["value"] for tag in html_tags(response.content, "input", name="brand")} == {"northwind", "summit"}
    assert _checked(response, "brand") == {"northwind"}
    assert {tag["value"] for tag in html_tags(response.content, "input", name="o_size")} == {"s", "m"}


@pytest.mark.parametrize(
    ("page", "expected_number"),
    [("1", 1), ("2", 2), ("99", 2), ("0", 2), ("-1", 2), ("abc", 1), ("1e9", 1), ("", 1), ("9" * 40, 2)],
)
def test_pagination_handles_past_the_end_and_junk_page_numbers(client, storefront_catalog, monkeypatch, page,
                                                               expected_number):
    monkeypatch.setattr("catalog.views.PER_PAGE", 2)

    response = client.get("/c/clothing/", {"page": page, "sort": "price_asc"})

    assert response.status_code == 200
    assert response.context["page"].number == expected_number
    assert _listed(response) == (["trail-tee", "storm-shell"] if expected_number == 1 else ["harbour-parka"])


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"price_min": "abc"}, "not a number"),
        ({"price_max": "1,5"}, "not a number"),
        ({"price_min": "-5"}, "positive amount"),
        ({"price_max": "NaN"}, "positive amount"),
        ({"price_max": "Infinity"}, "positive amount"),
        ({"price_min": "1e999999"}, "positive amount"),
        ({"sort": "DROP TABLE"}, "Unknown sort order"),
        ({"brand": "<script>alert(1)</script>"}, "could not be read"),
        ({"o_size": ["m;--", "../../etc"]}, "could not be read"),
        ({"o_<b>": "m"}, "could not be read"),
        ({"a_material": "\x00"}, "could not be read"),
        ({"o_\x00": "m"}, "could not be read"),  # PostgreSQL refuses NUL in a query parameter
    ],
)
def test_bad_query_string_input_is_ignored_with_a_message(client, storefront_catalog, query, message):
    plain = _listed(client.get("/c/clothing/"))

    response = client.get("/c/clothing/", query)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert _listed(response) == plain
    assert response.context["filters"].active is False
    assert "<script>alert(1)" not in response.content.decode()


def test_a_valid_filter_next_to_a_bad_one_still_applies(client, storefront_catalog):
    response = client.get("/c/clothing/?brand=summit&price_min=abc")

    assert response.status_code == 200
    assert _listed(response) == ["harbour-parka"]
    assert "not a number" in response.content.decode()


# --- Product page --------------------------------------------------------------------------------


def _json_ld(response) -> list[dict]:
    blocks = re.findall(
        r'<script[^>]*type="application/ld\+json"[^>]*>(.*?)</script>', response.content.decode(), re.S
    )
    return [json.loads(block) for block in blocks]


def _meta(response, **attrs) -> str | None:
    tags = html_tags(response.content, "meta", **attrs)
    return tags[0].get("content") if tags else None


def test_product_page_shows_price_sku_availability_and_description(client, storefront_catalog):
    response = client.get("/p/storm-shell/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "$120.00" in body
    assert "SHELL-RED-S" in body
    assert re.search(r"in stock", _text(response), re.I)
    assert "<strong>waterproof</strong>" in body
    assert response.context["page"].selected_variant.sku == "SHELL-RED-S"
    hrefs = {a.get("href") for a in html_tags(response.content, "a")}
    assert {"/c/clothing/", "/c/clothing/jackets/", "/c/clothing/jackets/rain/"} <= hrefs  # breadcrumbs
    assert {img.get("alt") for img in html_tags(response.content, "img")} >= {
        "Storm Shell front", "Storm Shell back", "Storm Shell blue"
    }


def test_product_page_sale_price(client, storefront_catalog):
    response = client.get("/p/harbour-parka/")

    body = response.content.decode()
    assert "$200.00" in body and "$250.00" in body
    assert body.index("$200.00") < body.index("$250.00")  # the price paid first, then the former one
    assert response.context["page"].selected_variant.on_sale is True


def test_product_page_without_a_sale_shows_no_former_price(client, storefront_catalog):
    response = client.get("/p/camp-lamp/")

    assert "$35.00" in response.content.decode()
    assert response.context["page"].selected_variant.on_sale is False


@pytest.mark.parametrize(
    ("query", "sku", "availability"),
    [
        ("", "SHELL-RED-S", r"in stock"),
        ("?colour=blue&size=s", "SHELL-BLUE-S", r"only 3 left"),
        ("?colour=red&size=m", "SHELL-RED-M", r"out of stock"),
    ],
)
def test_product_page_variant_selection_and_availability(client, storefront_catalog, query, sku, availability):
    response = client.get(f"/p/storm-shell/{query}")

    assert response.status_code == 200
    assert response.context["page"].selected_variant.sku == sku
    assert sku in response.content.decode()
    assert re.search(availability, _text(response), re.I)


def test_product_page_availability_by_location_with_pick_up(client, storefront_catalog):
    response = client.get("/p/storm-shell/?colour=blue&size=s")

    text = _text(response)
    assert "Downtown shop" in text
    assert re.search(r"pick.?up", text, re.I)
    entries = response.context["page"].locations
    assert [(e.location.code, e.available, e.location.pickup_allowed) for e in entries] == [("downtown", 3, True)]


def test_variant_picker_links_only_to_available_combinations(client, storefront_catalog):
    response = client.get("/p/storm-shell/?colour=blue&size=s")

    picker = {o.slug: {v.slug: v.enabled for v in o.values} for o in response.context["page"].picker}
    assert picker == {"colour": {"red": True, "blue": True}, "size": {"s": True, "m": False}}
    hrefs = [a.get("href") or "" for a in html_tags(response.content, "a")]
    assert any(parse_qs(urlsplit(h).query) == {"colour": ["red"], "size": ["s"]} for h in hrefs)
    # blue/m does not exist: nothing links to it
    assert not any(parse_qs(urlsplit(h).query) == {"colour": ["blue"], "size": ["m"]} for h in hrefs)


def test_product_page_structured_data(client, storefront_catalog, settings):
    settings.SITE_URL = "https://shop.example.com"  # the public address, whatever host was asked

    response = client.get("/p/storm-shell/")

    [data] = [block for block in _json_ld(response) if block.get("@type") == "Product"]
    assert data["name"] == "Storm Shell"
    assert data["url"] == "https://shop.example.com/p/storm-shell/"
    assert data["brand"] == {"@type": "Brand", "name": "Northwind"}
    assert data["sku"] == "SHELL-RED-S" and data["gtin"] == "4006381333931"
    assert data["description"] == "A waterproof shell for wet days."
    assert len(data["image"]) == 3 and all(url.startswith("https://shop.example.com/") for url in data["image"])
    offers = data["offers"]
    assert offers["@type"] == "AggregateOffer"
    assert (offers["lowPrice"], offers["highPrice"], offers["priceCurrency"]) == ("120.00", "130.00", "USD")
    availability = {offer["sku"]: offer["availability"] for offer in offers["offers"]}
    assert availability == {
        "SHELL-RED-S": "https://schema.org/InStock",
        "SHELL-RED-M": "https://schema.org/OutOfStock",
        "SHELL-BLUE-S": "https://schema.org/InStock",
    }


def test_structured_data_of_a_single_variant_product_is_one_offer(client, storefront_catalog):
    response = client.get("/p/harbour-parka/")

    [data] = _json_ld(response)
    assert data["offers"]["@type"] == "Offer"
    assert data["offers"]["price"] == "200.00"
    assert data["offers"]["availability"] == "https://schema.org/InStock"


def test_structured_data_ignores_stock_at_inactive_locations(client, storefront_catalog):
    from catalog.models import Location

    Location.objects.filter(code="warehouse").update(is_active=False)

    response = client.get("/p/harbour-parka/")

    [data] = _json_ld(response)
    assert data["offers"]["availability"] == "https://schema.org/OutOfStock"
    assert re.search("out of stock", _text(response), re.I)  # and the page agrees


def test_structured_data_cannot_break_out_of_its_script_block(client, storefront_catalog):
    from catalog.models import Product

    title = 'Shell </script><script>alert("ld")</script> & <!-- "quoted"'
    Product.objects.filter(pk=storefront_catalog.shell.pk).update(title=title)

    response = client.get("/p/storm-shell/")

    body = response.content.decode()
    assert '<script>alert("ld")' not in body
    [data] = _json_ld(response)
    assert data["name"] == title


def test_product_page_canonical_url_meta_description_and_open_graph(client, storefront_catalog, settings):
    settings.SITE_URL = "https://shop.example.com"

    response = client.get("/p/storm-shell/?colour=blue&size=s")

    [canonical] = html_tags(response.content, "link", rel="canonical")
    assert canonical["href"] == "https://shop.example.com/p/storm-shell/"  # no variant query string
    assert _meta(response, name="description") == "A waterproof shell jacket for wet days."
    assert _meta(response, property="og:type") == "product"
    assert _meta(response, property="og:title") == "Storm Shell"
    assert _meta(response, property="og:url") == "https://shop.example.com/p/storm-shell/"
    assert _meta(response, property="og:description") == "A waterproof shell jacket for wet days."
    image = _meta(response, property="og:image")
    assert image.startswith("https://shop.example.com/media/products/") and image.endswith(".png")


def test_meta_description_falls_back_to_the_description_text(client, storefront_catalog):
    response = client.get("/p/harbour-parka/")

    assert _meta(response, name="description") == "A good product."
    assert _meta(response, property="og:image") is None  # no images, no broken og:image


@pytest.mark.parametrize("slug", ["secret-prototype", "attic-coat", "nope"])
def test_unpublished_product_is_not_found(client, storefront_catalog, slug):
    assert client.get(f"/p/{slug}/").status_code == 404


@pytest.mark.parametrize(
    "url", ["/p/storm-shell/", "/c/clothing/", "/c/clothing/?o_colour=blue", "/p/storm-shell/?colour=blue&size=s"]
)
def test_swatches_are_drawn_without_style_attributes(client, storefront_catalog, url):
    """A strict Content-Security-Policy refuses style attributes; a swatch's colour is an SVG fill."""
    content = client.get(url).content.decode()

    assert html_tags(content, "circle", fill="#1f4e79")  # blue
    assert html_tags(content, "circle", fill="#b22222")  # red
    assert "style=" not in content
    assert html_tags(client.get(url, **HTMX).content, "circle", fill="#1f4e79")


# --- htmx fragments ------------------------------------------------------------------------------


def test_htmx_category_request_gets_the_listing_fragment(client, storefront_catalog):
    response = client.get("/c/clothing/?brand=summit", **HTMX)

    assert response.status_code == 200
    assert "catalog/_listing_results.html" in _template_names(response)
    assert "base.html" not in _template_names(response)
    assert b"<html" not in response.content
    assert html_tags(response.content, "div", id="listing-results") or html_tags(
        response.content, "section", id="listing-results"
    )
    assert _product_links(response) == ["/p/harbour-parka/"]
    assert "HX-Request" in response["Vary"]


def test_htmx_product_request_gets_the_purchase_fragment(client, storefront_catalog):
    response = client.get("/p/storm-shell/?colour=blue&size=s", **HTMX)

    assert response.status_code == 200
    assert "catalog/_product_purchase.html" in _template_names(response)
    assert "base.html" not in _template_names(response)
    assert b"<html" not in response.content
    assert "SHELL-BLUE-S" in response.content.decode() and "$130.00" in response.content.decode()


def test_htmx_search_request_gets_the_listing_fragment(client, storefront_catalog):
    response = client.get("/search/?q=shell", **HTMX)

    assert "catalog/_listing_results.html" in _template_names(response)
    assert "base.html" not in _template_names(response)
    assert "/p/storm-shell/" in _product_links(response)


@pytest.mark.parametrize("url", ["/c/clothing/?brand=summit", "/p/storm-shell/?colour=blue&size=s", "/search/?q=shell"])
def test_htmx_history_restore_gets_the_whole_page(client, storefront_catalog, url):
    # After a fragment swap with hx-push-url, Back asks for the URL again with this header when
    # htmx's own history cache misses: the answer must be the full page, not the fragment.
    client.get(url, **HTMX)  # the fragment is cached first; the full page must not collide with it

    response = client.get(url, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)

    assert response.status_code == 200
    assert b"<html" in response.content


def test_search_suggestions(client, storefront_catalog):
    response = client.get("/search/suggest/?q=stor", **HTMX)

    assert response.status_code == 200
    assert "/p/storm-shell/" in _product_links(response)
    assert b"<html" not in response.content


def test_search_suggestions_need_two_characters(client, storefront_catalog):
    response = client.get("/search/suggest/?q=s", **HTMX)

    assert response.status_code == 200
    assert _product_links(response) == []


# --- Search page ---------------------------------------------------------------------------------


def test_search_finds_a_product_by_title_and_applies_facets(client, storefront_catalog):
    response = client.get("/search/?q=shell")

    assert response.status_code == 200
    assert "storm-shell" in _listed(response)
    assert "secret-prototype" not in _listed(response)
    filtered = client.get("/search/?q=shell&brand=summit")
    assert "storm-shell" not in _listed(filtered)


@pytest.mark.parametrize("q", ["", "   ", "x" * 10_000, "!!!???...", "%", "_", "' OR 1=1 --", "\x00", "<script>"])
def test_search_with_an_empty_or_absurd_query_is_calm(client, storefront_catalog, q):
    response = client.get("/search/", {"q": q})

    assert response.status_code == 200
    assert "<script>alert" not in response.content.decode()


# --- Sitemap, robots, errors ---------------------------------------------------------------------


def test_sitemap_lists_categories_and_products(client, storefront_catalog, settings):
    settings.SITE_URL = "https://shop.example.com"

    index = client.get("/sitemap.xml")

    assert index.status_code == 200
    sections = re.findall(r"<loc>(.*?)</loc>", index.content.decode())
    assert sections == ["https://shop.example.com/sitemap-categories.xml", "https://shop.example.com/sitemap-products.xml"]

    urls = set()
    for section in sections:
        response = client.get(urlsplit(section).path)
        assert response.status_code == 200
        urls |= set(re.findall(r"<loc>(.*?)</loc>", response.content.decode()))
    expected = {
        f"https://shop.example.com{path}" for path in (
            "/c/clothing/", "/c/clothing/jackets/", "/c/clothing/jackets/rain/", "/c/clothing/shirts/", "/c/gear/",
            "/p/storm-shell/", "/p/harbour-parka/", "/p/trail-tee/", "/p/camp-lamp/",
        )
    }
    assert urls == expected  # no draft, nothing from the inactive archive


def test_robots_txt(client, db, settings):
    settings.SITE_URL = "https://shop.example.com"

    response = client.get("/robots.txt")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    lines = response.content.decode().splitlines()
    assert "User-agent: *" in lines
    assert "Disallow: /search/" not in lines  # its noindex must be readable: shop/tests/test_robots.py
    assert "Sitemap: https://shop.example.com/sitemap.xml" in lines


def test_friendly_404(client, db):
    response = client.get("/p/there-is-no-such-product/")

    assert response.status_code == 404
    assert "404.html" in _template_names(response)
    assert html_tags(response.content, "input", name="q")  # a search box to carry on
    assert "/" in {a.get("href") for a in html_tags(response.content, "a")}


def _boom(request):
    raise RuntimeError("the database is on fire")


# The store's URLs plus one view that fails (test_500_page_renders points ROOT_URLCONF here).
urlpatterns = [path("boom/", _boom), *shop_urls.urlpatterns]


def test_500_page_renders(client, db, settings):
    settings.ROOT_URLCONF = __name__
    client.raise_request_exception = False

    response = client.get("/boom/")

    assert response.status_code == 500
    assert "500.html" in _template_names(response)
    body = response.content.decode()
    assert "the database is on fire" not in body  # no internals shown
    assert "/" in {a.get("href") for a in html_tags(body, "a")}
    assert "<title>" in body
