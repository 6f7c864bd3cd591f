"""The listing index gives what the catalog tables give, and is never stale after a write.

`selectors.listing` (filter, count and sort from the index) is compared with the SQL reference
(`apply_filters`, `sorted_listing`, `facets` over the catalog tables) for many filter mixes; then
each kind of change, made the way the store makes it, shows in the next listing at once.
"""
from decimal import Decimal

import pytest
from django.db import connection, transaction

from catalog import selectors, services, stock
from catalog import listing_index
from catalog.listing_index import invalidate_categories
from catalog.models import CategoryListingIndex, Location, Product, StockLevel
from catalog.selectors import ListingFilters
from catalog.tests import factories as f

pytestmark = pytest.mark.django_db


def _ids(node_slug: str) -> list[int]:
    tree = selectors.category_tree()
    return tree.descendant_ids(tree.by_path[node_slug])


def _reference(category_ids: list[int], filters: ListingFilters):
    base = selectors.published_products().filter(category_id__in=category_ids)
    ids = list(selectors.sorted_listing(selectors.apply_filters(base, filters), filters.sort).values_list("pk", flat=True))
    return ids, selectors.facets(base, filters)


def _facet_tuples(facets) -> tuple:
    groups = [(g.key, g.label, [(v.slug, v.label, v.count, v.selected, v.swatch) for v in g.values]) for g in facets.groups]
    low = None if facets.price_min is None else Decimal(facets.price_min)
    high = None if facets.price_max is None else Decimal(facets.price_max)
    return groups, low, high, facets.in_stock_count


FILTERS = [
    ListingFilters(),
    ListingFilters(sort="price_asc"),
    ListingFilters(sort="price_desc"),
    ListingFilters(sort="newest"),
    ListingFilters(sort="best_selling"),
    ListingFilters(brands=["northwind"]),
    ListingFilters(brands=["northwind", "summit"], sort="price_asc"),
    ListingFilters(options={"colour": ["red"]}),
    ListingFilters(options={"colour": ["red", "blue"], "size": ["s"]}),
    ListingFilters(options={"size": ["l"]}, attributes={"material": ["wool"]}),
    ListingFilters(attributes={"material": ["cotton"]}),
    ListingFilters(in_stock=True),
    ListingFilters(in_stock=True, options={"colour": ["blue"]}),
    ListingFilters(price_min=Decimal("100"), price_max=Decimal("150")),
    ListingFilters(price_min=Decimal("125")),
    ListingFilters(price_max=Decimal("19.99")),
    ListingFilters(options={"colour": ["nonexistent"]}),
    ListingFilters(options={"nosuchoption": ["red"]}),
    ListingFilters(brands=["northwind"], options={"size": ["m"]}, in_stock=True, price_max=Decimal("500")),
]


@pytest.mark.parametrize("filters", FILTERS, ids=repr)
@pytest.mark.parametrize("category", ["clothing", "clothing/jackets", "gear"])
def test_listing_matches_the_catalog_tables(storefront_catalog, category, filters):
    # given the index built from scratch
    invalidate_categories()
    ids = _ids(category)

    # when
    found = selectors.listing(category_ids=ids, filters=filters)

    # then: the same products in the same order, and the same counts
    expected_ids, expected_facets = _reference(ids, filters)
    assert found.ids == expected_ids
    assert _facet_tuples(found.facets) == _facet_tuples(expected_facets)


def test_a_search_keeps_its_rank_order_and_counts_only_its_matches(storefront_catalog):
    products = [storefront_catalog.tee, storefront_catalog.draft, storefront_catalog.shell]
    ranked = [product.pk for product in products]

    found = selectors.listing(
        category_ids=sorted({product.category_id for product in products}), filters=ListingFilters(),
        ranked_ids=ranked,
    )

    assert found.ids == [storefront_catalog.tee.pk, storefront_catalog.shell.pk]  # the draft is not published
    brands = {v.slug: v.count for g in found.facets.groups if g.key == "brand" for v in g.values}
    assert brands == {"northwind": 2}


def _listed(category: str = "clothing", **filters) -> list[int]:
    return selectors.listing(category_ids=_ids(category), filters=ListingFilters(**filters)).ids


def _in_stock_count(category: str = "clothing") -> int:
    return selectors.listing(category_ids=_ids(category), filters=ListingFilters()).facets.in_stock_count


def test_a_price_change_reorders_and_refilters_at_once(storefront_catalog):
    assert _listed(price_max=Decimal("50")) == [storefront_catalog.tee.pk]
    tee_variant = storefront_catalog.tee.variants.get()

    tee_variant.price = Decimal("500.00")
    tee_variant.save()

    assert _listed(price_max=Decimal("50")) == []
    assert _listed(sort="price_desc")[0] == storefront_catalog.tee.pk


def test_a_bulk_price_change_shows_at_once(storefront_catalog):
    _listed()  # the index is built

    services.change_prices_by_percentage(products=Product.objects.filter(pk=storefront_catalog.tee.pk), percentage=Decimal("1000"))

    assert storefront_catalog.tee.pk in _listed(price_min=Decimal("200"))


def test_selling_out_and_restocking_show_at_once(storefront_catalog):
    parka = storefront_catalog.parka
    assert parka.pk in _listed(in_stock=True)
    before = _in_stock_count()
    variant = parka.variants.get()

    # when the last units are reserved by an order
    with transaction.atomic():
        stock.reserve(requests=[stock.StockRequest(variant_id=variant.pk, quantity=2)])

    # then
    assert parka.pk not in _listed(in_stock=True)
    assert _in_stock_count() == before - 1

    # when staff restock it
    level = StockLevel.objects.get(variant=variant, location=storefront_catalog.warehouse)
    with transaction.atomic():
        stock.restock(stock_level_id=level.pk, quantity=5)

    assert parka.pk in _listed(in_stock=True)
    assert _in_stock_count() == before


def _stored(category) -> tuple[int, dict | None]:
    return CategoryListingIndex.objects.values_list("generation", "data").get(category=category)


def test_a_sale_leaves_the_index_alone_and_a_sell_out_flips_one_bit_in_place(storefront_catalog):
    parka, jackets = storefront_catalog.parka, storefront_catalog.parka.category
    _listed()  # the index is built
    level = StockLevel.objects.get(variant__product=parka, location=storefront_catalog.warehouse)
    StockLevel.objects.filter(pk=level.pk).update(on_hand=3)
    built = _stored(jackets)

    # when one unit sells and two are left: nothing the index holds changed
    with transaction.atomic():
        stock.reserve(requests=[stock.StockRequest(variant_id=level.variant_id, quantity=1)])
    assert _stored(jackets) == built

    # when the last two sell: the row is updated, not cleared, and equals a build from scratch
    with transaction.atomic():
        stock.reserve(requests=[stock.StockRequest(variant_id=level.variant_id, quantity=2)])
    generation, data = _stored(jackets)
    assert generation == built[0] + 1 and data is not None
    assert data == listing_index.build([jackets.pk])[jackets.pk]
    assert parka.pk not in _listed(in_stock=True)

    # and back in stock, the same
    with transaction.atomic():
        stock.restock(stock_level_id=level.pk, quantity=1)
    assert _stored(jackets)[1] == listing_index.build([jackets.pk])[jackets.pk]
    assert parka.pk in _listed(in_stock=True)


def test_a_variant_selling_out_while_another_is_left_rereads_the_product_under_the_lock(
    storefront_catalog, django_assert_num_queries, django_capture_on_commit_callbacks
):
    """A row-level flip (the shell's blue one sells out downtown; the red one is still in the
    warehouse) reads the product's stock again under the index lock, and changes nothing when the
    index already says what that read says: no write, no card or listing bump (issue 9)."""
    from catalog import versions

    from . import versioning

    shell, rain = storefront_catalog.shell, storefront_catalog.shell.category
    _listed()  # the index is built, the category tree cached
    built = _stored(rain)
    blue = StockLevel.objects.get(variant__sku="SHELL-BLUE-S")
    watched = versioning.read(versions.product_key(shell.pk), versions.card_key(shell.pk), versions.listing_key(rain.pk))

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        # lock, update, which stock rows flipped; then the index row locked and the product's
        # stock read again; nothing written, since the index already has it in stock
        with django_assert_num_queries(5):
            stock.reserve(requests=[stock.StockRequest(variant_id=blue.variant_id, quantity=3)])

    assert _stored(rain) == built
    assert shell.pk in _listed(in_stock=True)
    assert versioning.moved(watched) == {versions.product_key(shell.pk)}  # its page only


def test_a_wrong_in_stock_bit_is_set_right_by_the_next_row_that_flips(
    storefront_catalog, django_capture_on_commit_callbacks
):
    """What the race of issue 9 left behind (two orders selling out two variants at once, neither
    seeing the other's sale) is read again the next time a row of that product flips: the bit
    comes from the stock under the lock, not from what this sale changed, and the card and
    listings showing it are bumped."""
    from catalog import versions

    from . import versioning

    shell, rain = storefront_catalog.shell, storefront_catalog.shell.category
    _listed()
    generation, data = _stored(rain)
    position = listing_index.Part(data).ids.index(shell.pk)
    generation += 1  # every write to the index raises it (processes' decoded copies are checked against it)
    CategoryListingIndex.objects.filter(category=rain).update(
        data={**data, "stock": format(int(data["stock"], 16) & ~(1 << position), "x")}, generation=generation
    )  # the index says out of stock; the red one is in the warehouse
    assert shell.pk not in _listed(in_stock=True)
    watched = versioning.read(versions.card_key(shell.pk), versions.listing_key(rain.pk))

    # a sale leaving units on its row does not look (it changes no availability)
    blue = StockLevel.objects.get(variant__sku="SHELL-BLUE-S")
    with transaction.atomic():
        stock.reserve(requests=[stock.StockRequest(variant_id=blue.variant_id, quantity=1)])
    assert shell.pk not in _listed(in_stock=True)

    # the last blue units sell: the product did not change for this sale, but the fresh read does
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        stock.reserve(requests=[stock.StockRequest(variant_id=blue.variant_id, quantity=2)])

    assert shell.pk in _listed(in_stock=True)
    assert _stored(rain) == (generation + 1, listing_index.build([rain.pk])[rain.pk])
    assert versioning.moved(watched) == set(watched)


def test_a_sell_out_in_a_stale_category_moves_its_generation(storefront_catalog):
    """A reader building from before the sale must not store its build over it."""
    parka, jackets = storefront_catalog.parka, storefront_catalog.parka.category
    invalidate_categories([jackets.pk])
    generation_read = _stored(jackets)[0]

    with transaction.atomic():
        stock.reserve(requests=[stock.StockRequest(variant_id=parka.variants.get().pk, quantity=2)])

    assert _stored(jackets) == (generation_read + 1, None)


@pytest.mark.django_db(transaction=True)
def test_stale_rows_are_rebuilt_after_commit_in_the_background(storefront_catalog):
    # given every row built
    _listed("clothing"), _listed("gear")

    # when staff change a price (two saves in one transaction)
    with transaction.atomic():
        variant = storefront_catalog.tee.variants.get()
        variant.price = Decimal("31.00")
        variant.save()
        storefront_catalog.tee.save()
        # not before commit: a build there would hold uncommitted data
        assert _stored(storefront_catalog.shirts)[1] is None

    # then the task (eager here) built the row again, with the new price
    data = _stored(storefront_catalog.shirts)[1]
    assert data == listing_index.build([storefront_catalog.shirts.pk])[storefront_catalog.shirts.pk]
    assert not CategoryListingIndex.objects.filter(data__isnull=True).exists()
    assert listing_index.rebuild_stale() == []


def test_the_rebuild_is_queued_once_per_transaction(storefront_catalog):
    def queued() -> int:
        return sum(func is listing_index._enqueue_rebuild for _sids, func, _robust in connection.run_on_commit)

    with transaction.atomic():
        invalidate_categories([storefront_catalog.shirts.pk])
        invalidate_categories()
        storefront_catalog.tee.save()
        assert queued() == 1
        try:  # a change in a savepoint rolled back takes its own rebuild with it, not the others'
            with transaction.atomic():
                invalidate_categories()
                assert queued() == 1
                raise RuntimeError
        except RuntimeError:
            pass
        assert queued() == 1


def test_a_stock_level_edited_in_the_admin_shows_at_once(storefront_catalog):
    tee = storefront_catalog.tee
    assert tee.pk not in _listed(in_stock=True)

    level = StockLevel.objects.get(variant__product=tee)
    level.on_hand = 4
    level.save()

    assert tee.pk in _listed(in_stock=True)


def test_closing_a_location_takes_its_stock_out_at_once(storefront_catalog):
    assert storefront_catalog.parka.pk in _listed(in_stock=True)

    warehouse = Location.objects.get(code="warehouse")
    warehouse.is_active = False
    warehouse.save()

    # the parka was only there; the shell's blue one is still in the shop
    assert storefront_catalog.parka.pk not in _listed(in_stock=True)
    assert storefront_catalog.shell.pk in _listed(in_stock=True)


def test_publish_unpublish_and_new_products_show_at_once(storefront_catalog):
    draft = storefront_catalog.draft
    assert draft.pk not in _listed()

    services.publish_products(products=Product.objects.filter(pk=draft.pk))
    assert draft.pk in _listed()

    services.unpublish_products(products=Product.objects.filter(pk=draft.pk))
    assert draft.pk not in _listed()

    new = f.ProductFactory(title="New Tee", slug="new-tee", category=storefront_catalog.shirts)
    f.VariantFactory(product=new, sku="NEW-1", price=Decimal("9.00"))
    assert new.pk in _listed("clothing/shirts")


def test_moving_a_product_takes_it_out_of_the_old_category(storefront_catalog):
    tee = storefront_catalog.tee
    _listed("gear"), _listed("clothing")  # both built

    tee.category = storefront_catalog.gear
    tee.save()

    assert tee.pk not in _listed("clothing")
    assert tee.pk in _listed("gear")

    services.move_products_to_category(products=Product.objects.filter(pk=tee.pk), category=storefront_catalog.shirts)
    assert tee.pk in _listed("clothing") and tee.pk not in _listed("gear")


def test_options_and_attributes_added_show_in_the_counts(storefront_catalog):
    tee = storefront_catalog.tee
    assert tee.pk not in _listed(attributes={"material": ["wool"]})

    tee.attribute_values.add(storefront_catalog.wool)
    tee.variants.get().option_values.add(storefront_catalog.l)

    assert tee.pk in _listed(attributes={"material": ["wool"]})
    assert tee.pk in _listed(options={"size": ["l"]})


def test_a_build_from_before_a_change_is_not_stored(storefront_catalog):
    """A listing that read the generation before a change committed must not store its build."""
    ids = _ids("clothing/shirts")
    selectors.listing(category_ids=ids, filters=ListingFilters())
    row = CategoryListingIndex.objects.get(category=storefront_catalog.shirts)
    invalidate_categories([storefront_catalog.shirts.pk])
    generation_read = row.generation + 1

    # a change commits meanwhile
    invalidate_categories([storefront_catalog.shirts.pk])

    # the late build's conditional store then matches no row
    stored = CategoryListingIndex.objects.filter(
        category=storefront_catalog.shirts, generation=generation_read, data__isnull=True
    ).update(data={"stale": True})
    assert stored == 0
    assert CategoryListingIndex.objects.get(category=storefront_catalog.shirts).data is None


@pytest.mark.parametrize("sort", ["price_asc", "price_desc", "newest", "best_selling", "relevance"])
def test_a_product_without_a_price_sorts_as_in_sql(storefront_catalog, sort):
    # given: a published product whose only variant is inactive (no price), and ties on price
    unpriced = f.ProductFactory(title="Bare Hanger", slug="bare-hanger", category=storefront_catalog.shirts)
    f.VariantFactory(product=unpriced, price=Decimal("20.00"), is_active=False)
    twin = f.ProductFactory(title="Twin Tee", slug="twin-tee", category=storefront_catalog.shirts, is_featured=True)
    f.VariantFactory(product=twin, price=Decimal("20.00"))
    filters = ListingFilters(sort=sort)

    listed = selectors.listing(category_ids=_ids("clothing"), filters=filters).ids

    # then: the order of the SQL reference, except that a product without a price is listed last
    # either way when sorting by price (SQL puts NULL first or last depending on the database)
    reference = _reference(_ids("clothing"), filters)[0]
    if sort.startswith("price"):
        reference = [pk for pk in reference if pk != unpriced.pk] + [unpriced.pk]
    assert listed == reference


# --- A process keeps what it decoded while the row is unchanged --------------------------------


def _decodes(monkeypatch) -> list[int]:
    """Counts the rows this process decodes from now on."""
    decoded = []
    original = listing_index.Part.__init__

    def counting(self, data):
        decoded.append(1)
        original(self, data)

    monkeypatch.setattr(listing_index.Part, "__init__", counting)
    return decoded


def test_an_unchanged_row_is_neither_sent_nor_decoded_again(storefront_catalog, monkeypatch):
    first = _listed()
    decoded = _decodes(monkeypatch)
    jackets = storefront_catalog.parka.category

    assert _listed() == first
    assert decoded == []
    # the query asked for the data of no row this process already holds
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        _listed()
    [read] = [q["sql"] for q in queries.captured_queries if "catalog_categorylistingindex" in q["sql"]]
    assert "CASE WHEN" in read and str(jackets.pk) in read

    # a change raises the generation: that row (and only it) is read and decoded again
    variant = storefront_catalog.parka.variants.get()
    variant.price = Decimal("5000.00")
    variant.save()
    assert _listed(sort="price_desc")[0] == storefront_catalog.parka.pk
    assert len(decoded) == 1


def test_a_row_stored_again_at_a_generation_seen_before_is_not_mistaken_for_the_old_one(storefront_catalog):
    """A database restored or reset under a running process (or a rolled-back test) can hold a
    row at a generation this process saw, with other data: each stored build has its own stamp."""
    parka, jackets = storefront_catalog.parka, storefront_catalog.parka.category
    assert parka.pk in _listed()
    generation = _stored(jackets)[0]

    # the catalog changes behind the index's back, and the row is emptied at the same generation
    Product.objects.filter(pk=parka.pk).update(status=Product.Status.DRAFT)
    CategoryListingIndex.objects.filter(category=jackets).update(data=None)

    assert parka.pk not in _listed()
    assert _stored(jackets)[0] == generation
    assert parka.pk not in _listed()  # and the copy kept now is the new build's
