"""catalog.precompiled: a query compiled once reads exactly what the queryset reads, for any values."""
from decimal import Decimal

import pytest

from catalog import precompiled
from catalog.models import Product, Variant
from catalog.tests import factories as f

pytestmark = pytest.mark.django_db


def _variants(slug: str, ids: list[int], position: int):
    return (
        Variant.objects.filter(product__slug=slug, pk__in=ids, position__gte=position)
        .order_by("pk").values_list("pk", "sku", "price", "is_active", "product__title")
    )


def test_rows_equal_the_querysets_for_every_value_and_every_length():
    # given two products with variants at positions 0..2
    products = {name: f.ProductFactory(title=name.title(), slug=name) for name in ("tent", "stove")}
    variants = {
        (name, n): f.VariantFactory(product=product, sku=f"{name}-{n}", price=Decimal(f"{n}9.95"), position=n)
        for name, product in products.items() for n in range(3)
    }
    every_id = [variant.pk for variant in variants.values()]

    for slug, ids, position in [
        ("tent", every_id, 0), ("stove", every_id, 1), ("tent", every_id[:2], 0), ("stove", every_id[3:4], 2),
        ("tent", every_id[3:], 0),  # the tent's ids are not among these: nothing
        ("no-such-product", every_id, 0),
    ]:
        # when
        found = precompiled.rows("test:variants", _variants, slug, ids, position, model=Variant)
        # then: the same rows, converted as the ORM converts them (Decimal, bool)
        assert [tuple(row) for row in found] == list(_variants(slug, ids, position)), (slug, ids, position)
    found = precompiled.rows("test:variants", _variants, "tent", every_id, 0, model=Variant)
    assert [(row[2], row[3]) for row in found] == [(Decimal("9.95"), True), (Decimal("19.95"), True),
                                                   (Decimal("29.95"), True)]


def test_a_value_the_query_transforms_cannot_be_precompiled():
    f.ProductFactory(title="Rain jacket", slug="rain-jacket")

    def containing(word: str):
        return Product.objects.filter(title__icontains=word).values_list("pk")

    with pytest.raises(RuntimeError, match="not among its parameters"):
        precompiled.rows("test:containing", containing, "rain", model=Product)


def test_only_ints_strs_and_lists_of_ints():
    with pytest.raises(TypeError):
        precompiled.rows("test:decimal", lambda price: Variant.objects.filter(price=price).values_list("pk"),
                         Decimal("1.00"), model=Variant)


def test_an_empty_list_finds_nothing():
    f.VariantFactory()

    assert precompiled.rows("test:variants", _variants, "tent", [], 0, model=Variant) == []


def test_an_aware_datetime_is_a_parameter_as_the_orm_sends_it():
    # given products made a few seconds apart (SQLite compares datetimes as text, PostgreSQL as
    # timestamps: either way the precompiled query must answer as the queryset does)
    from datetime import timedelta

    from django.utils import timezone

    start = timezone.now().replace(microsecond=0)
    for n in range(4):
        product = f.ProductFactory(slug=f"p{n}")
        Product.objects.filter(pk=product.pk).update(created_at=start + timedelta(seconds=n, microseconds=n * 250_000))

    def created_after(moment):
        return Product.objects.filter(created_at__gt=moment).order_by("pk").values_list("slug")

    # when / then: whole seconds (written without microseconds on SQLite) and fractions alike
    for moment in (start, start + timedelta(seconds=1), start + timedelta(seconds=1, microseconds=250_000),
                   start + timedelta(seconds=2, microseconds=1), start - timedelta(days=1), start + timedelta(days=1)):
        found = precompiled.rows("test:created-after", created_after, moment, model=Product)
        assert [tuple(row) for row in found] == list(created_after(moment)), moment


def test_a_naive_datetime_is_refused():
    from datetime import datetime

    def created_after(moment):
        return Product.objects.filter(created_at__gt=moment).values_list("pk")

    with pytest.raises(TypeError, match="aware"):
        precompiled.rows("test:naive", created_after, datetime(2026, 1, 1), model=Product)
