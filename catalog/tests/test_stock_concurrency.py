"""Concurrent buyers never oversell and never deadlock (catalog/stock.py).

Real threads, each with its own database connection, started together by a barrier; the data is
committed for real (`transaction=True`) so every thread sees it. PostgreSQL runs the row-lock
proofs (`postgres` marker). SQLite has no row locks: its IMMEDIATE transactions take the database's
write lock at BEGIN, so writers queue; the last-units test runs there too, unmarked, so the default
`make test` proves no oversell on the database a fresh clone uses.

Every thread closes its connection when it ends, and each test joins its threads with a timeout
and then asserts none is still running, so a hang fails the test instead of freezing the suite.
"""
import random
import sqlite3
import threading
import time
from collections import Counter
from contextlib import closing, contextmanager

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

from catalog import services, stock
from catalog.exceptions import OutOfStock
from catalog.models import Location, StockLevel
from catalog.services import StockChange
from catalog.stock import StockRequest

from .factories import LocationFactory, StockLevelFactory, VariantFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("stock_ledger_checked")]

JOIN_SECONDS = 60


def run_together(work, count, *, prepare=None):
    """Run `work(index)` in `count` threads released at once; return (results, seconds).

    A result is what `work` returned, or the exception it raised. Each thread runs `prepare()`
    first if given, then uses and closes its own connection; on PostgreSQL a lock wait is capped
    so a bug shows as an error, not a hang.
    """
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(index):
        ready = False
        try:
            if prepare:
                prepare()
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET lock_timeout = '20s'")
            ready = True
            barrier.wait(timeout=JOIN_SECONDS)
            results[index] = work(index)
        except BaseException as error:  # the test asserts on it
            results[index] = error
            if not ready:
                barrier.abort()  # the others would wait for this thread until the timeout
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,), name=f"buyer-{index}") for index in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    deadline = started + JOIN_SECONDS
    for thread in threads:
        thread.join(timeout=max(deadline - time.perf_counter(), 0))
    seconds = time.perf_counter() - started
    assert not [thread.name for thread in threads if thread.is_alive()], "threads still running: a hang"
    return results, seconds


@contextmanager
def sqlite_on_disk(path):
    """On SQLite, let the threads race on a file copy of the test database, then copy it back.

    The test database is in memory with a shared cache, where SQLite locks whole tables and fails
    at once ("database table is locked") instead of waiting. The store itself runs on a file in
    WAL mode with IMMEDIATE transactions and a busy timeout (settings), so the race runs on such a
    file, with the project's own connection options. Yields what each thread must run first
    (None on other databases).
    """
    if connection.vendor != "sqlite":
        yield None
        return
    connection.ensure_connection()
    with closing(sqlite3.connect(path)) as disk:
        connection.connection.backup(disk)
        disk.execute("PRAGMA journal_mode=WAL")

    def use_the_file():
        own = connections.create_connection(DEFAULT_DB_ALIAS)
        own.settings_dict = {**own.settings_dict, "NAME": str(path)}
        connections[DEFAULT_DB_ALIAS] = own  # for this thread only

    yield use_the_file
    with closing(sqlite3.connect(path)) as disk:
        disk.backup(connection.connection)


def unexpected(results, *allowed):
    return [result for result in results if isinstance(result, BaseException) and not isinstance(result, allowed)]


def buy(variant_id, quantity=1):
    with transaction.atomic():
        return stock.reserve(requests=[StockRequest(variant_id=variant_id, quantity=quantity)])


# --- The last five units ------------------------------------------------------------------------


def test_twenty_buyers_for_the_last_five_units(tmp_path):
    """20 buyers, one unit each, for the last 5 units of a variant (3 in a warehouse, 2 in a shop).

    Unmarked: it runs on whichever database is configured, PostgreSQL (row locks) or SQLite
    (IMMEDIATE transactions queue on the database's write lock).
    """
    variant = VariantFactory(sku="LAST-FIVE")
    warehouse = StockLevelFactory(variant=variant, location=LocationFactory(code="warehouse"), on_hand=3)
    shop = StockLevelFactory(
        variant=variant, location=LocationFactory(code="shop", kind=Location.Kind.SHOP, position=1), on_hand=2
    )

    with sqlite_on_disk(tmp_path / "race.sqlite3") as prepare:
        results, seconds = run_together(lambda index: buy(variant.pk), 20, prepare=prepare)

    assert unexpected(results, OutOfStock) == []
    successes = [result for result in results if isinstance(result, list)]
    refusals = [result for result in results if isinstance(result, OutOfStock)]
    assert (len(successes), len(refusals)) == (5, 15)
    assert Counter(allocation.stock_level_id for [allocation] in successes) == {warehouse.pk: 3, shop.pk: 2}
    assert all(allocation.quantity == 1 for [allocation] in successes)
    assert all("LAST-FIVE" in str(refusal) and refusal.shortages[0].available == 0 for refusal in refusals)
    assert set(StockLevel.objects.values_list("on_hand", "reserved")) == {(3, 3), (2, 2)}
    print(f"\n20 buyers for the last 5 units on {connection.vendor}: {seconds:.2f}s")


# --- Opposite order ---------------------------------------------------------------------------


@pytest.mark.postgres
def test_two_carts_with_two_variants_in_opposite_order_never_deadlock():
    """Each cart lists the shared variants the other way round, round after round.

    Rows locked in the order the carts list them would deadlock (PostgreSQL raises "deadlock
    detected" in one of the two); locked in primary-key order, every round finishes.
    """
    warehouse, shop = LocationFactory(code="warehouse"), LocationFactory(code="shop", position=1)
    jacket, lamp = VariantFactory(), VariantFactory()
    for variant in (jacket, lamp):
        for location in (warehouse, shop):
            StockLevelFactory(variant=variant, location=location, on_hand=1000)
    carts = [
        [StockRequest(variant_id=jacket.pk, quantity=1), StockRequest(variant_id=lamp.pk, quantity=1)],
        [StockRequest(variant_id=lamp.pk, quantity=1), StockRequest(variant_id=jacket.pk, quantity=1)],
    ]
    rounds = 40
    barrier = threading.Barrier(2)

    def shop_repeatedly(index):
        try:
            for _ in range(rounds):
                barrier.wait(timeout=JOIN_SECONDS)  # both carts check out at once, every round
                with transaction.atomic():
                    allocations = stock.reserve(requests=carts[index])
                with transaction.atomic():
                    stock.release(allocations=allocations)
        except BaseException:
            barrier.abort()  # the other cart stops waiting for a round that will not come
            raise
        return rounds

    results, seconds = run_together(shop_repeatedly, 2)

    assert unexpected(results) == []
    assert results == [rounds, rounds]
    assert set(StockLevel.objects.values_list("reserved", flat=True)) == {0}
    assert set(StockLevel.objects.values_list("on_hand", flat=True)) == {1000}
    print(f"\n2 carts x {rounds} rounds in opposite order: {seconds:.2f}s")


# --- Churn --------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_mixed_reserve_release_fulfil_restock_and_admin_edits_keep_stock_consistent():
    """Buyers reserve, then cancel or ship, and returns come back, while staff edit stock.

    Afterwards every row still has 0 <= reserved <= on_hand, nothing is left reserved, and on hand
    equals what was there plus what came back minus what shipped, to the unit. The staff member
    sets on hand at an inactive back room through `set_stock_levels`, which locks every row of
    those variants (the ones buyers use too) in pk order, so the two writers contend without the
    staff's numbers blurring the buyers' arithmetic.
    """
    warehouse = LocationFactory(code="warehouse")
    shop = LocationFactory(code="shop", kind=Location.Kind.SHOP, position=1)
    back_room = LocationFactory(code="back-room", is_active=False)
    variants = [VariantFactory() for _ in range(4)]
    scarce = variants[0]
    for variant in variants:
        for location in (warehouse, shop):
            StockLevelFactory(variant=variant, location=location, on_hand=2 if variant is scarce else 40)
        StockLevelFactory(variant=variant, location=back_room, on_hand=0)
    buyers, rounds = 6, 25

    def buyer(index):
        chance = random.Random(index)
        tally = Counter()
        for _ in range(rounds):
            cart = [
                StockRequest(variant_id=variant.pk, quantity=chance.randint(1, 3))
                for variant in chance.sample(variants, chance.randint(1, 3))
            ]
            try:
                with transaction.atomic():
                    allocations = stock.reserve(requests=cart)
            except OutOfStock:
                tally["out_of_stock"] += 1
                continue
            with transaction.atomic():
                if chance.random() < 0.5:
                    stock.release(allocations=allocations)
                    tally["released"] += 1
                    continue
                stock.fulfil(allocations=allocations)
                tally["shipped"] += sum(allocation.quantity for allocation in allocations)
            with transaction.atomic():  # one line comes back
                returned = allocations[-1]
                stock.restock(stock_level_id=returned.stock_level_id, quantity=returned.quantity)
                tally["returned"] += returned.quantity
        return tally

    def staff():
        chance = random.Random(-1)
        for count in range(1, rounds + 1):
            picked = chance.sample(variants, 3)
            services.set_stock_levels(changes=[
                StockChange(variant_id=variant.pk, location_id=back_room.pk, on_hand=count) for variant in picked
            ])
        return Counter(staff_edits=rounds)

    results, seconds = run_together(lambda index: staff() if index == buyers else buyer(index), buyers + 1)

    assert unexpected(results) == []
    total = sum(results, Counter())
    assert total["shipped"] and total["released"] and total["out_of_stock"], total  # every path ran
    rows = StockLevel.objects.exclude(location=back_room)
    assert all(on_hand >= reserved == 0 for on_hand, reserved in rows.values_list("on_hand", "reserved"))
    initial = 2 * (2 + 3 * 40)
    assert sum(rows.values_list("on_hand", flat=True)) == initial - total["shipped"] + total["returned"]
    print(f"\nchurn, {buyers} buyers and a staff member x {rounds} rounds: {dict(total)} in {seconds:.2f}s")


@pytest.mark.postgres
def test_two_returns_restocking_new_rows_in_opposite_order_never_deadlock():
    # restock_at inserts the stock rows a location lacks before it locks them. Each inserted row
    # is held until commit, so two restocks must insert in one global order too, or the first
    # holds A and waits for B while the second holds B and waits for A. A trigger that pauses
    # before each row is inserted makes the two statements overlap every time.
    location = LocationFactory(code="returns-desk")
    a, b = VariantFactory(), VariantFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_slow_insert() RETURNS trigger AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NEW; END; "
            "$$ LANGUAGE plpgsql"
        )
        cursor.execute(
            f"CREATE TRIGGER test_slow_insert BEFORE INSERT ON {StockLevel._meta.db_table} "
            "FOR EACH ROW EXECUTE FUNCTION test_slow_insert()"
        )
    try:
        def restock(index):
            first, second = (a, b) if index == 0 else (b, a)
            with transaction.atomic():
                return stock.restock_at(location_id=location.pk, quantities={first.pk: 1, second.pk: 1})

        results, _seconds = run_together(restock, 2)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER test_slow_insert ON {StockLevel._meta.db_table}")
            cursor.execute("DROP FUNCTION test_slow_insert()")

    assert unexpected(results) == [], results  # PostgreSQL raises "deadlock detected" otherwise
    assert sorted(StockLevel.objects.filter(location=location).values_list("on_hand", flat=True)) == [2, 2]


# --- The listing index's in-stock bit -------------------------------------------------------------


@pytest.mark.postgres
def test_two_orders_selling_out_two_variants_of_one_product_clear_its_in_stock_bit(monkeypatch):
    """The last unit of each of a product's two variants, sold at the same moment (issue 9).

    Each order's transaction updates its own variant's row, then reads the product's stock to see
    whether the product sold out. Under READ COMMITTED each sees the other variant still in stock
    (not committed yet), so without a fresh read after the listing index lock neither clears the
    bit, and the "in stock" filter lists a sold-out product until its category changes again. A
    barrier between the stock UPDATE and that read makes both orders update before either reads,
    every time.
    """
    from catalog import invalidation, listing_index, versions

    from . import versioning

    warehouse = LocationFactory(code="warehouse")
    red = VariantFactory(sku="TWO-RED")
    blue = VariantFactory(sku="TWO-BLUE", product=red.product)
    product = red.product
    for variant in (red, blue):
        StockLevelFactory(variant=variant, location=warehouse, on_hand=1)
    [data] = listing_index.load([product.category_id])  # the index built, the product in stock
    position = listing_index.Part(data).ids.index(product.pk)
    assert listing_index.Part(data).stock >> position & 1
    card = versioning.read(versions.card_key(product.pk), versions.listing_key(product.category_id))

    both_updated = threading.Barrier(2)
    rows_changed = invalidation.stock_rows_changed

    def after_both_updates(deltas):
        both_updated.wait(timeout=JOIN_SECONDS)
        return rows_changed(deltas)

    monkeypatch.setattr(invalidation, "stock_rows_changed", after_both_updates)
    results, _seconds = run_together(lambda index: buy((red, blue)[index].pk), 2)

    assert unexpected(results) == [], results
    assert set(StockLevel.objects.values_list("on_hand", "reserved")) == {(1, 1)}
    [data] = listing_index.load([product.category_id])
    assert not listing_index.Part(data).stock >> position & 1, "sold out, but the index says in stock"
    assert data == listing_index.build([product.category_id])[product.category_id]
    # and the cached card and listings that showed it in stock are thrown away
    assert versioning.moved(card) == set(card)


@pytest.mark.postgres
def test_a_staff_stock_edit_racing_a_sale_of_the_products_other_variant_bumps_its_card(monkeypatch):
    """Staff restock a product's sold-out variant while an order takes the last unit of the other.

    The staff edit locks only its own variant's rows. It used to decide whether the product sold
    out or came back from a read before its write and one after, neither under a lock shared with
    sales: here the sale commits between them, clearing the product's in-stock bit and bumping its
    card and listings (sold out, as committed then: a page rendered now shows it so). The edit
    then saw the product available before and after, bumped nothing but the product page, and the
    cached card and listings showed a product in stock as sold out. The edit pauses after its
    write until the sale has committed, every time.
    """
    from inventory import ledger

    from catalog import listing_index, versions

    from . import versioning

    warehouse = LocationFactory(code="warehouse")
    red = VariantFactory(sku="EDIT-RED")
    blue = VariantFactory(sku="EDIT-BLUE", product=red.product)
    product = red.product
    StockLevelFactory(variant=red, location=warehouse, on_hand=1)
    StockLevelFactory(variant=blue, location=warehouse, on_hand=0)
    listing_index.load([product.category_id])  # built: the product in stock

    written, sold = threading.Event(), threading.Event()
    record = ledger.record

    def record_then_wait_for_the_sale(**kwargs):
        result = record(**kwargs)
        if threading.current_thread().name == "staff":
            written.set()
            assert sold.wait(timeout=JOIN_SECONDS)
        return result

    monkeypatch.setattr(ledger, "record", record_then_wait_for_the_sale)
    outcome = []

    def staff():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '20s'")
            outcome.append(services.set_stock_levels(
                changes=[StockChange(variant_id=blue.pk, location_id=warehouse.pk, on_hand=5)]
            ))
        except BaseException as error:  # asserted below
            outcome.append(error)
        finally:
            connections.close_all()

    editor = threading.Thread(target=staff, name="staff")
    editor.start()
    try:
        assert written.wait(timeout=JOIN_SECONDS), outcome
        buy(red.pk)  # the last red unit, committed while the edit waits
        # What a page rendered now depends on: the product is sold out, as far as anyone can see.
        [data] = listing_index.load([product.category_id])
        part = listing_index.Part(data)
        assert not part.stock >> part.ids.index(product.pk) & 1
        shown = versioning.read(versions.card_key(product.pk), versions.listing_key(product.category_id))
    finally:
        sold.set()
        editor.join(timeout=JOIN_SECONDS)
    assert not editor.is_alive() and outcome == [1], outcome

    # Blue is back: in stock again, so every cached card and listing that showed it sold out goes.
    assert versioning.moved(shown) == set(shown)
    [data] = listing_index.load([product.category_id])
    assert data == listing_index.build([product.category_id])[product.category_id]
