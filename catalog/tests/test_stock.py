"""Stock reservations (catalog/stock.py): reserve, release, fulfil, restock and the read helpers.

Runs on both databases. The concurrency proof is in test_stock_concurrency.py.
"""
import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from catalog import stock, versions
from catalog.exceptions import AllocationMismatch, OutOfStock
from catalog.models import Location, StockLevel
from catalog.stock import Allocation, StockRequest

from . import versioning
from .factories import LocationFactory, StockLevelFactory, VariantFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]


def levels(*stock_levels):
    """(on_hand, reserved) of each row, fresh from the database."""
    return [tuple(StockLevel.objects.values_list("on_hand", "reserved").get(pk=level.pk)) for level in stock_levels]


def reserve(**kwargs):
    with transaction.atomic():
        return stock.reserve(**kwargs)


@pytest.fixture
def places():
    """Two warehouses and two shops whose positions do not follow their kinds."""
    return {
        "shop": LocationFactory(code="shop", kind=Location.Kind.SHOP, pickup_allowed=True, position=0),
        "north": LocationFactory(code="north", position=2),
        "south": LocationFactory(code="south", position=1),
        "corner": LocationFactory(code="corner", kind=Location.Kind.SHOP, pickup_allowed=True, position=3),
    }


# --- reserve ------------------------------------------------------------------------------------


def test_reserve_takes_from_warehouses_first_then_shops_each_by_position(places):
    variant = VariantFactory()
    at = {code: StockLevelFactory(variant=variant, location=place, on_hand=3 if code == "south" else 2)
          for code, place in places.items()}
    StockLevel.objects.filter(pk=at["south"].pk).update(reserved=2)  # 1 available

    allocations = reserve(requests=[StockRequest(variant_id=variant.pk, quantity=4)])

    assert [(a.location_id, a.quantity) for a in allocations] == [
        (places["south"].pk, 1), (places["north"].pk, 2), (places["shop"].pk, 1)
    ]
    assert allocations[0] == Allocation(
        stock_level_id=at["south"].pk, variant_id=variant.pk, location_id=places["south"].pk, quantity=1
    )
    assert levels(at["south"], at["north"], at["shop"], at["corner"]) == [(3, 3), (2, 2), (2, 1), (2, 0)]


def test_reserve_follows_the_callers_location_preference(places):
    variant = VariantFactory()
    at = {code: StockLevelFactory(variant=variant, location=place, on_hand=2) for code, place in places.items()}

    allocations = reserve(
        requests=[StockRequest(variant_id=variant.pk, quantity=3)],
        location_ids=[places["corner"].pk, places["north"].pk],
    )

    assert [(a.stock_level_id, a.quantity) for a in allocations] == [(at["corner"].pk, 2), (at["north"].pk, 1)]
    assert levels(at["shop"], at["south"]) == [(2, 0), (2, 0)]


def test_requests_for_the_same_variant_are_added_up(places):
    variant, other = VariantFactory(), VariantFactory()
    level = StockLevelFactory(variant=variant, location=places["north"], on_hand=5)
    other_level = StockLevelFactory(variant=other, location=places["north"], on_hand=5)

    allocations = reserve(requests=[
        StockRequest(variant_id=variant.pk, quantity=2),
        StockRequest(variant_id=other.pk, quantity=1),
        StockRequest(variant_id=variant.pk, quantity=3),
    ])

    assert [(a.variant_id, a.quantity) for a in allocations] == [(variant.pk, 5), (other.pk, 1)]
    assert levels(level, other_level) == [(5, 5), (5, 1)]


def test_out_of_stock_names_every_short_variant_and_changes_nothing(places):
    partly = StockLevelFactory(variant__sku="SHELL-M", variant__product__title="Storm Shell",
                               location=places["north"], on_hand=3, reserved=1)
    fits = StockLevelFactory(location=places["north"], on_hand=9)
    nowhere = VariantFactory(sku="LAMP-1", product__title="Camp Lamp")  # no stock row at all

    with pytest.raises(OutOfStock) as refused:
        reserve(requests=[
            StockRequest(variant_id=partly.variant_id, quantity=3),
            StockRequest(variant_id=fits.variant_id, quantity=1),
            StockRequest(variant_id=nowhere.pk, quantity=1),
        ])

    shortages = refused.value.by_variant
    assert set(shortages) == {partly.variant_id, nowhere.pk}
    assert (shortages[partly.variant_id].requested, shortages[partly.variant_id].available) == (3, 2)
    assert (shortages[nowhere.pk].requested, shortages[nowhere.pk].available) == (1, 0)
    message = str(refused.value)
    assert "Storm Shell (SHELL-M): 3 wanted, 2 available" in message
    assert "Camp Lamp (LAMP-1): 1 wanted, 0 available" in message
    assert "nothing was reserved" in message
    assert levels(partly, fits) == [(3, 1), (9, 0)]


def test_inactive_locations_are_ignored(places):
    variant = VariantFactory()
    closed = LocationFactory(code="closed", is_active=False, position=0)
    StockLevelFactory(variant=variant, location=closed, on_hand=50)
    open_level = StockLevelFactory(variant=variant, location=places["shop"], on_hand=1)
    request = StockRequest(variant_id=variant.pk, quantity=2)

    with pytest.raises(OutOfStock) as refused:
        reserve(requests=[request])
    with pytest.raises(OutOfStock):
        reserve(requests=[request], location_ids=[closed.pk, places["shop"].pk])

    assert refused.value.shortages[0].available == 1
    assert stock.can_reserve(requests=[request]) == {variant.pk: 1}
    assert [a.stock_level_id for a in reserve(requests=[StockRequest(variant_id=variant.pk, quantity=1)])] == [
        open_level.pk
    ]


@pytest.mark.parametrize("quantity", [0, -1, 1.5, True, "2"])
def test_a_quantity_below_one_or_not_whole_is_refused(quantity):
    level = StockLevelFactory(on_hand=5)

    with pytest.raises(ValueError):
        reserve(requests=[StockRequest(variant_id=level.variant_id, quantity=quantity)])
    with pytest.raises(ValueError):
        Allocation(stock_level_id=level.pk, variant_id=level.variant_id, location_id=level.location_id, quantity=quantity)
    with pytest.raises(ValueError), transaction.atomic():
        stock.restock(stock_level_id=level.pk, quantity=quantity)

    assert levels(level) == [(5, 0)]


@pytest.fixture
def tree_cached():
    """As in a running store, the category tree is in the cache: what sells out finds its
    categories' ancestors there (without it, one more query: catalog/invalidation.py)."""
    from catalog.selectors import category_tree

    category_tree()


def test_nothing_requested_reserves_nothing_without_a_query(django_assert_num_queries):
    with transaction.atomic(), django_assert_num_queries(0):
        assert stock.reserve(requests=[]) == []


def test_reserving_costs_three_queries_and_six_on_a_sell_out_whatever_the_number_of_lines(
    places, tree_cached, django_assert_num_queries
):
    requests = []
    for _ in range(12):
        variant = VariantFactory()
        StockLevelFactory(variant=variant, location=places["north"], on_hand=2)
        StockLevelFactory(variant=variant, location=places["shop"], on_hand=1)
        requests.append(StockRequest(variant_id=variant.pk, quantity=1))

    with transaction.atomic():
        # lock, update, and whether a stock row sold out (for the storefront cache and the listing
        # index: catalog/invalidation.py); units left on every row leave the listing index alone
        with django_assert_num_queries(3):
            first = stock.reserve(requests=requests)
        # the last units: the listing index rows of their categories are locked, the products'
        # stock read again under that lock (a concurrent sale of another variant may have
        # committed meanwhile: issue 9), and the rows updated in place. One query more than before
        # the fix (5), only when a row sells out or comes back.
        with django_assert_num_queries(6):
            last = stock.reserve(requests=[StockRequest(variant_id=r.variant_id, quantity=2) for r in requests])
        # shipping leaves availability (and the listing index) as it was: lock, update, and the
        # ledger's one INSERT for every movement (inventory)
        with django_assert_num_queries(3):
            stock.fulfil(allocations=first + last)

    assert (len(first), len(last)) == (12, 24)
    assert set(StockLevel.objects.values_list("on_hand", "reserved")) == {(0, 0)}


def test_the_lock_query_orders_by_primary_key(places):
    level = StockLevelFactory(location=places["north"], on_hand=5)

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        stock.reserve(requests=[StockRequest(variant_id=level.variant_id, quantity=1)])

    lock = queries[0]["sql"]
    assert lock.startswith("SELECT") and 'ORDER BY "catalog_stocklevel"."id" ASC' in lock
    if connection.vendor == "postgresql":
        assert lock.endswith('FOR NO KEY UPDATE OF "catalog_stocklevel"')


# --- Transactions -------------------------------------------------------------------------------


WRITERS = {
    "reserve": lambda level: stock.reserve(requests=[StockRequest(variant_id=level.variant_id, quantity=1)]),
    "release": lambda level: stock.release(allocations=[allocation_of(level, 1)]),
    "fulfil": lambda level: stock.fulfil(allocations=[allocation_of(level, 1)]),
    "restock": lambda level: stock.restock(stock_level_id=level.pk, quantity=1),
}


def allocation_of(level, quantity):
    return Allocation(
        stock_level_id=level.pk, variant_id=level.variant_id, location_id=level.location_id, quantity=quantity
    )


@pytest.mark.parametrize("writer", WRITERS)
def test_every_writer_refuses_to_run_outside_a_transaction(writer):
    # The test's own wrapping transaction does not count: a caller that forgot one fails here too.
    level = StockLevelFactory(on_hand=5, reserved=2)

    with pytest.raises(TransactionManagementError, match=rf"catalog\.stock\.{writer}\(\) must run inside"):
        WRITERS[writer](level)

    assert levels(level) == [(5, 2)]


@pytest.mark.django_db(transaction=True)
def test_reserving_in_autocommit_mode_is_refused():
    level = StockLevelFactory(on_hand=5)
    assert not connection.in_atomic_block

    with pytest.raises(TransactionManagementError):
        stock.reserve(requests=[StockRequest(variant_id=level.variant_id, quantity=1)])

    assert levels(level) == [(5, 0)]


def test_a_reservation_rolls_back_with_the_callers_transaction():
    level = StockLevelFactory(on_hand=5)

    with pytest.raises(RuntimeError), transaction.atomic():
        stock.reserve(requests=[StockRequest(variant_id=level.variant_id, quantity=2)])
        raise RuntimeError("the order could not be saved")

    assert levels(level) == [(5, 0)]


# --- release, fulfil, restock -------------------------------------------------------------------


def test_release_gives_reserved_units_back(places):
    variant = VariantFactory()
    north = StockLevelFactory(variant=variant, location=places["north"], on_hand=2)
    shop = StockLevelFactory(variant=variant, location=places["shop"], on_hand=4, reserved=1)
    allocations = reserve(requests=[StockRequest(variant_id=variant.pk, quantity=4)])
    assert levels(north, shop) == [(2, 2), (4, 3)]

    with transaction.atomic():
        stock.release(allocations=allocations)

    assert levels(north, shop) == [(2, 0), (4, 1)]


def test_releasing_twice_is_refused_and_changes_nothing(places):
    level = StockLevelFactory(location=places["north"], on_hand=5, reserved=1)
    other = StockLevelFactory(location=places["north"], on_hand=5)
    allocations = reserve(requests=[
        StockRequest(variant_id=level.variant_id, quantity=2), StockRequest(variant_id=other.variant_id, quantity=1)
    ])
    with transaction.atomic():
        stock.release(allocations=allocations[1:])

    with pytest.raises(AllocationMismatch) as refused, transaction.atomic():
        stock.release(allocations=allocations)

    assert refused.value.stock_level_ids == (other.pk,)
    assert "holds 0 reserved units, not 1" in str(refused.value)
    assert levels(level, other) == [(5, 3), (5, 0)]


def test_an_allocation_must_match_its_stock_row(places):
    level = StockLevelFactory(location=places["north"], on_hand=5, reserved=3)
    wrong_variant = Allocation(
        stock_level_id=level.pk, variant_id=VariantFactory().pk, location_id=level.location_id, quantity=1
    )
    gone = Allocation(stock_level_id=level.pk + 1000, variant_id=level.variant_id, location_id=level.location_id,
                      quantity=1)

    for allocation, message in ((wrong_variant, "belongs to another variant"), (gone, "no longer exists")):
        with pytest.raises(AllocationMismatch, match=message), transaction.atomic():
            stock.fulfil(allocations=[allocation])

    assert levels(level) == [(5, 3)]


def test_fulfil_ships_reserved_units_in_part_or_in_full(places):
    variant = VariantFactory()
    north = StockLevelFactory(variant=variant, location=places["north"], on_hand=2)
    shop = StockLevelFactory(variant=variant, location=places["shop"], on_hand=6, reserved=1)
    first, second = reserve(requests=[StockRequest(variant_id=variant.pk, quantity=5)])

    with transaction.atomic():  # a partial shipment: the warehouse part, and one unit from the shop
        stock.fulfil(allocations=[first, allocation_of(shop, 1)])
    assert levels(north, shop) == [(0, 0), (5, 3)]

    with transaction.atomic():
        stock.fulfil(allocations=[allocation_of(shop, second.quantity - 1)])
    assert levels(north, shop) == [(0, 0), (3, 1)]


def test_restock_puts_units_back_on_the_shelf_even_at_an_inactive_location():
    level = StockLevelFactory(location__is_active=False, on_hand=1, reserved=1)

    with transaction.atomic():
        stock.restock(stock_level_id=level.pk, quantity=2)

    assert levels(level) == [(3, 1)]
    with pytest.raises(StockLevel.DoesNotExist), transaction.atomic():
        stock.restock(stock_level_id=level.pk + 1000, quantity=1)


def test_restock_at_raises_on_hand_creating_missing_rows_and_locks_once(places, tree_cached):
    kept, new = VariantFactory(), VariantFactory()
    level = StockLevelFactory(variant=kept, location=places["north"], on_hand=1, reserved=1)

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        ids = stock.restock_at(location_id=places["north"].pk, quantities={kept.pk: 2, new.pk: 3})

    created = StockLevel.objects.get(variant=new, location=places["north"])
    assert ids == {kept.pk: level.pk, new.pk: created.pk}
    assert levels(level, created) == [(3, 1), (3, 0)]
    locks = [q["sql"] for q in queries.captured_queries if "FOR" in q["sql"] or "catalog_stocklevel" in q["sql"]]
    # Location check, missing rows inserted, every row locked in one statement, one UPDATE, whether
    # a stock row came back (for the storefront cache), and, as the new one did, its category's
    # listing index row locked, the products' stock read again under that lock (issue 9: one
    # query more than before the fix) and the row updated in place; and the ledger's movements in
    # one INSERT (inventory).
    assert len(queries.captured_queries) - sum(q["sql"].startswith(("SAVEPOINT", "RELEASE")) for q in
                                               queries.captured_queries) == 9, locks


def test_restock_at_refuses_without_a_transaction_a_bad_quantity_or_an_inactive_location(places):
    variant = VariantFactory()
    closed = LocationFactory(code="closed", is_active=False)

    with pytest.raises(TransactionManagementError):
        stock.restock_at(location_id=places["north"].pk, quantities={variant.pk: 1})
    with pytest.raises(ValueError), transaction.atomic():
        stock.restock_at(location_id=places["north"].pk, quantities={variant.pk: 0})
    with pytest.raises(Location.DoesNotExist), transaction.atomic():
        stock.restock_at(location_id=closed.pk, quantities={variant.pk: 1})
    assert not StockLevel.objects.filter(variant=variant).exists()


# --- Reads --------------------------------------------------------------------------------------


def test_can_reserve_reports_available_units_per_variant(places, django_assert_num_queries):
    variant, empty = VariantFactory(), VariantFactory()
    StockLevelFactory(variant=variant, location=places["north"], on_hand=5, reserved=2)
    StockLevelFactory(variant=variant, location=places["shop"], on_hand=4)
    requests = [StockRequest(variant_id=variant.pk, quantity=9), StockRequest(variant_id=empty.pk, quantity=1)]

    with django_assert_num_queries(1):
        everywhere = stock.can_reserve(requests=requests)
    at_the_shop = stock.can_reserve(requests=requests, location_ids=[places["shop"].pk])

    assert everywhere == {variant.pk: 7, empty.pk: 0}
    assert at_the_shop == {variant.pk: 4, empty.pk: 0}


def test_locations_with_everything_lists_pickup_places_where_the_whole_order_fits(places):
    jacket, lamp = VariantFactory(), VariantFactory()
    far_shop = LocationFactory(code="far", kind=Location.Kind.SHOP, pickup_allowed=True, position=9)
    closed = LocationFactory(code="closed-shop", kind=Location.Kind.SHOP, pickup_allowed=True, is_active=False)
    for location in (places["corner"], far_shop, places["north"], closed):  # north: no pick-up
        StockLevelFactory(variant=jacket, location=location, on_hand=3)
        StockLevelFactory(variant=lamp, location=location, on_hand=1)
    StockLevelFactory(variant=jacket, location=places["shop"], on_hand=9)  # no lamp there
    StockLevel.objects.filter(variant=jacket, location=far_shop).update(reserved=1)  # 2 left, 3 wanted
    requests = [
        StockRequest(variant_id=jacket.pk, quantity=2),
        StockRequest(variant_id=lamp.pk, quantity=1),
        StockRequest(variant_id=jacket.pk, quantity=1),
    ]

    assert stock.locations_with_everything(requests=requests) == [places["corner"]]
    assert stock.locations_with_everything(requests=requests[:2]) == [places["corner"], far_shop]
    assert stock.locations_with_everything(requests=[]) == []


# --- The storefront shows the new availability --------------------------------------------------


def test_changes_bump_the_product_page_version_on_commit_only(django_capture_on_commit_callbacks):
    level = StockLevelFactory(on_hand=5)
    request = StockRequest(variant_id=level.variant_id, quantity=2)

    with django_capture_on_commit_callbacks() as refused, pytest.raises(OutOfStock), transaction.atomic():
        stock.reserve(requests=[StockRequest(variant_id=level.variant_id, quantity=6)])
    with django_capture_on_commit_callbacks() as reserved:
        allocations = reserve(requests=[request])

    assert (len(refused), len(reserved)) == (0, 1)
    product_id = level.variant.product_id
    for writer in (
        lambda: stock.release(allocations=allocations[:1]),
        lambda: stock.restock(stock_level_id=level.pk, quantity=1),
    ):
        before = versioning.read(versions.product_key(product_id), versions.VERSION_KEY)
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            writer()
        assert versioning.moved(before) == {versions.product_key(product_id)}


@pytest.mark.django_db(transaction=True)
def test_a_cached_product_page_shows_the_new_availability(client, storefront_catalog):
    first = client.get("/p/camp-lamp/")
    assert (first["X-Cache"], first.context["page"].status) == ("miss", "in_stock")
    assert client.get("/p/camp-lamp/")["X-Cache"] == "hit"
    lamp = StockLevel.objects.get(variant__sku="LAMP-1")

    allocations = reserve(requests=[StockRequest(variant_id=lamp.variant_id, quantity=5)])

    response = client.get("/p/camp-lamp/")
    assert response["X-Cache"] == "miss"
    assert response.context["page"].available == 3
    assert "Only 3 left" in response.content.decode()

    with transaction.atomic():
        stock.fulfil(allocations=allocations)
    assert StockLevel.objects.get(pk=lamp.pk).on_hand == 3
    # shipping takes the units from on hand and reserved alike: nothing a shopper sees changed
    assert client.get("/p/camp-lamp/")["X-Cache"] == "hit"


def test_reserve_counting_tells_what_is_left_everywhere_from_the_rows_it_locked(places, tree_cached):
    variant, other = VariantFactory(), VariantFactory()
    StockLevelFactory(variant=variant, location=places["north"], on_hand=4)
    StockLevelFactory(variant=variant, location=places["shop"], on_hand=3)
    StockLevelFactory(variant=other, location=places["south"], on_hand=2)

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        reservation = stock.reserve_counting(requests=[StockRequest(variant_id=variant.pk, quantity=5),
                                                       StockRequest(variant_id=other.pk, quantity=2)])
    assert reservation.available_after == {variant.pk: 2, other.pk: 0}
    assert stock.can_reserve(requests=[StockRequest(variant_id=variant.pk, quantity=1)]) == {variant.pk: 2}
    # lock, update, which stock rows sold out, and as rows of both did, their categories' listing
    # index rows locked, the products' stock read again under that lock (issue 9: one query more
    # than before the fix) and the rows updated in place
    assert len([q for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]) == 6

    with transaction.atomic():
        pickup = stock.reserve_counting(requests=[StockRequest(variant_id=variant.pk, quantity=1)],
                                        location_ids=[places["shop"].pk])
    # Only the shop's rows were locked: the total elsewhere is not known, so it is not guessed.
    assert pickup.available_after is None
    assert [a.location_id for a in pickup.allocations] == [places["shop"].pk]
