"""Reads for the storefront. Each returns ready data in a fixed number of queries.

A page's query count never grows with the number of products on it: cards are built from
annotated querysets plus one prefetch for images, and the category tree comes from the cache.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property, lru_cache

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Concat
from django.http import Http404
from django.urls import get_script_prefix, get_urlconf, reverse

from giftcards.digital import is_digital
from shop.html import plain_text

from . import precompiled, versions

from .card_rows import CardProduct, card_products
from .cache import versioned_key
from .pictures import pictures_in_order
from .product_rows import product_page_rows, related_ids
from .stock import OnlineStock, available_online_q, online_stock
from .models import (
    AttributeValue,
    Brand,
    Category,
    Location,
    Option,
    OptionValue,
    Product,
    ProductImage,
    StockLevel,
    Variant,
)

# --- Category tree ------------------------------------------------------------------------------


@dataclass
class CategoryNode:
    id: int
    name: str
    slug: str
    parent_id: int | None
    path: str
    depth: int
    seo_title: str = ""
    seo_description: str = ""
    description: str = ""
    children: list[CategoryNode] = field(default_factory=list)

    def get_absolute_url(self) -> str:
        if not _PLAIN_PATH.fullmatch(self.path):
            return reverse("catalog:category", kwargs={"path": self.path})
        prefix, suffix = _category_url_parts(settings.ROOT_URLCONF, get_urlconf(), get_script_prefix())
        return f"{prefix}{self.path}{suffix}"


# A path of slugs needs no quoting in a URL: it is put between the parts of one reversed URL (a
# layout links every top category twice; `reverse` is ~10 µs each). Anything else is reversed.
_PLAIN_PATH = re.compile(r"[-a-zA-Z0-9_/]+")
_PATH_PLACEHOLDER = "category-path-placeholder"


@lru_cache(maxsize=16)
def _category_url_parts(root_urlconf: str, urlconf: str | None, script_prefix: str) -> tuple[str, str]:
    prefix, _, suffix = reverse("catalog:category", kwargs={"path": _PATH_PLACEHOLDER}).partition(_PATH_PLACEHOLDER)
    return prefix, suffix


@dataclass
class CategoryTree:
    roots: list[CategoryNode]
    by_id: dict[int, CategoryNode]
    by_path: dict[str, CategoryNode]

    def ancestors(self, node: CategoryNode) -> list[CategoryNode]:
        """From the root down to `node`, inclusive."""
        chain = [node]
        while chain[-1].parent_id is not None:
            chain.append(self.by_id[chain[-1].parent_id])
        return list(reversed(chain))

    def descendant_ids(self, node: CategoryNode) -> list[int]:
        ids, stack = [], [node]
        while stack:
            current = stack.pop()
            ids.append(current.id)
            stack.extend(current.children)
        return ids


_TREE_FIELDS = ("id", "name", "slug", "parent_id", "seo_title", "seo_description", "description")


def _active_categories() -> QuerySet[Category]:
    return Category.objects.filter(is_active=True).order_by("position", "name").values_list(*_TREE_FIELDS)


def _build_category_tree() -> CategoryTree:
    rows = [dict(zip(_TREE_FIELDS, row)) for row in precompiled.rows("category-tree", _active_categories, model=Category)]
    children: dict[int | None, list[dict]] = defaultdict(list)
    for row in rows:
        children[row["parent_id"]].append(row)
    by_id: dict[int, CategoryNode] = {}
    by_path: dict[str, CategoryNode] = {}

    def build(row: dict, parent_path: str, depth: int) -> CategoryNode:
        path = f"{parent_path}/{row['slug']}" if parent_path else row["slug"]
        node = CategoryNode(
            id=row["id"], name=row["name"], slug=row["slug"], parent_id=row["parent_id"], path=path, depth=depth,
            seo_title=row["seo_title"], seo_description=row["seo_description"], description=row["description"],
        )
        by_id[node.id] = node
        by_path[path] = node
        # An inactive category hides its whole subtree: its children are never reached.
        node.children = [build(child, path, depth + 1) for child in children.get(node.id, [])]
        return node

    roots = [build(row, "", 0) for row in children.get(None, [])]
    return CategoryTree(roots=roots, by_id=by_id, by_path=by_path)


def category_tree() -> CategoryTree:
    """The active category tree, cached until the catalog changes."""
    key = versioned_key("category-tree")
    tree = cache.get(key)
    if tree is None:
        tree = _build_category_tree()
        cache.set(key, tree, settings.STOREFRONT_CACHE_SECONDS)
    return tree


def cached_category_tree() -> CategoryTree | None:
    """The category tree if the cache holds it; never builds it (for writers, see invalidation.py)."""
    return cache.get(versioned_key("category-tree"))


def category_by_path(path: str) -> CategoryNode:
    node = category_tree().by_path.get(path.strip("/"))
    if node is None:
        raise Http404("No such category")
    return node


# --- Product cards ------------------------------------------------------------------------------


def _cheapest_variant() -> QuerySet[Variant]:
    return Variant.objects.filter(product=OuterRef("pk"), is_active=True).order_by("price", "pk")


def _available_stock() -> QuerySet[StockLevel]:
    """The product's stock rows with a unit shoppers can buy online (`stock.available_online_q`)."""
    return StockLevel.objects.filter(available_online_q(), variant__product=OuterRef("pk"))


def with_card_data(queryset: QuerySet[Product]) -> QuerySet[Product]:
    """Annotate what a product card shows: cheapest price, its compare-at price, stock, images.

    Two queries for any number of cards: the annotated products, and their images.
    """
    cheapest = _cheapest_variant()
    return queryset.select_related("brand").annotate(
        price=Subquery(cheapest.values("price")[:1]),
        compare_at_price=Subquery(cheapest.values("compare_at_price")[:1]),
        max_price=Subquery(
            Variant.objects.filter(product=OuterRef("pk"), is_active=True).order_by("-price").values("price")[:1]
        ),
        in_stock=Exists(_available_stock()),
    ).prefetch_related(
        Prefetch(
            "images",
            # The value and its option come with the image (a join, not a query): a listing filtered
            # by colour shows each card in that colour (`pick_card_pictures`).
            queryset=ProductImage.objects.select_related("option_value__option").order_by("position", "pk"),
            to_attr="ordered_images",
        )
    )


def published_products() -> QuerySet[Product]:
    return Product.objects.published()


def top_cards(build: Callable[[list[int]], QuerySet[Product]], *order: str, limit: int) -> list[CardProduct]:
    """Card-ready products: the first `limit` of `build(active category ids)` in `order` (three queries).

    The products are chosen first, so the card's price and stock subqueries run for those few
    rows only (annotating first made the database compute them for every candidate before
    sorting: home, ~10,000 products); then their cards come from the precompiled card queries
    (`card_rows`: one query more than a subquery would be, ~2.5 ms of CPU less per grid). The
    choosing query is precompiled too (`catalog.precompiled`, once per `build`, order and limit):
    `build` takes the active categories' ids, which change, as a parameter.
    """
    name = f"top:{build.__module__}.{build.__qualname__}:{','.join(order)}:{limit}"
    ids = precompiled.rows(
        name, lambda category_ids: build(category_ids).order_by(*order).values_list("pk")[:limit],
        list(category_tree().by_id), model=Product,
    )
    return card_products([pk for pk, in ids])


def _featured(category_ids: list[int]) -> QuerySet[Product]:
    return Product.objects.published(category_ids=category_ids).filter(is_featured=True)


def _published_in_index_order(category_ids: list[int]) -> QuerySet[Product]:
    """`published_products()` for the store-wide "newest" and "best-selling" picks.

    The same products, but filtered on expressions no index covers, so SQLite walks the
    `product_created` / `product_units_sold` index and stops at the LIMIT instead of reading every
    published product through `product_status_category` and sorting them all (at 10,000 products,
    10 ms -> 0.3 ms). PostgreSQL's planner reads it the same way.
    """
    from saleschannels.selectors import not_sold_online

    return Product.objects.alias(
        listed_status=Concat(F("status"), Value("")), listed_category=F("category_id") + 0,
    ).filter(listed_status=Product.Status.ACTIVE, listed_category__in=category_ids).exclude(
        pk__in=not_sold_online()
    )


def home_page_data(*, limit: int = 8) -> dict:
    """Featured products, new arrivals and top categories for the home page (7 queries cold)."""
    featured = top_cards(_featured, "-units_sold", "pk", limit=limit)
    new_arrivals = top_cards(_published_in_index_order, "-created_at", "-pk", limit=limit)
    return {"featured": featured, "new_arrivals": new_arrivals, "top_categories": category_tree().roots}


def popular_categories(*, limit: int = 6) -> list[CategoryNode]:
    """The categories whose published products sold the most (one query, cached until the
    catalog changes), for a page that has nothing better to offer, such as a search that found nothing."""
    key = versions.fragment_key(f"popular-categories:{limit}", versions=[versions.ASSORTMENT_KEY])
    ids = cache.get(key)
    if ids is None:
        ids = list(
            published_products().order_by().values("category_id")
            .annotate(sold=Sum("units_sold"), products=Count("pk"))
            .order_by("-sold", "-products", "category_id")
            .values_list("category_id", flat=True)[:limit]
        )
        cache.set(key, ids, settings.STOREFRONT_CACHE_SECONDS)
    tree = category_tree()
    return [tree.by_id[pk] for pk in ids if pk in tree.by_id]


def popular_products(*, limit: int = 4) -> list[Product]:
    """The best-selling published products, card-ready (2 queries)."""
    return top_cards(_published_in_index_order, "-units_sold", "pk", limit=limit)


# --- Listings: filters, facets, sorting ---------------------------------------------------------

SORTS = {
    "relevance": None,  # search rank in search; featured then best-selling in a category
    "price_asc": ("price", "pk"),
    "price_desc": ("-price", "pk"),
    "newest": ("-created_at", "-pk"),
    "best_selling": ("-units_sold", "pk"),
}


@dataclass
class ListingFilters:
    """What a shopper asked for, parsed and validated from the query string (see forms.py)."""

    price_min: Decimal | None = None
    price_max: Decimal | None = None
    brands: list[str] = field(default_factory=list)
    options: dict[str, list[str]] = field(default_factory=dict)  # option slug -> value slugs
    attributes: dict[str, list[str]] = field(default_factory=dict)  # attribute slug -> value slugs
    in_stock: bool = False
    sort: str = "relevance"

    @property
    def active(self) -> bool:
        return bool(
            self.price_min is not None or self.price_max is not None or self.brands
            or any(self.options.values()) or any(self.attributes.values()) or self.in_stock
        )


def _variant_price_filter(filters: ListingFilters) -> Q | None:
    q = Q()
    if filters.price_min is not None:
        q &= Q(price__gte=filters.price_min)
    if filters.price_max is not None:
        q &= Q(price__lte=filters.price_max)
    return q if q else None


def apply_filters(
    queryset: QuerySet[Product], filters: ListingFilters, *, skip: str | None = None
) -> QuerySet[Product]:
    """Narrow `queryset` by every filter except the facet named `skip`.

    Leaving a facet's own filter out when counting it lets shoppers see how many products each
    other value of that facet would give (e.g. picking "M" still shows the count for "L").
    """
    if skip != "price":
        price_q = _variant_price_filter(filters)
        if price_q is not None:
            queryset = queryset.filter(
                Exists(Variant.objects.filter(price_q, product=OuterRef("pk"), is_active=True))
            )
    if skip != "brand" and filters.brands:
        queryset = queryset.filter(brand__slug__in=filters.brands)
    for option_slug, values in filters.options.items():
        if values and skip != f"option:{option_slug}":
            queryset = queryset.filter(
                Exists(
                    Variant.objects.filter(
                        product=OuterRef("pk"), is_active=True,
                        option_values__option__slug=option_slug, option_values__slug__in=values,
                    )
                )
            )
    for attribute_slug, values in filters.attributes.items():
        if values and skip != f"attribute:{attribute_slug}":
            queryset = queryset.filter(
                Exists(
                    AttributeValue.objects.filter(
                        products=OuterRef("pk"), attribute__slug=attribute_slug, slug__in=values
                    )
                )
            )
    if skip != "in_stock" and filters.in_stock:
        queryset = queryset.filter(Exists(_available_stock()))
    return queryset


@dataclass
class FacetValue:
    slug: str
    label: str
    count: int
    selected: bool
    swatch: str = ""


@dataclass
class Facet:
    key: str  # query-string parameter: "brand", "o_size", "a_material"
    label: str
    values: list[FacetValue]

    # A long list shows its first values and the rest behind "Show all N" (never a scroll box
    # that hides values without saying so); a short one shows every value.
    SHOWN = 8
    FOLD_AFTER = 10

    @property
    def first_values(self) -> list[FacetValue]:
        return self.values if len(self.values) <= self.FOLD_AFTER else self.values[: self.SHOWN]

    @property
    def more_values(self) -> list[FacetValue]:
        return self.values[len(self.first_values):]

    @property
    def more_selected(self) -> bool:
        """A value behind "Show all" is selected: the list is shown open, so it can be seen."""
        return any(value.selected for value in self.more_values)


@dataclass
class Facets:
    groups: list[Facet]
    price_min: Decimal | None
    price_max: Decimal | None
    in_stock_count: int


def _value_facets(
    base: QuerySet[Product],
    filters: ListingFilters,
    *,
    model: type[OptionValue] | type[AttributeValue],
    parent: str,
    prefix: str,
    chosen: dict[str, list[str]],
    product_path: str,
    extra: Q = Q(),
) -> list[Facet]:
    """Option (or attribute) facets: one query for every option without a selection, counted over
    the fully filtered products, plus one per option with a selection, counted without its own
    filter. Counting is the slow part of a cold listing, so unselected options share a query.
    """
    selected = sorted(slug for slug, values in chosen.items() if values)
    passes: list[tuple[Q, QuerySet[Product]]] = [(~Q(**{f"{parent}__slug__in": selected}), apply_filters(base, filters))]
    passes += [
        (Q(**{f"{parent}__slug": slug}), apply_filters(base, filters, skip=f"{parent}:{slug}")) for slug in selected
    ]
    rows = []
    for scope, narrowed in passes:
        rows += (
            model.objects.filter(scope, extra, **{f"{product_path}__in": narrowed.values("pk")})
            .values(
                "slug", "value", "position",
                parent_slug=F(f"{parent}__slug"), parent_name=F(f"{parent}__name"),
                parent_position=F(f"{parent}__position"),
                **({"swatch_colour": F("swatch")} if model is OptionValue else {}),
            )
            .annotate(n=Count(product_path, distinct=True))
            .order_by()
        )
    rows.sort(key=lambda r: (r["parent_position"], r["parent_name"], r["position"], r["value"]))
    facets_by_parent: dict[str, Facet] = {}
    for row in rows:
        facet = facets_by_parent.setdefault(
            row["parent_slug"], Facet(f"{prefix}_{row['parent_slug']}", row["parent_name"], [])
        )
        facet.values.append(
            FacetValue(
                row["slug"], row["value"], row["n"], row["slug"] in chosen.get(row["parent_slug"], []),
                row.get("swatch_colour", ""),
            )
        )
    return list(facets_by_parent.values())


def facets(base: QuerySet[Product], filters: ListingFilters) -> Facets:
    """Counts for every facet value over `base`, each facet ignoring its own selection.

    A fixed number of queries however many products there are: brand, options and attributes
    (one each, plus one per option or attribute with a selection), stock, price range.
    """
    groups: list[Facet] = []

    brand_rows = (
        Brand.objects.filter(products__in=apply_filters(base, filters, skip="brand").values("pk"))
        .annotate(n=Count("products", distinct=True))
        .order_by("name")
        .values_list("slug", "name", "n")
    )
    brand_values = [FacetValue(slug, name, n, slug in filters.brands) for slug, name, n in brand_rows]
    if brand_values:
        groups.append(Facet("brand", str(Brand._meta.verbose_name).capitalize(), brand_values))

    groups += _value_facets(
        base, filters, model=OptionValue, parent="option", prefix="o", chosen=filters.options,
        product_path="variants__product", extra=Q(variants__is_active=True),
    )
    groups += _value_facets(
        base, filters, model=AttributeValue, parent="attribute", prefix="a", chosen=filters.attributes,
        product_path="products",
    )

    price_range = Variant.objects.filter(
        product__in=apply_filters(base, filters, skip="price").values("pk"), is_active=True
    ).aggregate(low=Min("price"), high=Max("price"))
    in_stock_count = apply_filters(base, filters, skip="in_stock").filter(Exists(_available_stock())).count()
    return Facets(
        groups=groups, price_min=price_range["low"], price_max=price_range["high"], in_stock_count=in_stock_count
    )


def sorted_listing(queryset: QuerySet[Product], sort: str) -> QuerySet[Product]:
    """Card-ready products in the requested order (relevance here means featured, then popular)."""
    queryset = with_card_data(queryset)
    ordering = SORTS.get(sort) or ("-is_featured", "-units_sold", "-created_at", "pk")
    return queryset.order_by(*ordering)


def ranked_matches(queryset: QuerySet[Product], ranked_ids: list[int]) -> list[int]:
    """The ids of `queryset` that are in `ranked_ids`, in rank order (one query).

    `ranked_ids` is bounded by the search backend (at most a few thousand), so the order is kept
    in Python rather than sent to SQL as a thousand-branch CASE.
    """
    matching = set(queryset.filter(pk__in=ranked_ids).values_list("pk", flat=True))
    return [pk for pk in ranked_ids if pk in matching]


def cards_in_order(ids: list[int]) -> list[CardProduct]:
    """Card-ready products for `ids`, in that order (two precompiled queries: `card_rows`)."""
    return card_products(ids)


# --- Product page -------------------------------------------------------------------------------


class Availability:
    IN_STOCK = "in_stock"
    LOW = "low"
    OUT = "out_of_stock"
    PICKUP_ONLY = "pickup_only"  # none can be delivered; collectable at `ProductPage.pickup_only`


def availability_status(available: int) -> str:
    if available <= 0:
        return Availability.OUT
    if available <= settings.STORE_LOW_STOCK_THRESHOLD:
        return Availability.LOW
    return Availability.IN_STOCK


@dataclass
class PickerValue:
    slug: str
    label: str
    swatch: str
    selected: bool
    enabled: bool  # a variant with this value and the other current choices exists and is in stock
    query: str  # query string that selects this value


@dataclass
class PickerOption:
    slug: str
    name: str
    values: list[PickerValue]


@dataclass
class LocationStock:
    location: Location
    available: int
    status: str


@dataclass
class ProductPage:
    product: Product
    variants: list[Variant]
    selected_variant: Variant | None
    picker: list[PickerOption]
    images: list[ProductImage]
    locations: list[LocationStock]
    available: int
    status: str
    breadcrumbs: list[CategoryNode]
    attributes: list[AttributeValue]
    related: list[Product]
    stock: dict[int, int] = field(default_factory=dict)  # units one online order can have, per variant id
    # Status PICKUP_ONLY: the shops where the units can be collected (none of them ships online orders).
    pickup_only: list[Location] = field(default_factory=list)
    online: dict[int, OnlineStock] = field(default_factory=dict)  # per variant id (`stock.OnlineStock`)

    @cached_property
    def description_text(self) -> str:
        """The description's words (meta description, structured data): parsed once per page."""
        return plain_text(self.product.description)


def product_page(*, slug: str, selection: dict[str, str]) -> ProductPage:
    """Everything the product page shows, in a fixed number of queries.

    `selection` maps option slugs to value slugs from the query string; unknown or missing ones
    fall back to the first in-stock variant's values.
    """
    tree = category_tree()
    rows = product_page_rows(slug, tree.by_id)
    if rows is None:
        raise Http404("No such product")
    product, variants, values_of, levels, stock = rows.product, rows.variants, rows.values_of, rows.levels, rows.stock
    online = rows.online
    if is_digital(product):
        # Emailed (a gift card): never out of stock, whatever stock rows it has or lacks.
        levels.clear()
        stock = {v.pk: settings.CART_MAX_LINE_QUANTITY for v in variants}

    options: dict[str, tuple[Option, dict[str, OptionValue]]] = {}
    for variant in variants:
        for option_slug, value in values_of[variant.pk].items():
            options.setdefault(option_slug, (value.option, {}))[1][value.slug] = value
    ordered_options = sorted(options.values(), key=lambda item: (item[0].position, item[0].name))

    # Each variant's value slugs by option, and its stock, read once (`pk` is a property, not free).
    slugs_of = [(v, {o: value.slug for o, value in values_of[v.pk].items()}, stock[v.pk]) for v in variants]

    def matching(choice: dict[str, str]) -> list[Variant]:
        return [v for v, slugs, _units in slugs_of if all(slugs.get(o) == s for o, s in choice.items())]

    def in_stock(choice: dict[str, str]) -> bool:
        return any(units > 0 and all(slugs.get(o) == s for o, s in choice.items()) for _v, slugs, units in slugs_of)

    # Options the shopper did not choose (a link to "?colour=navy") take the values of the first
    # variant in stock among those matching what they did choose.
    requested = {
        option.slug: selection[option.slug] for option, values in ordered_options if selection.get(option.slug) in values
    }
    candidates = matching(requested) or variants
    default = next((v for v in candidates if stock[v.pk] > 0), candidates[0] if candidates else None)
    chosen = {}
    for option, values in ordered_options:
        if option.slug in requested:
            chosen[option.slug] = requested[option.slug]
        elif default is not None and option.slug in values_of[default.pk]:
            chosen[option.slug] = values_of[default.pk][option.slug].slug

    selected = next(iter(matching(chosen)), None) if len(variants) > 1 else (variants[0] if variants else None)

    picker = []
    for option, values in ordered_options:
        entries = []
        for value in sorted(values.values(), key=lambda ov: (ov.position, ov.value)):
            choice = {**chosen, option.slug: value.slug}
            enabled = in_stock(choice)
            query = "&".join(f"{o}={s}" for o, s in choice.items())
            entries.append(
                PickerValue(value.slug, value.value, value.swatch, chosen.get(option.slug) == value.slug, enabled, query)
            )
        picker.append(PickerOption(option.slug, option.name, entries))

    shown = [selected] if selected is not None else variants
    per_location: dict[int, LocationStock] = {}
    for variant in shown:
        for place, units in levels[variant.pk]:
            entry = per_location.setdefault(place.pk, LocationStock(place, 0, Availability.OUT))
            entry.available += units
    locations = [
        LocationStock(entry.location, entry.available, availability_status(entry.available))
        for entry in per_location.values()
    ]
    # What the shopper can order online (`stock.OnlineStock`): delivered, or collected at one shop.
    shown_online = OnlineStock.at((entry.location, entry.available) for entry in per_location.values())
    available = shown_online.orderable
    status = availability_status(available)
    pickup_only = []
    if is_digital(product):
        available = stock[selected.pk] if selected is not None else 0
        status = availability_status(available)
    elif available > 0 and not shown_online.deliverable:
        status = Availability.PICKUP_ONLY
        pickup_only = [per_location[pk].location for pk in shown_online.collect_only()]

    # The chosen colour's pictures first (whatever the size), then the whole product's, then the
    # other colours'. Without a look option the staff's order stands.
    looks = {values[chosen[option.slug]].pk for option, values in ordered_options
             if option.changes_look and option.slug in chosen}
    images = rows.images
    if looks:
        images = pictures_in_order(images, looks)

    node = tree.by_id.get(product.category_id)
    breadcrumbs = tree.ancestors(node) if node else []

    related = card_products(related_ids(category_id=product.category_id, product_id=product.pk))
    return ProductPage(
        product=product, variants=variants, selected_variant=selected, picker=picker, images=images,
        locations=locations, available=available, status=status,
        breadcrumbs=breadcrumbs, attributes=rows.attributes, related=related, stock=stock, pickup_only=pickup_only,
        online={} if is_digital(product) else online,
    )


def stock_totals(variant_ids: list[int]) -> dict[int, int]:
    """Units one online order can have of each variant (`stock.OnlineStock.orderable`: delivered,
    or collected at one shop), one query compiled once per number of variants: the cart and every
    checkout step ask."""
    return {variant_id: online.orderable for variant_id, online in online_stock(variant_ids).items()}


# --- Listings from the listing index (what the storefront pages use) ----------------------------


@dataclass
class Listing:
    """A listing's products in display order (ids only, sorted as far as they are read) and its facets."""

    ids: Sequence[int]
    facets: Facets


def listing(*, category_ids: list[int], filters: ListingFilters, ranked_ids: list[int] | None = None) -> Listing:
    """The products of `category_ids` (their own, published) that `filters` keep, sorted, with facets.

    Built from the listing index (catalog/listing_index.py): one query when it is fresh, plus
    three for the labels of the facet values present (brands, option values, attribute values).
    With `ranked_ids` (search), only those products, and "relevance" keeps their order.
    Gives the same products, order and counts as `apply_filters`, `sorted_listing` and `facets`
    over the catalog tables (tests/test_listing_index.py compares them).
    """
    from . import listing_index

    tree = category_tree()
    category_ids = [pk for pk in category_ids if pk in tree.by_id]
    parts = listing_index.parts(category_ids)
    if ranked_ids is not None:
        wanted = set(ranked_ids)
        bases = [listing_index.restrict(part, wanted) for part in parts]
    else:
        bases = [part.full for part in parts]

    present = set()
    for part in parts:
        present.update(key for key, mask in part.keys.items() if mask)
    brands = {
        f"b{pk}": (slug, name)
        for pk, slug, name in Brand.objects.filter(pk__in=[int(k[1:]) for k in present if k[0] == "b"])
        .values_list("pk", "slug", "name")
    }
    option_values = {
        f"o{row['pk']}": row for row in OptionValue.objects.filter(pk__in=[int(k[1:]) for k in present if k[0] == "o"])
        .values("pk", "slug", "value", "position", "swatch", parent_slug=F("option__slug"),
                parent_name=F("option__name"), parent_position=F("option__position"))
    }
    attribute_values = {
        f"a{row['pk']}": row for row in AttributeValue.objects.filter(pk__in=[int(k[1:]) for k in present if k[0] == "a"])
        .values("pk", "slug", "value", "position", parent_slug=F("attribute__slug"),
                parent_name=F("attribute__name"), parent_position=F("attribute__position"))
    }

    # Each filter as a list of keys (one of which a product must have), named like `apply_filters`' skip.
    groups: dict[str, list[str]] = {}
    if filters.brands:
        groups["brand"] = [key for key, (slug, _name) in brands.items() if slug in filters.brands]
    for option_slug, values in filters.options.items():
        if values:
            groups[f"option:{option_slug}"] = [
                key for key, row in option_values.items() if row["parent_slug"] == option_slug and row["slug"] in values
            ]
    for attribute_slug, values in filters.attributes.items():
        if values:
            groups[f"attribute:{attribute_slug}"] = [
                key for key, row in attribute_values.items()
                if row["parent_slug"] == attribute_slug and row["slug"] in values
            ]
    low = filters.price_min * 100 if filters.price_min is not None else None
    high = filters.price_max * 100 if filters.price_max is not None else None
    priced = low is not None or high is not None

    def narrowed(part, base: int, skip: str | None = None) -> int:
        mask = base
        for name, keys in groups.items():
            if name != skip:
                chosen = 0
                for key in keys:
                    chosen |= part.keys.get(key, 0)
                mask &= chosen
        if skip != "in_stock" and filters.in_stock:
            mask &= part.stock
        if skip != "price" and priced and mask:
            mask = listing_index.price_mask(part, mask, low, high)
        return mask

    everything = [narrowed(part, base) for part, base in zip(parts, bases)]
    # Counts: a facet with a selection is counted without its own filter, the others over `everything`.
    counts: dict[str, int] = defaultdict(int)
    own = {name: [narrowed(part, base, skip=name) for part, base in zip(parts, bases)] for name in groups}
    own["brand"] = own.get("brand") or everything
    for part, mask_all, index in zip(parts, everything, range(len(parts))):
        for key, key_mask in part.keys.items():
            if key[0] == "b":
                scope = own["brand"][index]
            else:
                row = option_values.get(key) if key[0] == "o" else attribute_values.get(key)
                if row is None:
                    continue
                name = f"{'option' if key[0] == 'o' else 'attribute'}:{row['parent_slug']}"
                scope = own[name][index] if name in own else mask_all
            n = (key_mask & scope).bit_count()
            if n:
                counts[key] += n

    facet_groups: list[Facet] = []
    brand_values = sorted(
        (FacetValue(slug, name, counts[key], slug in filters.brands) for key, (slug, name) in brands.items() if counts[key]),
        key=lambda value: value.label,
    )
    if brand_values:
        facet_groups.append(Facet("brand", str(Brand._meta.verbose_name).capitalize(), brand_values))
    for rows, prefix, chosen in ((option_values, "o", filters.options), (attribute_values, "a", filters.attributes)):
        by_parent: dict[str, Facet] = {}
        for key, row in sorted(
            ((key, row) for key, row in rows.items() if counts[key]),
            key=lambda item: (item[1]["parent_position"], item[1]["parent_name"], item[1]["position"], item[1]["value"]),
        ):
            facet = by_parent.setdefault(row["parent_slug"], Facet(f"{prefix}_{row['parent_slug']}", row["parent_name"], []))
            facet.values.append(FacetValue(
                row["slug"], row["value"], counts[key], row["slug"] in chosen.get(row["parent_slug"], []),
                row.get("swatch", ""),
            ))
        facet_groups += by_parent.values()

    low_price = high_price = None
    for part, base in zip(parts, bases):
        found = listing_index.price_range(part, narrowed(part, base, skip="price"))
        if found:
            low_price = found[0] if low_price is None else min(low_price, found[0])
            high_price = found[1] if high_price is None else max(high_price, found[1])
    in_stock_count = sum(
        (narrowed(part, base, skip="in_stock") & part.stock).bit_count() for part, base in zip(parts, bases)
    )

    if ranked_ids is not None and filters.sort == "relevance":
        kept = {pk for part, mask in zip(parts, everything) for pk in listing_index.ids_at(part, mask)}
        ids = [pk for pk in ranked_ids if pk in kept]
    else:
        ids = listing_index.SortedIds(filters.sort if filters.sort in listing_index.SORTS else "relevance",
                                      parts, everything)
    return Listing(
        ids=ids,
        facets=Facets(
            groups=facet_groups,
            price_min=Decimal(low_price).scaleb(-2) if low_price is not None else None,
            price_max=Decimal(high_price).scaleb(-2) if high_price is not None else None,
            in_stock_count=in_stock_count,
        ),
    )
