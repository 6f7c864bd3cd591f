"""A page's cards by id, from two SQL statements compiled once per process (issue 9, "a cold page
is cheap").

A grid of 24 cards used to cost ~6 ms of CPU on a cold page (10,000 products, SQLite) for ~0.3 ms
of SQL: the ORM built and compiled the card query (three correlated subqueries and an EXISTS) and
its image prefetch on every request, then made three model instances per picture. The statements
are the same every time but for the ids, so `card_products` compiles them once per number of ids
(`catalog.precompiled`: placeholder ids swapped for the real ones at execution), converts the
columns as the ORM would (`get_converters`), and returns
plain objects with what a card shows (`cards.product_cards`, `pictures.pick_card_pictures` and
the card versions read these attributes, no more).

The queries are the ORM's own (`selectors.with_card_data`'s rules), so prices and stock read as
on any other page; only the compilation is cached.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

from django.core.files.storage import default_storage
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.urls import reverse

from . import precompiled
from .models import Product, ProductImage, Variant


@dataclass(slots=True)
class CardOptionValue:
    slug: str
    option: CardOption


@dataclass(slots=True)
class CardOption:
    slug: str


@dataclass(slots=True)
class CardBrand:
    name: str


class _File:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def url(self) -> str:
        return default_storage.url(self.name)


@dataclass(slots=True)
class CardImage:
    """The fields of a ProductImage a card reads (`cards.card_picture`, `pictures`)."""

    pk: int
    image: _File
    width: int | None
    height: int | None
    renditions: dict
    option_value_id: int | None
    option_value: CardOptionValue | None


@dataclass(slots=True)
class CardProduct:
    """The fields and annotations of `with_card_data` a card reads."""

    pk: int
    slug: str
    title: str
    category_id: int
    brand_id: int | None  # what a promotion's brand condition matches (promotions/labels.py)
    brand: CardBrand | None
    price: Decimal | None
    compare_at_price: Decimal | None
    max_price: Decimal | None
    in_stock: bool
    ordered_images: list[CardImage] = field(default_factory=list)
    # Set by `pictures.pick_card_pictures` in a listing; unset, a card shows the first picture.
    card_image: CardImage | None = field(init=False)
    card_query: str = field(init=False)
    # Set by `promotions.labels.attach_card_promotions` for a page of several grids; unset, the
    # grid prices its own cards.
    card_promotion: object = field(init=False)

    @property
    def id(self) -> int:
        return self.pk

    def get_absolute_url(self) -> str:
        return reverse("catalog:product", kwargs={"slug": self.slug})


def _products(ids: list[int]) -> QuerySet:
    cheapest = Variant.objects.filter(product=OuterRef("pk"), is_active=True).order_by("price", "pk")
    from .selectors import _available_stock

    return Product.objects.filter(pk__in=ids).order_by().values_list(
        "pk", "slug", "title", "category_id", "brand_id", "brand__name",
    ).annotate(
        price=Subquery(cheapest.values("price")[:1]),
        compare_at_price=Subquery(cheapest.values("compare_at_price")[:1]),
        max_price=Subquery(
            Variant.objects.filter(product=OuterRef("pk"), is_active=True).order_by("-price").values("price")[:1]
        ),
        in_stock=Exists(_available_stock()),
    )


def _images(ids: list[int]) -> QuerySet:
    return ProductImage.objects.filter(product_id__in=ids).order_by("position", "pk").values_list(
        "product_id", "pk", "image", "width", "height", "renditions", "option_value_id",
        "option_value__slug", "option_value__option__slug",
    )


def _rows(name: str, build: Callable[[list[int]], QuerySet], ids: list[int]) -> list:
    return precompiled.rows(f"card:{name}", build, ids, model=Product)


def card_products(ids: list[int]) -> list[CardProduct]:
    """What the cards of `ids` show, in that order (unknown ids are left out). Two queries."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    products: dict[int, CardProduct] = {}
    for pk, slug, title, category_id, brand_id, brand_name, price, compare_at, max_price, in_stock in _rows(
        "products", _products, ids
    ):
        products[pk] = CardProduct(
            pk=pk, slug=slug, title=title, category_id=category_id, brand_id=brand_id,
            brand=CardBrand(brand_name) if brand_name is not None else None,
            price=price, compare_at_price=compare_at, max_price=max_price, in_stock=bool(in_stock),
        )
    values: dict[int, CardOptionValue] = {}
    for product_id, pk, name, width, height, renditions, value_id, value_slug, option_slug in _rows(
        "images", _images, ids
    ):
        if isinstance(renditions, str):  # not every backend's converter decodes it
            renditions = json.loads(renditions)
        value = None
        if value_id is not None:
            value = values.get(value_id) or values.setdefault(value_id, CardOptionValue(value_slug, CardOption(option_slug)))
        products[product_id].ordered_images.append(
            CardImage(pk, _File(name), width, height, renditions or {}, value_id, value)
        )
    return [products[pk] for pk in ids if pk in products]
