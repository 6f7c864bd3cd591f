"""The listing index: what a category or search listing filters, counts and sorts, per category.

A cold listing used to count facets with joins over every product of the category on each
request (at 10,000 products: ~300 ms of SQL for the largest category). Instead, each category
keeps one row (`CategoryListingIndex`) describing its *own* published products compactly:

- `ids`: the product ids, in a fixed order; a product's *position* in that list is its bit.
- `keys`: for each brand (`b<id>`), option value of an active variant (`o<id>`) and attribute
  value (`a<id>`), a bitmask (hex) of the products that have it.
- `stock`: the bitmask of products with an active variant in stock at an active location.
- `featured`: the bitmask of featured products.
- `prices`: per product, the sorted prices of its active variants, in cents.
- `sold`, `created`: per product, units sold and creation time (microseconds), for sorting.

A listing reads the rows of the categories it covers (one query), ANDs and ORs bitmasks in
Python to filter, pops bits to count every facet value, and sorts positions: no work grows with
the catalog in SQL. The cards of one page are then loaded by id (`selectors.cards_in_order`).

Freshness, and why it never serves stale data after commit: a row is *invalidated in the same
transaction* as the change it reflects (`invalidate_categories`: `generation + 1`, data cleared),
by the receivers below and by the bulk services that bypass signals. A reader that finds a row
without data builds it from the catalog tables (a few queries over that category's products) and
stores it only if the generation is still the one it read (`UPDATE ... WHERE generation = g`): a
change committed meanwhile makes that a no-op, so a build from an older snapshot is never kept.
Rows exist for every category (a migration creates them, a new category gets one, readers add
missing ones) so a writer always has a row to bump.

Prices and stock on the cards themselves still come from the catalog tables (`with_card_data`),
in the same request; the index decides which products are listed and in which order, which is
exact as long as every write path invalidates (see `tests/test_listing_index.py`).
"""
from __future__ import annotations

import base64
import json
from array import array
from collections import defaultdict
from decimal import Decimal
from typing import Iterable

from django.db.models import Case, F, JSONField, Q, Value, When
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver

from .models import (
    Attribute,
    AttributeValue,
    Brand,
    Category,
    CategoryListingIndex,
    Location,
    Option,
    OptionValue,
    Product,
    StockLevel,
    Variant,
)

# --- Writes: invalidation ------------------------------------------------------------------------


def invalidate_categories(category_ids: Iterable[int] | None = None, *, products=None, stock_levels=None) -> None:
    """Mark the index of these categories stale, in the caller's transaction (all when no argument).

    `products` (a Product queryset or ids) or `stock_levels` (StockLevel ids) name the categories
    through what changed, in the same UPDATE (no extra query).
    """
    rows = CategoryListingIndex.objects.all()
    if products is not None:
        rows = rows.filter(category_id__in=Product.objects.filter(pk__in=products).values("category_id"))
    elif stock_levels is not None:
        rows = rows.filter(
            category_id__in=StockLevel.objects.filter(pk__in=stock_levels).values("variant__product__category_id")
        )
    elif category_ids is not None:
        category_ids = [pk for pk in category_ids if pk is not None]
        if not category_ids:
            return
        rows = rows.filter(category_id__in=category_ids)
    rows.update(generation=F("generation") + 1, data=None)


def _raw(kwargs) -> bool:
    return bool(kwargs.get("raw"))


@receiver(post_save, sender=Category, dispatch_uid="listing-index-category-created")
def _category_saved(sender, instance: Category, created: bool, **kwargs) -> None:
    if created and not _raw(kwargs):
        CategoryListingIndex.objects.get_or_create(category_id=instance.pk)


@receiver(pre_save, sender=Product, dispatch_uid="listing-index-product-moving")
def _product_saving(sender, instance: Product, **kwargs) -> None:
    # The category it leaves changes too: read it before it is overwritten.
    if instance.pk and not _raw(kwargs):
        invalidate_categories(products=[instance.pk])


@receiver(post_save, sender=Product, dispatch_uid="listing-index-product-saved")
@receiver(post_delete, sender=Product, dispatch_uid="listing-index-product-deleted")
def _product_changed(sender, instance: Product, **kwargs) -> None:
    if not _raw(kwargs):
        invalidate_categories([instance.category_id])


@receiver(post_save, sender=Variant, dispatch_uid="listing-index-variant-saved")
@receiver(post_delete, sender=Variant, dispatch_uid="listing-index-variant-deleted")
def _variant_changed(sender, instance: Variant, **kwargs) -> None:
    if not _raw(kwargs):
        invalidate_categories(products=[instance.product_id])


@receiver(post_save, sender=StockLevel, dispatch_uid="listing-index-stock-saved")
@receiver(post_delete, sender=StockLevel, dispatch_uid="listing-index-stock-deleted")
def _stock_changed(sender, instance: StockLevel, **kwargs) -> None:
    if not _raw(kwargs):
        invalidate_categories(products=Variant.objects.filter(pk=instance.variant_id).values("product_id"))


@receiver(m2m_changed, sender=Variant.option_values.through, dispatch_uid="listing-index-variant-options")
def _variant_options_changed(sender, instance, action: str, reverse: bool, **kwargs) -> None:
    if action.startswith("post_"):
        if reverse:  # from the value's side: which variants is not worth finding out
            invalidate_categories()
        else:
            invalidate_categories(products=[instance.product_id])


@receiver(m2m_changed, sender=Product.attribute_values.through, dispatch_uid="listing-index-attributes")
def _attributes_changed(sender, instance, action: str, reverse: bool, **kwargs) -> None:
    if action.startswith("post_"):
        invalidate_categories() if reverse else invalidate_categories([instance.category_id])


def _everything(sender, **kwargs) -> None:
    if not _raw(kwargs):
        invalidate_categories()


# A location's activity decides every product's stock; deleting a brand or a value unlinks
# products without signals of theirs (SET NULL, cascades). Renames need nothing: labels are read
# live, the index holds ids.
post_save.connect(_everything, sender=Location, dispatch_uid="listing-index-location-saved")
for _model in (Location, Brand, Option, OptionValue, Attribute, AttributeValue):
    post_delete.connect(_everything, sender=_model, dispatch_uid=f"listing-index-{_model.__name__}-deleted")


# --- Building a category's index ----------------------------------------------------------------


def _mask(positions: Iterable[int]) -> str:
    value = 0
    for position in positions:
        value |= 1 << position
    return format(value, "x")


def _array(numbers: list[int]) -> str:
    """64-bit integers as base64 text: decoding it is one C call, unlike a JSON list."""
    return base64.b64encode(array("q", numbers).tobytes()).decode()


def _numbers(text: str) -> list[int]:
    values = array("q")
    values.frombytes(base64.b64decode(text))
    return values.tolist()


def _micros(moment) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def build(category_ids: list[int]) -> dict[int, dict]:
    """The index data of each category in `category_ids`, from the catalog tables (5 queries)."""
    published = Q(status=Product.Status.ACTIVE, category_id__in=category_ids)
    from saleschannels.selectors import not_sold_online

    products = list(
        Product.objects.filter(published).exclude(pk__in=not_sold_online()).order_by("pk")
        .values_list("pk", "category_id", "brand_id", "is_featured", "units_sold", "created_at")
    )
    where: dict[int, tuple[int, int]] = {}  # product id -> (category id, position)
    data: dict[int, dict] = {
        pk: {"ids": [], "featured": [], "sold": [], "created": [], "prices": []} for pk in category_ids
    }
    keys: dict[int, dict[str, list[int]]] = {pk: defaultdict(list) for pk in category_ids}
    stock: dict[int, list[int]] = {pk: [] for pk in category_ids}
    for pk, category_id, brand_id, featured, sold, created in products:
        entry = data[category_id]
        position = len(entry["ids"])
        where[pk] = (category_id, position)
        entry["ids"].append(pk)
        if featured:
            entry["featured"].append(position)
        entry["sold"].append(sold)
        entry["created"].append(_micros(created))
        entry["prices"].append([])
        if brand_id is not None:
            keys[category_id][f"b{brand_id}"].append(position)

    active_variants = Q(variant__is_active=True, variant__product__status=Product.Status.ACTIVE,
                        variant__product__category_id__in=category_ids)
    for product_id, price in Variant.objects.filter(
        is_active=True, product__status=Product.Status.ACTIVE, product__category_id__in=category_ids
    ).values_list("product_id", "price"):
        if product_id not in where:  # sold in shops only (saleschannels)
            continue
        category_id, position = where[product_id]
        data[category_id]["prices"][position].append(int(price * 100))
    for product_id, value_id in (
        Variant.option_values.through.objects.filter(active_variants)
        .values_list("variant__product_id", "optionvalue_id").distinct()
    ):
        if product_id not in where:  # sold in shops only (saleschannels)
            continue
        category_id, position = where[product_id]
        keys[category_id][f"o{value_id}"].append(position)
    for product_id, value_id in Product.attribute_values.through.objects.filter(
        product__status=Product.Status.ACTIVE, product__category_id__in=category_ids
    ).values_list("product_id", "attributevalue_id"):
        if product_id not in where:  # sold in shops only (saleschannels)
            continue
        category_id, position = where[product_id]
        keys[category_id][f"a{value_id}"].append(position)
    for (product_id,) in (
        StockLevel.objects.filter(active_variants, location__is_active=True, on_hand__gt=F("reserved"))
        .values_list("variant__product_id").distinct()
    ):
        if product_id not in where:  # sold in shops only (saleschannels)
            continue
        category_id, position = where[product_id]
        stock[category_id].append(position)

    for category_id, entry in data.items():
        for prices in entry["prices"]:
            prices.sort()
        entry["low"] = _array([prices[0] if prices else -1 for prices in entry["prices"]])
        entry["high"] = _array([prices[-1] if prices else -1 for prices in entry["prices"]])
        # Every price is needed only to filter by price: kept as text, decoded only then.
        entry["prices"] = json.dumps(entry["prices"], separators=(",", ":"))
        for name in ("ids", "sold", "created"):
            entry[name] = _array(entry[name])
        entry["featured"] = _mask(entry["featured"])
        entry["stock"] = _mask(stock[category_id])
        entry["keys"] = {key: _mask(positions) for key, positions in keys[category_id].items()}
    return data


def load(category_ids: list[int]) -> list[dict]:
    """The index data of these categories: stored rows, and fresh builds of stale or missing ones.

    One query when every row is fresh. A build is stored only if no change committed since its
    generation was read (see the module docstring).
    """
    rows = {
        pk: (generation, data)
        for pk, generation, data in CategoryListingIndex.objects.filter(category_id__in=category_ids)
        .values_list("category_id", "generation", "data")
    }
    missing = [pk for pk in category_ids if pk not in rows]
    if missing:
        CategoryListingIndex.objects.bulk_create(
            [CategoryListingIndex(category_id=pk) for pk in missing], ignore_conflicts=True
        )
        rows.update({pk: (0, None) for pk in missing})
    stale = [pk for pk, (_generation, data) in rows.items() if data is None]
    if stale:
        built = build(stale)
        # One UPDATE for all of them, each row only at the generation it was read at.
        unchanged = Q()
        for pk in stale:
            unchanged |= Q(category_id=pk, generation=rows[pk][0])
        CategoryListingIndex.objects.filter(unchanged, data__isnull=True).update(
            data=Case(*[When(category_id=pk, then=Value(built[pk], JSONField())) for pk in stale])
        )
        rows.update({pk: (rows[pk][0], built[pk]) for pk in stale})
    return [rows[pk][1] for pk in category_ids]


# --- Reading: filter, count, sort ---------------------------------------------------------------


class Part:
    """One category's index, decoded: bitmasks as Python ints, numbers as lists."""

    __slots__ = ("ids", "keys", "stock", "featured", "low", "high", "sold", "created", "full", "_prices")

    def __init__(self, data: dict) -> None:
        self.ids = _numbers(data["ids"])
        self.keys = {key: int(mask, 16) for key, mask in data["keys"].items()}
        self.stock = int(data["stock"], 16)
        self.featured = int(data["featured"], 16)
        self.low, self.high = _numbers(data["low"]), _numbers(data["high"])
        self.sold, self.created = _numbers(data["sold"]), _numbers(data["created"])
        self.full = (1 << len(self.ids)) - 1
        self._prices = data["prices"]

    @property
    def prices(self) -> list[list[int]]:
        """Each product's active variant prices in cents, lowest first (decoded on first use)."""
        if isinstance(self._prices, str):
            self._prices = json.loads(self._prices)
        return self._prices


def positions(mask: int) -> list[int]:
    """The set bits of `mask`, lowest first."""
    bits = bin(mask)[:1:-1]
    return [index for index, bit in enumerate(bits) if bit == "1"]


def restrict(part: Part, ids: set[int]) -> int:
    """The mask of `part`'s products whose id is in `ids`."""
    return _mask_int(position for position, pk in enumerate(part.ids) if pk in ids)


def _mask_int(items: Iterable[int]) -> int:
    value = 0
    for position in items:
        value |= 1 << position
    return value


def price_mask(part: Part, within: int, low_cents: Decimal | None, high_cents: Decimal | None) -> int:
    """Products in `within` with an active variant priced within the bounds (both on one variant)."""
    chosen = []
    for position in positions(within):
        for cents in part.prices[position]:
            if (low_cents is None or cents >= low_cents) and (high_cents is None or cents <= high_cents):
                chosen.append(position)
                break
    return _mask_int(chosen)
