"""Database constraints: what must never be false is refused by the database itself."""
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from catalog.models import Category, StockLevel, Variant

from .factories import CategoryFactory, LocationFactory, ProductFactory, StockLevelFactory, VariantFactory

pytestmark = pytest.mark.django_db


def _refused(write) -> None:
    """`write` raises IntegrityError, and the surrounding test transaction stays usable."""
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            write()


@pytest.mark.parametrize(
    "fields",
    [
        {"on_hand": -1, "reserved": 0},
        {"on_hand": 5, "reserved": -1},
        {"on_hand": 2, "reserved": 3},
    ],
    ids=["on_hand_negative", "reserved_negative", "reserved_above_on_hand"],
)
def test_stock_level_constraints_refuse_impossible_quantities(fields):
    variant = VariantFactory()
    location = LocationFactory()

    _refused(lambda: StockLevel.objects.create(variant=variant, location=location, **fields))

    assert not StockLevel.objects.filter(variant=variant).exists()


def test_stock_cannot_go_negative_through_an_f_expression_update():
    level = StockLevelFactory(on_hand=3, reserved=2)

    _refused(lambda: StockLevel.objects.filter(pk=level.pk).update(on_hand=F("on_hand") - 4))
    _refused(lambda: StockLevel.objects.filter(pk=level.pk).update(reserved=F("reserved") + 2))

    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (3, 2)


def test_stock_level_within_limits_is_accepted():
    level = StockLevelFactory(on_hand=4, reserved=4)

    assert level.available == 0


def test_one_stock_level_per_variant_and_location():
    level = StockLevelFactory()

    _refused(lambda: StockLevel.objects.create(variant=level.variant, location=level.location, on_hand=1))


def test_sku_is_unique():
    VariantFactory(sku="JKT-001")

    _refused(lambda: VariantFactory(sku="JKT-001"))

    assert Variant.objects.filter(sku="JKT-001").count() == 1


def test_category_slug_is_unique_among_siblings_only():
    clothing = CategoryFactory(slug="clothing")
    gear = CategoryFactory(slug="gear")
    CategoryFactory(parent=clothing, slug="sale")

    _refused(lambda: CategoryFactory(parent=clothing, slug="sale"))
    CategoryFactory(parent=gear, slug="sale")  # the same slug under another parent is fine

    assert Category.objects.filter(slug="sale").count() == 2


def test_root_category_slugs_are_unique():
    CategoryFactory(slug="clothing")

    # NULL parents are distinct to a plain unique constraint; the conditional one catches this.
    _refused(lambda: CategoryFactory(slug="clothing"))


@pytest.mark.parametrize("field", ["price", "compare_at_price"])
def test_variant_prices_cannot_be_negative(field):
    product = ProductFactory()
    fields = {"price": Decimal("10.00"), field: Decimal("-0.01")}

    _refused(lambda: Variant.objects.create(product=product, sku="NEG-1", **fields))


def test_variant_price_of_zero_is_allowed_and_on_sale_compares_prices():
    free = VariantFactory(price=Decimal("0.00"))
    discounted = VariantFactory(price=Decimal("30.00"), compare_at_price=Decimal("40.00"))
    marked_up = VariantFactory(price=Decimal("30.00"), compare_at_price=Decimal("20.00"))

    assert free.price == Decimal("0.00")
    assert discounted.on_sale is True
    assert marked_up.on_sale is False
    assert free.on_sale is False


def test_description_is_sanitised_when_saved():
    product = ProductFactory(
        description='<p onclick="x()">Warm</p><script>alert(1)</script><a href="javascript:alert(2)">x</a>'
    )

    product.refresh_from_db()
    assert "<script" not in product.description
    assert "onclick" not in product.description
    assert "javascript:" not in product.description
    assert "<p>Warm</p>" in product.description
