"""Catalog write services: bulk product changes, price changes and stock levels."""
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from catalog import listing_index, services, versions
from catalog.exceptions import NegativePrice, PriceTooLarge, StockBelowReserved, StockStillReserved
from catalog.models import Product, StockLevel
from catalog.services import StockChange
from catalog.tests import versioning

from .factories import CategoryFactory, LocationFactory, ProductFactory, StockLevelFactory, VariantFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]


def product_with_prices(*prices, **fields):
    product = ProductFactory(**fields)
    for price in prices:
        VariantFactory(product=product, price=Decimal(price))
    return product


def prices_of(product):
    return list(product.variants.order_by("pk").values_list("price", flat=True))


# --- Publish, unpublish, move -------------------------------------------------------------------


def test_publish_activates_drafts_with_an_active_variant_only(django_capture_on_commit_callbacks):
    ready = product_with_prices("10.00", status=Product.Status.DRAFT)
    empty = ProductFactory(status=Product.Status.DRAFT)
    inactive_only = ProductFactory(status=Product.Status.DRAFT)
    VariantFactory(product=inactive_only, is_active=False)
    already = product_with_prices("5.00", status=Product.Status.ACTIVE)
    keys = versioning.read(
        versions.product_key(ready.pk), versions.card_key(ready.pk), versions.listing_key(ready.category_id),
        versions.members_key(ready.category_id), versions.ASSORTMENT_KEY, versions.product_key(already.pk),
    )

    with django_capture_on_commit_callbacks(execute=True):
        count = services.publish_products(products=Product.objects.all())

    assert count == 1
    statuses = dict(Product.objects.values_list("pk", "status"))
    assert statuses == {ready.pk: "active", empty.pk: "draft", inactive_only.pk: "draft", already.pk: "active"}
    # QuerySet.update() skips signals; the service bumps what shows the product it published, only
    assert versioning.moved(keys) == set(keys) - {versions.product_key(already.pk)}


def test_unpublish_returns_products_to_draft(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # as if committed: new categories show
        first, second = ProductFactory(), ProductFactory()
        ProductFactory(status=Product.Status.DRAFT)
    keys = versioning.read(
        versions.product_key(first.pk), versions.card_key(second.pk), versions.listing_key(second.category_id),
        versions.members_key(first.category_id), versions.ASSORTMENT_KEY,
    )

    with django_capture_on_commit_callbacks(execute=True):
        count = services.unpublish_products(products=Product.objects.filter(pk__in=[first.pk, second.pk]))

    assert count == 2
    assert set(Product.objects.values_list("status", flat=True)) == {"draft"}
    assert versioning.moved(keys) == set(keys)


def test_move_products_to_category_accepts_an_annotated_ordered_queryset():
    target = CategoryFactory()
    products = [ProductFactory() for _ in range(3)]
    ProductFactory()  # not selected
    selection = (
        Product.objects.filter(pk__in=[p.pk for p in products]).annotate(n=Count("variants")).order_by("-title")
    )

    count = services.move_products_to_category(products=selection, category=target)

    assert count == 3
    assert Product.objects.filter(category=target).count() == 3


# --- Prices -------------------------------------------------------------------------------------


def test_price_change_applies_to_every_variant_and_rounds_half_up(django_capture_on_commit_callbacks):
    product = product_with_prices("19.99", "10.05", "100.00")
    other = product_with_prices("19.99")
    keys = versioning.read(
        versions.product_key(product.pk), versions.card_key(product.pk), versions.listing_key(product.category_id),
        versions.product_key(other.pk), versions.card_key(other.pk), versions.ASSORTMENT_KEY,
    )

    with django_capture_on_commit_callbacks(execute=True):
        count = services.change_prices_by_percentage(products=Product.objects.filter(pk=product.pk),
                                                     percentage=Decimal("10"))

    assert count == 3
    # 19.99 * 1.1 = 21.989 -> 21.99; 10.05 * 1.1 = 11.055 -> 11.06 (half up, exact decimals)
    assert prices_of(product) == [Decimal("21.99"), Decimal("11.06"), Decimal("110.00")]
    assert prices_of(other) == [Decimal("19.99")]
    assert versioning.moved(keys) == {
        versions.product_key(product.pk), versions.card_key(product.pk), versions.listing_key(product.category_id),
    }


def test_price_change_by_a_fraction_of_a_percent_downwards():
    product = product_with_prices("19.99", "0.01")

    services.change_prices_by_percentage(products=Product.objects.all(), percentage=Decimal("-5.5"))

    # 19.99 * 0.945 = 18.89055 -> 18.89; 0.01 * 0.945 = 0.00945 -> 0.01 (unchanged, not counted)
    assert prices_of(product) == [Decimal("18.89"), Decimal("0.01")]


def test_price_change_rounds_to_the_currency_minor_unit(settings):
    settings.STORE_CURRENCY = "JPY"
    product = product_with_prices("999", "1000")

    count = services.change_prices_by_percentage(products=Product.objects.all(), percentage=Decimal("5"))

    assert count == 2
    assert prices_of(product) == [Decimal("1049"), Decimal("1050")]  # 1048.95 -> 1049: no decimals in yen


def test_price_change_leaves_compare_at_prices_alone():
    variant = VariantFactory(price=Decimal("80.00"), compare_at_price=Decimal("100.00"))

    services.change_prices_by_percentage(products=Product.objects.all(), percentage=Decimal("-25"))

    variant.refresh_from_db()
    assert (variant.price, variant.compare_at_price) == (Decimal("60.00"), Decimal("100.00"))


def test_price_change_below_zero_is_refused_and_changes_nothing():
    product = product_with_prices("10.00", "0.00")

    with pytest.raises(NegativePrice) as refused:
        services.change_prices_by_percentage(products=Product.objects.all(), percentage=Decimal("-150"))

    assert prices_of(product) == [Decimal("10.00"), Decimal("0.00")]
    assert str(refused.value) == "Changing prices by -150% would make 1 price negative; nothing was changed."


def test_price_change_of_minus_hundred_percent_makes_prices_zero():
    product = product_with_prices("10.00")

    services.change_prices_by_percentage(products=Product.objects.all(), percentage=Decimal("-100"))

    assert prices_of(product) == [Decimal("0.00")]


def test_price_change_too_large_to_store_is_refused():
    product = product_with_prices("9999999999.00", "1.00")

    with pytest.raises(PriceTooLarge):
        services.change_prices_by_percentage(products=Product.objects.all(), percentage=Decimal("10"))

    assert prices_of(product) == [Decimal("9999999999.00"), Decimal("1.00")]


# --- Stock --------------------------------------------------------------------------------------


def test_set_stock_levels_creates_updates_and_removes_rows(django_capture_on_commit_callbacks):
    warehouse, shop = LocationFactory(code="warehouse"), LocationFactory(code="shop")
    variant = VariantFactory()
    kept = StockLevelFactory(variant=variant, location=warehouse, on_hand=5)
    other = VariantFactory()
    gone = StockLevelFactory(variant=other, location=warehouse, on_hand=0)
    untouched = StockLevelFactory(variant=other, location=shop, on_hand=4)
    # The listing index built, as a store's is: it knows both products are in stock.
    listing_index.load([variant.product.category_id, other.product.category_id])
    # `variant` stays available (5 -> 8 and 3); `other` too (its shop's 4 units stay), but its
    # removed row goes through the model's delete signal, which cannot tell and bumps its card too.
    keys = versioning.read(
        versions.product_key(variant.product_id), versions.product_key(other.product_id),
        versions.card_key(variant.product_id), versions.card_key(other.product_id),
    )

    with django_capture_on_commit_callbacks(execute=True):
        count = services.set_stock_levels(changes=[
            StockChange(variant_id=variant.pk, location_id=warehouse.pk, on_hand=8),
            StockChange(variant_id=variant.pk, location_id=shop.pk, on_hand=3),
            StockChange(variant_id=other.pk, location_id=warehouse.pk, remove=True),
            StockChange(variant_id=other.pk, location_id=shop.pk, on_hand=4),  # same as now: not counted
        ])

    assert count == 3
    kept.refresh_from_db()
    assert kept.on_hand == 8
    assert StockLevel.objects.get(variant=variant, location=shop).on_hand == 3
    assert not StockLevel.objects.filter(pk=gone.pk).exists()
    untouched.refresh_from_db()
    assert untouched.on_hand == 4
    assert versioning.moved(keys) == {
        versions.product_key(variant.product_id), versions.product_key(other.product_id),
        versions.card_key(other.product_id),
    }


def test_stock_never_drops_below_reserved_and_nothing_is_written():
    warehouse = LocationFactory(code="warehouse", name="Warehouse")
    first = StockLevelFactory(location=warehouse, on_hand=10)
    reserved = StockLevelFactory(variant__sku="JACKET-M", location=warehouse, on_hand=10, reserved=4)

    with pytest.raises(StockBelowReserved) as refused:
        services.set_stock_levels(changes=[
            StockChange(variant_id=first.variant_id, location_id=warehouse.pk, on_hand=1),
            StockChange(variant_id=reserved.variant_id, location_id=warehouse.pk, on_hand=3),
        ])

    assert "JACKET-M at Warehouse" in str(refused.value)
    first.refresh_from_db()
    reserved.refresh_from_db()
    assert (first.on_hand, reserved.on_hand, reserved.reserved) == (10, 10, 4)


def test_a_stock_row_with_reserved_units_cannot_be_removed():
    level = StockLevelFactory(on_hand=5, reserved=1)

    with pytest.raises(StockStillReserved):
        services.set_stock_levels(changes=[
            StockChange(variant_id=level.variant_id, location_id=level.location_id, remove=True)
        ])

    assert StockLevel.objects.filter(pk=level.pk).exists()


def test_negative_stock_is_a_programming_error():
    level = StockLevelFactory(on_hand=5)

    with pytest.raises(ValueError):
        services.set_stock_levels(changes=[
            StockChange(variant_id=level.variant_id, location_id=level.location_id, on_hand=-1)
        ])


def test_no_changes_is_no_work(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert services.set_stock_levels(changes=[]) == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_stock_writers_lock_in_pk_order_and_never_deadlock():
    """Two writers touching the same rows, listed in opposite orders, both finish."""
    location = LocationFactory(code="warehouse")
    levels = [StockLevelFactory(location=location, on_hand=10) for _ in range(6)]
    forward = [StockChange(variant_id=level.variant_id, location_id=location.pk, on_hand=20) for level in levels]
    backward = [StockChange(variant_id=level.variant_id, location_id=location.pk, on_hand=30)
                for level in reversed(levels)]

    with CaptureQueriesContext(connection) as queries:
        services.set_stock_levels(changes=backward)
    lock = next(query["sql"] for query in queries if "FOR UPDATE" in query["sql"])
    assert 'ORDER BY "catalog_stocklevel"."id" ASC' in lock

    barrier = threading.Barrier(2)
    failures = []

    def write(changes):
        try:
            barrier.wait(timeout=10)
            for _ in range(20):
                services.set_stock_levels(changes=changes)
        except Exception as error:  # a deadlock surfaces here as OperationalError
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(changes,)) for changes in (forward, backward)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not failures
    assert set(StockLevel.objects.values_list("on_hand", flat=True)) <= {20, 30}
    assert len(set(StockLevel.objects.values_list("on_hand", flat=True))) == 1
