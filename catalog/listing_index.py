"""The listing index: what a category or search listing filters, counts and sorts, per category.

A cold listing used to count facets with joins over every product of the category on each
request (at 10,000 products: ~300 ms of SQL for the largest category). Instead, each category
keeps one row (`CategoryListingIndex`) describing its *own* published products compactly:

- `ids`: the product ids, in a fixed order; a product's *position* in that list is its bit.
- `keys`: for each brand (`b<id>`), option value of an active variant (`o<id>`) and attribute
  value (`a<id>`), a bitmask (hex) of the products that have it.
- `stock`: the bitmask of products shoppers can buy online: an active variant with a unit at a
  location that ships online orders or allows pick-up (`stock.available_online_q`, the one rule).
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
missing ones) so a writer always has a row to bump. After the commit, the stale rows are rebuilt
in the background (`rebuild_after_commit`, a Celery task) so that shoppers rarely meet one.

Stock, the frequent write (every order), does not make rows stale: the only thing the index holds
about stock is one bit per product, so a sale that leaves units on the shelf does nothing here and,
when a stock row sells out or comes back, the product's bit is set from its stock read again under
this row's lock (`stock_flipped`), in place, in the sale's transaction.

Prices and stock on the cards themselves still come from the catalog tables (`with_card_data`),
in the same request; the index decides which products are listed and in which order, which is
exact as long as every write path invalidates (see `tests/test_listing_index.py`).
"""
from __future__ import annotations

import base64
import json
import secrets
import sys
from array import array
from collections import defaultdict
from itertools import compress, count
from decimal import Decimal
from collections.abc import Sequence
from typing import Iterable

from django.db import transaction
from django.db.models import BooleanField, Case, F, JSONField, Q, Value, When
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver

from . import precompiled
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
    if rows.update(generation=F("generation") + 1, data=None):
        rebuild_after_commit()


def rebuild_stale() -> list[int]:
    """Build and store every stale row now (5 queries for all of them, 1 when none is stale).

    Idempotent, and safe against writers: a row changed meanwhile is left stale (see `load`).
    Returns the categories built.
    """
    stale = list(CategoryListingIndex.objects.filter(data__isnull=True).values_list("category_id", flat=True))
    if stale:
        load(stale)
    return stale


def _enqueue_rebuild() -> None:
    from .tasks import rebuild_listing_index_task

    rebuild_listing_index_task.delay()


def rebuild_after_commit() -> None:
    """Once the caller's transaction commits, rebuild the stale rows in the background (a Celery
    task; in the web process itself when tasks run eagerly, the default without a broker), so that
    the next shopper's listing finds them built. Queued once per transaction however many changes
    it makes. A reader finding a row still stale builds it itself (`load`): never stale, only slower.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        # Autocommit: "after commit" would be now, in the middle of the change (a product's save
        # marks its old category stale before the row is written). The next reader builds it.
        return
    # One still queued runs at this same commit: a savepoint rolled back drops its callbacks, and
    # every savepoint still open encloses this change, so it would drop this change too.
    if any(func is _enqueue_rebuild for _savepoints, func, _robust in connection.run_on_commit):
        return
    transaction.on_commit(_enqueue_rebuild, robust=True)


def stock_flipped(products: dict[int, int]) -> dict[int, int]:
    """Products with a stock row that sold out or came back in the caller's transaction, as
    product id -> category id (`invalidation.stock_rows_changed`): set or clear their bit in their
    categories' `stock` mask, in place, from their stock as it is *after* the lock. Returns those
    whose availability changed (or is not known here), product id -> category id, for
    `invalidation.stock_availability_changed`.

    The rows are locked (category order, so two sales never wait for each other crosswise; a sale
    locks its stock rows first, then these), then the products' stock is read in a statement of
    its own: under READ COMMITTED it sees what every sale that held these locks before committed.
    Two orders taking the last units of two variants of one product each see the other's units
    still there before the lock, but the second to get the lock sees the first's sale and clears
    the bit (issue 9; test_stock_concurrency.py). The bit under the lock is what the last such
    sale committed, so a product whose fresh stock matches it did not change for shoppers.

    Two queries (lock, read), and a third to write back the rows whose mask changed and the stale
    ones, with `generation + 1`, so a reader's build from a snapshot before this change is not
    stored over it (module docstring). A product the index does not know (stale row, not listed)
    is returned as changed: bumping its card costs less than reasoning about it.
    """
    if not products:
        return {}
    rows = list(
        CategoryListingIndex.objects.filter(category_id__in=set(products.values()))
        .select_for_update().order_by("category_id").values_list("category_id", "data")
    )
    from .stock import available_online_q

    in_stock = set(
        StockLevel.objects.filter(available_online_q(), variant__product_id__in=products)
        .values_list("variant__product_id", flat=True).distinct().order_by()
    )
    by_category: dict[int, list[int]] = defaultdict(list)
    for product_id, category_id in products.items():
        by_category[category_id].append(product_id)
    changed = dict(products)  # until the index says otherwise
    updated: dict[int, dict | None] = {}
    for category_id, data in rows:
        if data is None:  # stale: the next build reads the new stock anyway
            updated[category_id] = None
            continue
        ids = _numbers(data["ids"])
        where = {pk: position for position, pk in enumerate(ids)} if len(by_category[category_id]) > 1 else None
        before = mask = int(data["stock"], 16)
        for product_id in by_category[category_id]:
            try:
                position = where[product_id] if where is not None else ids.index(product_id)
            except (KeyError, ValueError):  # not published: not listed
                continue
            bit = 1 << position
            if bool(mask & bit) == (product_id in in_stock):
                del changed[product_id]
            mask = mask | bit if product_id in in_stock else mask & ~bit
        if mask != before:
            updated[category_id] = {**data, "stock": format(mask, "x")}
    if updated:
        changes: dict = {"generation": F("generation") + 1}
        written = {pk: data for pk, data in updated.items() if data is not None}
        if written:
            changes["data"] = Case(
                *[When(category_id=pk, then=Value(data, JSONField())) for pk, data in written.items()],
                default=F("data"),
                output_field=JSONField(),
            )
        CategoryListingIndex.objects.filter(category_id__in=updated).update(**changes)
    return changed


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


# A location's activity and its "ships online orders" and "pick-up" flags decide every product's
# online stock (`stock.available_online_q`); deleting a brand or a value unlinks
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


def _array32(numbers: list[int]) -> str:
    return base64.b64encode(array("i", numbers).tobytes()).decode()


def _numbers32(text: str) -> list[int]:
    values = array("i")
    values.frombytes(base64.b64decode(text))
    return values.tolist()


# The listing sorts, as `selectors.SORTS` orders them in SQL (`pk` last); "relevance" in a
# category is featured first, then best-selling, then newest. A product without a price (-1) is
# listed last by either price sort.
SORTS = ("relevance", "price_asc", "price_desc", "newest", "best_selling")


def _key_function(sort: str, *, ids, featured, sold, created, low):
    """The sort key of a position, comparable across categories (`ids` breaks ties)."""
    if sort == "price_asc":
        return lambda p: (low[p] if low[p] >= 0 else sys.maxsize, ids[p])
    if sort == "price_desc":
        return lambda p: (-low[p], ids[p])
    if sort == "newest":
        return lambda p: (-created[p], -ids[p])
    if sort == "best_selling":
        return lambda p: (-sold[p], ids[p])
    return lambda p: (not featured(p), -sold[p], -created[p], ids[p])


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
    from .stock import available_online_q

    for (product_id,) in (
        StockLevel.objects.filter(active_variants, available_online_q())
        .values_list("variant__product_id").distinct()
    ):
        if product_id not in where:  # sold in shops only (saleschannels)
            continue
        category_id, position = where[product_id]
        stock[category_id].append(position)

    for category_id, entry in data.items():
        for prices in entry["prices"]:
            prices.sort()
        low = [prices[0] if prices else -1 for prices in entry["prices"]]
        featured = set(entry["featured"])
        entry["order"] = {
            sort: _array32(sorted(range(len(entry["ids"])), key=_key_function(
                sort, ids=entry["ids"], featured=lambda position: position in featured,
                sold=entry["sold"], created=entry["created"], low=low,
            )))
            for sort in SORTS
        }
        entry["low"] = _array(low)
        entry["high"] = _array([prices[-1] if prices else -1 for prices in entry["prices"]])
        # Every price is needed only to filter by price: kept as text, decoded only then.
        entry["prices"] = json.dumps(entry["prices"], separators=(",", ":"))
        for name in ("ids", "sold", "created"):
            entry[name] = _array(entry[name])
        entry["featured"] = _mask(entry["featured"])
        entry["stock"] = _mask(stock[category_id])
        entry["keys"] = {key: _mask(positions) for key, positions in keys[category_id].items()}
    return data


# The rows this process has read, decoded, by category: ((generation, stamp), Part). A row's data
# never changes without its generation rising (`invalidate_categories` and `stock_flipped` raise it
# in the change's transaction; a build is stored only at the generation it read), and every stored
# build gets a new random `stamp` (so a row rebuilt after the database was reset or a test rolled
# back, at a generation seen before, is still told apart). An entry whose (generation, stamp) is
# the row's now *is* the stored data, and the query does not send it again. At 100,000 products the
# rows of a top-level category are ~3 MB of JSON: fetching and decoding them cost ~80 ms of a cold
# listing. One entry per category at most: memory grows with the catalog (a few hundred bytes per
# product, decoded).
_decoded: dict[int, tuple[tuple[int, int], "Part"]] = {}
_UNCHANGED = object()


def parts(category_ids: list[int]) -> list["Part"]:
    """The decoded index of these categories, in order: this process's copy where the stored row
    has not changed since it was read, else the stored row (or a fresh build of a stale one).

    One query when every row is fresh, as `load`.
    """
    known = {pk: _decoded[pk] for pk in category_ids if pk in _decoded}
    rows = _read(category_ids, known={pk: version for pk, (version, _part) in known.items()})
    result = []
    for pk in category_ids:
        version, data = rows[pk]
        if data is _UNCHANGED:
            result.append(known[pk][1])
            continue
        part = Part(data)
        _decoded[pk] = (version, part)
        result.append(part)
    return result


def load(category_ids: list[int]) -> list[dict]:
    """The index data of these categories: stored rows, and fresh builds of stale or missing ones.

    One query when every row is fresh. A build is stored only if no change committed since its
    generation was read (see the module docstring).
    """
    rows = _read(category_ids, known={})
    return [rows[pk][1] for pk in category_ids]


def _read_query(category_ids: list[int], known_ids: list[int], generations: list[int], stamps: list[int]):
    """The rows of `category_ids`; a row at the (generation, stamp) given for it in the known
    lists comes without its data (`unchanged`)."""
    queryset = CategoryListingIndex.objects.filter(category_id__in=category_ids)
    if not known_ids:
        return queryset.annotate(unchanged=Value(False)).values_list(
            "category_id", "generation", "stamp", "data", "unchanged"
        )
    same = Q()
    for pk, generation, stamp in zip(known_ids, generations, stamps):
        same |= Q(category_id=pk, generation=generation, stamp=stamp, data__isnull=False)
    return queryset.annotate(
        unchanged=Case(When(same, then=Value(True)), default=Value(False), output_field=BooleanField()),
        sent=Case(When(same, then=Value(None, JSONField())), default=F("data"), output_field=JSONField()),
    ).values_list("category_id", "generation", "stamp", "sent", "unchanged")


def _read(category_ids: list[int], *, known: dict[int, tuple[int, int]]) -> dict[int, tuple[tuple[int, int], object]]:
    """category id -> ((generation, stamp), data) for `category_ids`, building stale and missing
    rows; data is `_UNCHANGED`, not fetched, for a row still at the version `known` gives for it.

    The query is compiled once per process and shape (`catalog.precompiled`): built by the ORM
    each time, its CASE over the known rows cost more CPU than fetching the data saves on SQLite.
    """
    known_ids = sorted(known)
    found = precompiled.rows(
        "listing_index:read", _read_query, list(category_ids), known_ids,
        [known[pk][0] for pk in known_ids], [known[pk][1] for pk in known_ids], model=CategoryListingIndex,
    )
    rows = {
        pk: ((generation, stamp), _UNCHANGED if unchanged else data)
        for pk, generation, stamp, data, unchanged in found
    }
    missing = [pk for pk in category_ids if pk not in rows]
    if missing:
        CategoryListingIndex.objects.bulk_create(
            [CategoryListingIndex(category_id=pk) for pk in missing], ignore_conflicts=True
        )
        rows.update({pk: ((0, 0), None) for pk in missing})
    stale = [pk for pk, (_version, data) in rows.items() if data is None]
    if stale:
        built = build(stale)
        stamps = {pk: secrets.randbits(62) + 1 for pk in stale}
        # One UPDATE for all of them, each row only at the generation it was read at.
        unchanged = Q()
        for pk in stale:
            unchanged |= Q(category_id=pk, generation=rows[pk][0][0])
        CategoryListingIndex.objects.filter(unchanged, data__isnull=True).update(
            data=Case(*[When(category_id=pk, then=Value(built[pk], JSONField())) for pk in stale]),
            stamp=Case(*[When(category_id=pk, then=Value(stamps[pk])) for pk in stale]),
        )
        # Should another process have stored its build first (or a change bumped the generation),
        # this stamp is not the row's, and the next read fetches the row.
        rows.update({pk: ((rows[pk][0][0], stamps[pk]), built[pk]) for pk in stale})
    return rows


# --- Reading: filter, count, sort ---------------------------------------------------------------


class Part:
    """One category's index, decoded: bitmasks as Python ints, numbers as lists."""

    __slots__ = ("ids", "keys", "stock", "featured", "low", "high", "sold", "created", "full", "_prices", "_orders",
                 "_full_range")

    def __init__(self, data: dict) -> None:
        self.ids = _numbers(data["ids"])
        self.keys = {key: int(mask, 16) for key, mask in data["keys"].items()}
        self.stock = int(data["stock"], 16)
        self.featured = int(data["featured"], 16)
        self.low, self.high = _numbers(data["low"]), _numbers(data["high"])
        self.sold, self.created = _numbers(data["sold"]), _numbers(data["created"])
        self.full = (1 << len(self.ids)) - 1
        self._prices = data["prices"]
        self._orders = dict(data.get("order") or {})  # a row built before orders were kept has none
        self._full_range: tuple[int, int] | None | bool = False  # price_range(part.full), once known

    def key(self, sort: str):
        return _key_function(
            sort, ids=self.ids, featured=lambda position: (self.featured >> position) & 1,
            sold=self.sold, created=self.created, low=self.low,
        )

    def order(self, sort: str) -> list[int]:
        """Every position, in `sort` order (stored presorted; decoded on first use)."""
        order = self._orders.get(sort)
        if order is None:
            order = sorted(range(len(self.ids)), key=self.key(sort))
        elif isinstance(order, str):
            order = _numbers32(order)
        self._orders[sort] = order
        return order

    @property
    def prices(self) -> list[list[int]]:
        """Each product's active variant prices in cents, lowest first (decoded on first use)."""
        if isinstance(self._prices, str):
            self._prices = json.loads(self._prices)
        return self._prices


_BIT_BYTES = bytes.maketrans(b"01", b"\x00\x01")


def _flags(mask: int) -> bytes:
    """One byte per position of `mask`, lowest first: 1 where the bit is set, else 0.

    The selector `itertools.compress` takes, so picking a part's values at a mask runs in C: a
    listing of a 50,000-product category does it for every part on a cold render, where a Python
    loop over the positions took ~10 ms (issue 9, cold render at 100,000 products).
    """
    return bin(mask)[:1:-1].encode("ascii").translate(_BIT_BYTES)


def positions(mask: int) -> list[int]:
    """The set bits of `mask`, lowest first."""
    return list(compress(count(), _flags(mask)))


def ids_at(part: Part, mask: int) -> list[int]:
    """The ids of `part`'s products at `mask`, in position order."""
    return list(compress(part.ids, _flags(mask)))


def price_range(part: Part, mask: int) -> tuple[int, int] | None:
    """The lowest price (cents) of the products at `mask` that have one, and the highest price of
    those products; None when none has a price. Kept on the part for its full mask (an unfiltered
    listing, the usual case), which stays valid as long as the decoded part does."""
    if mask == part.full and part._full_range is not False:
        return part._full_range
    flags = _flags(mask)
    low = min(filter((0).__le__, compress(part.low, flags)), default=None)
    found = None if low is None else (low, max(compress(part.high, flags)))
    if mask == part.full:
        part._full_range = found
    return found


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


def first_sorted(sort: str, parts: list[Part], masks: list[int], count: int) -> list[int]:
    """The ids of the first `count` products at `masks` (one per part) in `sort` order.

    Each part's products are stored presorted, so this walks each part's order until it has
    `count` of its products, then sorts only those candidates together: a first page of a 4,800
    product category sorts at most 24 per category instead of all 4,800.
    """
    candidates: list[tuple[Part, list[int]]] = []
    for part, mask in zip(parts, masks):
        if not mask:
            continue
        order = part.order(sort)
        if mask == part.full:
            chosen = order[:count]
        else:
            chosen = []
            for position in order:
                if (mask >> position) & 1:
                    chosen.append(position)
                    if len(chosen) == count:
                        break
        candidates.append((part, chosen))
    if len(candidates) == 1:
        part, chosen = candidates[0]
        return [part.ids[position] for position in chosen]
    ranked = []
    for part, chosen in candidates:
        key, ids = part.key(sort), part.ids
        ranked += [(key(position), ids[position]) for position in chosen]
    ranked.sort()
    return [pk for _key, pk in ranked[:count]]


class SortedIds(Sequence):
    """A listing's product ids in order, computed only as far as they are read.

    A paginator reads the length (the masks' bit counts) and one page (`first_sorted` up to its
    end); reading everything (`list()`, `==`) sorts everything.
    """

    def __init__(self, sort: str, parts: list[Part], masks: list[int]) -> None:
        self._sort, self._parts, self._masks = sort, parts, masks
        self._length = sum(mask.bit_count() for mask in masks)
        self._head: list[int] = []

    def _upto(self, count: int) -> list[int]:
        count = min(count, self._length)
        if len(self._head) < count:
            self._head = first_sorted(self._sort, self._parts, self._masks, count)
        return self._head

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index):
        if isinstance(index, slice):
            _start, stop, _step = index.indices(self._length)
            return self._upto(stop if index.step in (None, 1) else self._length)[index]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError(index)
        return self._upto(index + 1)[index]

    def __iter__(self):
        return iter(self._upto(self._length))

    def __eq__(self, other) -> bool:
        if isinstance(other, (list, tuple, SortedIds)):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"SortedIds({list(self)!r})"
