"""Storefront reads: what a shopper may see, facet counts, sort orders, the product page."""
from decimal import Decimal

import pytest
from django.http import Http404, QueryDict

from catalog import selectors
from catalog.forms import parse_listing_filters
from catalog.models import ProductImage
from catalog.selectors import Availability, ListingFilters

pytestmark = pytest.mark.django_db


def _titles(products) -> list[str]:
    return [product.title for product in products]


def _category_base(catalog, node_path: str):
    tree = selectors.category_tree()
    node = tree.by_path[node_path]
    return selectors.published_products().filter(category_id__in=tree.descendant_ids(node))


def _counts(facets, key: str) -> dict[str, int]:
    group = next((g for g in facets.groups if g.key == key), None)
    return {value.slug: value.count for value in group.values} if group else {}


# --- Home and the category tree -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["clothing", "clothing/jackets/rain", "caf\u00e9/cr\u00e8me", "a b/c?d#e"])
def test_a_category_links_where_reverse_says_whatever_the_script_prefix(path):
    from django.urls import reverse, set_script_prefix

    node = selectors.CategoryNode(id=1, name="x", slug=path.rsplit("/")[-1], parent_id=None, path=path, depth=0)
    for prefix in ("/", "/shop/"):
        set_script_prefix(prefix)
        try:
            assert node.get_absolute_url() == reverse("catalog:category", kwargs={"path": path})
        finally:
            set_script_prefix("/")
    set_script_prefix("/shop/")
    try:
        assert node.get_absolute_url().startswith("/shop/c/")
    finally:
        set_script_prefix("/")



def test_home_page_data_has_featured_new_arrivals_and_top_categories(storefront_catalog):
    data = selectors.home_page_data()

    assert _titles(data["featured"]) == ["Storm Shell", "Camp Lamp"]  # best-selling first; no draft
    assert _titles(data["new_arrivals"]) == ["Trail Tee", "Harbour Parka", "Storm Shell", "Camp Lamp"]
    assert [node.slug for node in data["top_categories"]] == ["clothing", "gear"]  # archive is inactive


def test_home_page_cards_carry_price_sale_and_stock(storefront_catalog):
    cards = {p.slug: p for p in selectors.home_page_data()["new_arrivals"]}

    assert cards["storm-shell"].price == Decimal("120.00")
    assert cards["storm-shell"].max_price == Decimal("130.00")
    assert cards["harbour-parka"].compare_at_price == Decimal("250.00")
    assert cards["trail-tee"].in_stock is False
    assert cards["camp-lamp"].in_stock is True
    # the staff's first picture first (a card shows no alt text: `pk` names it)
    assert cards["storm-shell"].ordered_images[0].pk == ProductImage.objects.get(alt_text="Storm Shell front").pk


def test_category_tree_paths_breadcrumbs_and_descendants(storefront_catalog):
    tree = selectors.category_tree()
    rain = tree.by_path["clothing/jackets/rain"]

    assert [node.slug for node in tree.ancestors(rain)] == ["clothing", "jackets", "rain"]
    clothing = tree.by_path["clothing"]
    assert set(tree.descendant_ids(clothing)) == {
        storefront_catalog.clothing.pk, storefront_catalog.jackets.pk,
        storefront_catalog.rain.pk, storefront_catalog.shirts.pk,
    }
    assert [child.slug for child in clothing.children] == ["jackets", "shirts"]  # by position


def test_inactive_category_and_its_subtree_are_not_found(storefront_catalog):
    from catalog.tests.factories import CategoryFactory

    CategoryFactory(parent=storefront_catalog.archive, slug="old", name="Old")

    for path in ("archive", "archive/old", "no-such-thing"):
        with pytest.raises(Http404):
            selectors.category_by_path(path)


def test_category_listing_includes_descendants_and_hides_drafts(storefront_catalog):
    base = _category_base(storefront_catalog, "clothing")

    assert set(_titles(base)) == {"Storm Shell", "Harbour Parka", "Trail Tee"}
    assert set(_titles(_category_base(storefront_catalog, "clothing/jackets"))) == {"Storm Shell", "Harbour Parka"}


# --- Facets --------------------------------------------------------------------------------------


def test_facet_counts_without_a_selection(storefront_catalog):
    result = selectors.facets(_category_base(storefront_catalog, "clothing"), ListingFilters())

    assert _counts(result, "brand") == {"northwind": 2, "summit": 1}
    assert _counts(result, "o_colour") == {"red": 2, "blue": 2}
    assert _counts(result, "o_size") == {"s": 1, "m": 2, "l": 1}
    assert _counts(result, "a_material") == {"wool": 2, "cotton": 1}
    assert result.in_stock_count == 2
    assert (result.price_min, result.price_max) == (Decimal("20.00"), Decimal("200.00"))
    assert [group.key for group in result.groups] == ["brand", "o_colour", "o_size", "a_material"]
    swatches = {v.slug: v.swatch for v in next(g for g in result.groups if g.key == "o_colour").values}
    assert swatches == {"red": "#b22222", "blue": "#1f4e79"}


def test_each_facet_ignores_its_own_selection(storefront_catalog):
    base = _category_base(storefront_catalog, "clothing")
    filters = ListingFilters(brands=["northwind"])

    result = selectors.facets(base, filters)

    # The brand facet still offers summit with its count; the others narrow to northwind.
    assert _counts(result, "brand") == {"northwind": 2, "summit": 1}
    assert [v.slug for v in result.groups[0].values if v.selected] == ["northwind"]
    assert _counts(result, "o_colour") == {"red": 2, "blue": 1}
    assert _counts(result, "o_size") == {"s": 1, "m": 2}
    assert _counts(result, "a_material") == {"wool": 1, "cotton": 1}
    assert result.in_stock_count == 1
    assert (result.price_min, result.price_max) == (Decimal("20.00"), Decimal("130.00"))


def test_option_facet_ignores_its_own_selection_but_narrows_the_others(storefront_catalog):
    base = _category_base(storefront_catalog, "clothing")

    result = selectors.facets(base, ListingFilters(options={"size": ["m"]}))

    assert _counts(result, "o_size") == {"s": 1, "m": 2, "l": 1}
    assert _counts(result, "brand") == {"northwind": 2}
    assert _counts(result, "a_material") == {"wool": 1, "cotton": 1}


def test_price_and_stock_facets_ignore_their_own_selection(storefront_catalog):
    base = _category_base(storefront_catalog, "clothing")

    priced = selectors.facets(base, ListingFilters(price_min=Decimal("100"), price_max=Decimal("150")))
    stocked = selectors.facets(base, ListingFilters(in_stock=True))

    assert (priced.price_min, priced.price_max) == (Decimal("20.00"), Decimal("200.00"))
    assert _counts(priced, "brand") == {"northwind": 1}
    assert stocked.in_stock_count == 2
    assert _counts(stocked, "brand") == {"northwind": 1, "summit": 1}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"Storm Shell", "Harbour Parka", "Trail Tee"}),
        ("brand=northwind", {"Storm Shell", "Trail Tee"}),
        ("brand=northwind&brand=summit", {"Storm Shell", "Harbour Parka", "Trail Tee"}),
        ("o_size=s", {"Storm Shell"}),
        ("o_size=s&o_size=l", {"Storm Shell", "Harbour Parka"}),
        ("o_colour=blue&o_size=l", {"Harbour Parka"}),
        ("a_material=cotton", {"Trail Tee"}),
        ("in_stock=1", {"Storm Shell", "Harbour Parka"}),
        ("price_min=100&price_max=150", {"Storm Shell"}),
        ("price_min=150", {"Harbour Parka"}),
        ("price_max=20", {"Trail Tee"}),
        ("price_min=150&price_max=100", {"Storm Shell"}),  # swapped bounds are put right
        ("brand=summit&in_stock=1&a_material=wool", {"Harbour Parka"}),
    ],
)
def test_filters_from_the_query_string(storefront_catalog, query, expected):
    filters, errors = parse_listing_filters(QueryDict(query))

    result = selectors.apply_filters(_category_base(storefront_catalog, "clothing"), filters)

    assert errors == []
    assert set(_titles(result)) == expected


def test_in_stock_ignores_reserved_units_and_inactive_locations(storefront_catalog):
    from catalog.models import Location, StockLevel

    base = _category_base(storefront_catalog, "clothing/jackets")
    StockLevel.objects.filter(variant__sku="PARKA-BLUE-L").update(reserved=2)  # all promised to orders
    Location.objects.filter(code="downtown").update(is_active=False)  # the shell's blue/s is only there

    in_stock = selectors.apply_filters(base, ListingFilters(in_stock=True))

    assert _titles(in_stock) == ["Storm Shell"]  # red/s in the warehouse is still there


# --- Sorting -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("relevance", ["Storm Shell", "Trail Tee", "Harbour Parka"]),  # featured, then best-selling
        ("price_asc", ["Trail Tee", "Storm Shell", "Harbour Parka"]),
        ("price_desc", ["Harbour Parka", "Storm Shell", "Trail Tee"]),
        ("newest", ["Trail Tee", "Harbour Parka", "Storm Shell"]),
        ("best_selling", ["Trail Tee", "Storm Shell", "Harbour Parka"]),
    ],
)
def test_sort_orders(storefront_catalog, sort, expected):
    listing = selectors.sorted_listing(_category_base(storefront_catalog, "clothing"), sort)

    assert _titles(listing) == expected


# --- Product page --------------------------------------------------------------------------------


def _picker(page) -> dict[str, dict[str, tuple[bool, bool]]]:
    """option slug -> value slug -> (selected, enabled)."""
    return {o.slug: {v.slug: (v.selected, v.enabled) for v in o.values} for o in page.picker}


def test_product_page_defaults_to_the_first_variant_in_stock(storefront_catalog):
    page = selectors.product_page(slug="storm-shell", selection={})

    assert page.selected_variant.sku == "SHELL-RED-S"
    assert [o.slug for o in page.picker] == ["colour", "size"]
    assert _picker(page) == {
        "colour": {"red": (True, True), "blue": (False, True)},
        # red/m exists but nothing is in stock; red/l does not exist at all
        "size": {"s": (True, True), "m": (False, False)},
    }
    assert [b.slug for b in page.breadcrumbs] == ["clothing", "jackets", "rain"]
    assert [a.value for a in page.attributes] == ["Wool"]


def test_product_page_disables_a_combination_that_does_not_exist(storefront_catalog):
    page = selectors.product_page(slug="storm-shell", selection={"colour": "blue", "size": "s"})

    assert page.selected_variant.sku == "SHELL-BLUE-S"
    # blue/m was never made
    assert _picker(page)["size"] == {"s": (True, True), "m": (False, False)}
    assert _picker(page)["colour"] == {"red": (False, True), "blue": (True, True)}
    # The chosen variant's own image comes first.
    assert page.images[0].alt_text == "Storm Shell blue"


def test_product_page_with_an_unmatched_selection_has_no_variant(storefront_catalog):
    page = selectors.product_page(slug="storm-shell", selection={"colour": "blue", "size": "m"})

    assert page.selected_variant is None
    # The pictures still follow the colour: blue/m was never made, but blue was chosen.
    assert page.images[0].alt_text == "Storm Shell blue"


def test_product_page_pictures_follow_the_colour_then_the_whole_product(storefront_catalog):
    red = selectors.product_page(slug="storm-shell", selection={"colour": "red", "size": "m"})
    only_colour = selectors.product_page(slug="storm-shell", selection={"colour": "blue"})

    assert [image.alt_text for image in red.images] == ["Storm Shell front", "Storm Shell back", "Storm Shell blue"]
    # Only the colour chosen: the size is the first in stock in that colour.
    assert only_colour.selected_variant.sku == "SHELL-BLUE-S"
    assert only_colour.images[0].alt_text == "Storm Shell blue"


def test_product_page_ignores_unknown_selection_values(storefront_catalog):
    page = selectors.product_page(slug="storm-shell", selection={"colour": "<script>", "size": "xxl", "x": "y"})

    assert page.selected_variant.sku == "SHELL-RED-S"


@pytest.mark.parametrize(
    ("selection", "status", "available", "locations"),
    [
        ({"colour": "red", "size": "s"}, Availability.IN_STOCK, 10, {"Warehouse": (10, Availability.IN_STOCK)}),
        ({"colour": "blue", "size": "s"}, Availability.LOW, 3, {"Downtown shop": (3, Availability.LOW)}),
        ({"colour": "red", "size": "m"}, Availability.OUT, 0, {}),
    ],
)
def test_product_page_availability_by_location(storefront_catalog, selection, status, available, locations):
    page = selectors.product_page(slug="storm-shell", selection=selection)

    assert page.status == status
    assert page.available == available
    assert {e.location.name: (e.available, e.status) for e in page.locations} == locations


def test_product_page_availability_counts_reserved_units_as_gone(storefront_catalog):
    from catalog.models import StockLevel

    StockLevel.objects.filter(variant=storefront_catalog.shell_red_s).update(reserved=7)

    page = selectors.product_page(slug="storm-shell", selection={})

    assert (page.status, page.available) == (Availability.LOW, 3)


def test_product_page_of_a_product_without_options(storefront_catalog):
    page = selectors.product_page(slug="camp-lamp", selection={"colour": "red"})

    assert page.picker == []
    assert page.selected_variant.sku == "LAMP-1"
    assert page.status == Availability.IN_STOCK


@pytest.mark.parametrize("slug", ["secret-prototype", "attic-coat", "no-such-product"])
def test_product_page_of_an_unpublished_product_is_not_found(storefront_catalog, slug):
    with pytest.raises(Http404):
        selectors.product_page(slug=slug, selection={})


def test_related_products_come_from_the_same_category(storefront_catalog):
    from catalog.tests.factories import ProductFactory, VariantFactory

    sibling = ProductFactory(title="Storm Shell Lite", category=storefront_catalog.rain)
    VariantFactory(product=sibling)

    page = selectors.product_page(slug="storm-shell", selection={})

    assert _titles(page.related) == ["Storm Shell Lite"]


def test_stock_totals(storefront_catalog):
    c = storefront_catalog

    totals = selectors.stock_totals([c.shell_red_s.pk, c.shell_blue_s.pk, c.shell_red_m.pk])

    assert totals == {c.shell_red_s.pk: 10, c.shell_blue_s.pk: 3, c.shell_red_m.pk: 0}  # every variant asked for
