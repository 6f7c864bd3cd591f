"""What a product page reads from the catalog tables, from precompiled SQL (issue 9).

The page used to be one queryset with nested prefetches (variants, their option values, images,
attributes) plus a stock query: six queries the ORM built, compiled and turned into a model
instance per row (an option and its value once per variant that has it) on every cold render,
~5 ms of CPU for ~0.3 ms of SQL on the demo's largest product. Here each query is compiled once
per process (`catalog.precompiled`), variants come with their option values in one statement
(a row per variant and value), and each option, value and location is made once.

The rows are the same as the querysets' (the statements are theirs); the instances are real
models (`Model.from_db`, as the ORM makes them) with their relations cached, so templates,
structured data and sale labels read them as before, with no query behind an attribute.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import router

from . import precompiled
from .models import Attribute, AttributeValue, Brand, Location, Option, OptionValue, Product, ProductImage
from .models import StockLevel, Variant
from .stock import OnlineStock


# Timestamps are left deferred where many rows come back (a variant per option value): SQLite
# returns them as text to parse, ~100 a page for what the storefront never shows. Reading one
# would cost a query, which the query budget tests would catch.
_UNREAD = {Brand: ("created_at", "updated_at"), Variant: ("created_at", "updated_at"),
           ProductImage: ("created_at", "updated_at")}


def _attnames(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if f.attname not in _UNREAD.get(model, ())]


def _prefixed(prefix: str, model) -> list[str]:
    return [f"{prefix}__{name}" for name in _attnames(model)]


PRODUCT_FIELDS = _attnames(Product)
BRAND_FIELDS = _attnames(Brand)
VARIANT_FIELDS = _attnames(Variant)
OPTION_VALUE_FIELDS = _attnames(OptionValue)
OPTION_FIELDS = _attnames(Option)
IMAGE_FIELDS = _attnames(ProductImage)
ATTRIBUTE_VALUE_FIELDS = _attnames(AttributeValue)
ATTRIBUTE_FIELDS = _attnames(Attribute)
_FIELD_NAMES = {model: _attnames(model) for model in _UNREAD}  # `from_db` defers the others


def _product(slug: str):
    from saleschannels.selectors import not_sold_online

    # `Product.objects.published()` but for its active-category test, which names every active
    # category (a list that changes): the caller checks the category against the cached tree.
    return (
        Product.objects.filter(slug=slug, status=Product.Status.ACTIVE).exclude(pk__in=not_sold_online())
        .order_by().values_list(*PRODUCT_FIELDS, *_prefixed("brand", Brand), "gift_card__id")
    )


def _variants(product_id: int):
    # One row per variant and option value (one with NULLs for a variant without any).
    return (
        Variant.objects.filter(product_id=product_id, is_active=True).order_by("position", "pk")
        .values_list(*VARIANT_FIELDS, *_prefixed("option_values", OptionValue),
                     *_prefixed("option_values__option", Option))
    )


def _stock(product_id: int):
    return (
        StockLevel.objects.filter(variant__product_id=product_id, variant__is_active=True, location__is_active=True)
        .order_by("location__position", "location__name", "pk")
        .values_list("variant_id", "on_hand", "reserved", "location_id", "location__name", "location__city",
                     "location__code", "location__kind", "location__pickup_allowed", "location__position",
                     "location__ships_online_orders")
    )


def _images(product_id: int):
    return ProductImage.objects.filter(product_id=product_id).order_by("position", "pk").values_list(*IMAGE_FIELDS)


def _attributes(product_id: int):
    return (
        AttributeValue.objects.filter(products=product_id)
        .order_by("attribute__position", "position", "value")
        .values_list(*ATTRIBUTE_VALUE_FIELDS, *_prefixed("attribute", Attribute))
    )


def _related(category_id: int, product_id: int):
    from saleschannels.selectors import not_sold_online

    # `published_products()` of the product's own category (which the caller found active).
    return (
        Product.objects.filter(category_id=category_id, status=Product.Status.ACTIVE)
        .exclude(pk=product_id).exclude(pk__in=not_sold_online())
        .order_by("-units_sold", "pk").values_list("pk")[:4]
    )


@dataclass
class ProductRows:
    product: Product
    variants: list[Variant]
    values_of: dict[int, dict[str, OptionValue]]  # variant id -> option slug -> its value
    levels: dict[int, list[tuple[Location, int]]]  # variant id -> (active location, units available)
    images: list[ProductImage]
    attributes: list[AttributeValue]
    # variant id -> its units as online shoppers can have them (`stock.OnlineStock`, the one rule)
    online: dict[int, OnlineStock] = field(default_factory=dict)

    @property
    def stock(self) -> dict[int, int]:
        """variant id -> units one online order can have (`OnlineStock.orderable`)."""
        return {pk: online.orderable for pk, online in self.online.items()}


def _instance(model, alias: str, values, cache: dict | None = None):
    """A model instance from a row's columns in `concrete_fields` order (one per pk with `cache`)."""
    if cache is not None:
        found = cache.get(values[0])
        if found is not None:
            return found
    instance = model.from_db(alias, _FIELD_NAMES.get(model), values)
    if cache is not None:
        cache[values[0]] = instance
    return instance


def product_page_rows(slug: str, active_category_ids) -> ProductRows | None:
    """The published product at `slug` (in an active category) and what its page shows: five queries."""
    alias = router.db_for_read(Product)
    found = precompiled.rows("product:product", _product, slug, model=Product)
    if not found:
        return None
    row = found[0]
    product = _instance(Product, alias, row[: len(PRODUCT_FIELDS)])
    if product.category_id not in active_category_ids:
        return None
    brand_row, gift_card_id = row[len(PRODUCT_FIELDS):-1], row[-1]
    Product._meta.get_field("brand").set_cached_value(
        product, _instance(Brand, alias, brand_row) if brand_row[0] is not None else None
    )
    # A gift card product (giftcards.GiftCardProduct, the reverse one-to-one): known without a
    # query, so `giftcards.digital.is_digital` can tell (its other fields load if ever read).
    gift_card = Product._meta.get_field("gift_card")
    gift_card.set_cached_value(product, gift_card.related_model.from_db(
        alias, ["id", "product_id"], [gift_card_id, product.pk]
    ) if gift_card_id is not None else None)

    variants: dict[int, Variant] = {}
    values_of: dict[int, dict[str, OptionValue]] = {}
    option_values: dict[int, OptionValue] = {}
    options: dict[int, Option] = {}
    value_at = len(VARIANT_FIELDS)
    option_at = value_at + len(OPTION_VALUE_FIELDS)
    option_field = OptionValue._meta.get_field("option")
    product_field = Variant._meta.get_field("product")
    for row in precompiled.rows("product:variants", _variants, product.pk, model=Variant):
        pk = row[0]
        variant = variants.get(pk)
        if variant is None:
            variant = variants[pk] = _instance(Variant, alias, row[:value_at])
            product_field.set_cached_value(variant, product)
            values_of[pk] = {}
        if row[value_at] is None:
            continue
        value = option_values.get(row[value_at])
        if value is None:
            value = _instance(OptionValue, alias, row[value_at:option_at], option_values)
            option_field.set_cached_value(value, _instance(Option, alias, row[option_at:], options))
        values_of[pk][value.option.slug] = value

    levels: dict[int, list[tuple[Location, int]]] = defaultdict(list)
    places: dict[int, Location] = {}
    for variant_id, on_hand, reserved, location_id, *place in precompiled.rows(
        "product:stock", _stock, product.pk, model=StockLevel
    ):
        if location_id not in places:
            name, city, code, kind, pickup_allowed, position, ships = place
            places[location_id] = Location(
                pk=location_id, name=name, city=city, code=code, kind=kind, pickup_allowed=pickup_allowed,
                position=position, is_active=True, ships_online_orders=ships,
            )
        levels[variant_id].append((places[location_id], max(on_hand - reserved, 0)))

    image_product = ProductImage._meta.get_field("product")
    images = []
    for row in precompiled.rows("product:images", _images, product.pk, model=ProductImage):
        image = _instance(ProductImage, alias, row)
        image_product.set_cached_value(image, product)
        images.append(image)

    attribute_field = AttributeValue._meta.get_field("attribute")
    attributes: dict[int, Attribute] = {}
    values = []
    split = len(ATTRIBUTE_VALUE_FIELDS)
    for row in precompiled.rows("product:attributes", _attributes, product.pk, model=AttributeValue):
        value = _instance(AttributeValue, alias, row[:split])
        attribute_field.set_cached_value(value, _instance(Attribute, alias, row[split:], attributes))
        values.append(value)

    ordered = list(variants.values())
    return ProductRows(
        product=product, variants=ordered, values_of=values_of, levels=levels, images=images, attributes=values,
        online={v.pk: OnlineStock.at(levels[v.pk]) for v in ordered},
    )


def related_ids(*, category_id: int, product_id: int) -> list[int]:
    """The four best-selling published products of the category, but this one (one query)."""
    return [row[0] for row in precompiled.rows("product:related", _related, category_id, product_id, model=Product)]
