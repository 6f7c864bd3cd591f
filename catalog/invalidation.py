"""Which storefront versions a committed change bumps (the versions: catalog/versions.py).

Called by the model signals (catalog/signals.py) and by every writer that bypasses them
(`QuerySet.update()`, bulk writes: catalog/services.py, catalog/stock.py). Each function reads what
it needs now, inside the caller's transaction (a product's category *before* a move, its stock
*before* a sale), and bumps after commit (`versions.bump_on_commit`).

| change | bumps |
| --- | --- |
| a unit reserved, released or restocked, product stays available (or unavailable) | its page |
| the same, product sells out or comes back | its page, its card, listings of its category chain |
| a shipment (on hand and reserved drop alike: nothing a shopper sees changes) | nothing |
| price, variant, option values | page, card, listings of its category chain |
| image | page, card, listings of its category chain |
| attributes | page, listings of its category chain |
| product saved, published, unpublished, created, deleted, moved | page, card, listings and members |
| (old and new categories on a move) | of its categories, the assortment |
| category, brand, option, attribute, location | the structure: everything |

Every change that bumps a card also bumps the listings of the product's category chain, so a
listing or search page depends on its listing versions alone, not on the 24 cards it shows:
two keys to check on a hit instead of 26 (a cached category page hit cost 1.8 ms instead of
1.0 ms in process with the cards).
"""
from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from . import versions
from .models import Category, Product, StockLevel


def _category_chains(category_ids: Iterable[int]) -> set[int]:
    """The categories and all their ancestors.

    From the cached tree when there is one (no query). Never built here: a writer runs inside its
    transaction, and a tree built there would put uncommitted categories in the shared cache.
    Without it, one query over the category table (a few hundred rows). A category created, moved
    or shown in this very transaction may be missing from the cached tree: that change bumps the
    structure version, and with it every page, on commit.
    """
    from .selectors import cached_category_tree

    wanted = set(category_ids) - {None}
    if not wanted:
        return set()
    tree = cached_category_tree()
    if tree is not None:
        parents = {node.id: node.parent_id for node in tree.by_id.values()}
    else:
        parents = dict(Category.objects.values_list("pk", "parent_id").order_by())
    chain: set[int] = set()
    for category_id in wanted:
        while category_id is not None and category_id not in chain:
            chain.add(category_id)
            category_id = parents.get(category_id)
    return chain


def product_keys(
    product_ids: Iterable[int],
    *,
    card: bool = True,
    listings: bool = True,
    members: bool = False,
    assortment: bool = False,
    categories: Iterable[int] | None = None,
) -> set[str]:
    """The version keys a change to `product_ids` touches.

    `categories` are the products' categories when the caller knows them (saves what the signal
    sees; a move passes old and new); otherwise they are read (one query, only when needed).
    """
    ids = set(product_ids)
    keys = {versions.product_key(pk) for pk in ids}
    listings = listings or card  # listing pages do not check their cards (module docstring)
    if card:
        keys.update(versions.card_key(pk) for pk in ids)
    if listings or members:
        if categories is None:
            categories = set(Product.objects.filter(pk__in=ids).values_list("category_id", flat=True).order_by())
        categories = set(categories)
        if listings:
            keys.update(versions.listing_key(pk) for pk in _category_chains(categories))
        if members:
            keys.update(versions.members_key(pk) for pk in categories)
    if assortment:
        keys.add(versions.ASSORTMENT_KEY)
    return keys


def products_changed(product_ids: Iterable[int], **kwargs) -> None:
    """Bump on commit what shows these products (see `product_keys` for the keyword arguments)."""
    ids = set(product_ids)
    if ids:
        versions.bump_on_commit(product_keys(ids, **kwargs))


def products_joined_or_left(products: QuerySet[Product], *, also_category: int | None = None) -> set[int]:
    """Before products are published, unpublished, moved or deleted: bump on commit their pages,
    cards, the listings and members of their categories (and of `also_category`, a move's
    destination) and the assortment. Returns their ids (one query)."""
    rows = list(products.order_by().values_list("pk", "category_id"))
    categories = {category_id for _pk, category_id in rows}
    if also_category is not None:
        categories.add(also_category)
    ids = {pk for pk, _category_id in rows}
    if ids:
        versions.bump_on_commit(
            product_keys(ids, members=True, assortment=True, categories=categories)
        )
    return ids


# --- Stock ----------------------------------------------------------------------------------------


def stock_rows_changed(deltas: dict[int, tuple[int, int]]) -> dict[int, int]:
    """After an UPDATE that added `(on_hand, reserved)` deltas to these stock rows, in the same
    transaction: bump on commit the pages of the products concerned, and return those with a row
    whose availability flipped (a variant sold out at a location, or came back there), as product
    id -> category id. One query.

    Reads every stock row of the products concerned as it is now; as it was before is now minus
    the deltas, so no query is needed before the write. A sale that leaves units on the row
    returns nothing. Whether the *product* sold out or came back is not decided here: this read
    may not see another order's sale of the product's other variant, not committed yet (READ
    COMMITTED). The caller passes what this returns to `listing_index.stock_flipped`, which reads
    the products' stock again under the listing index lock, and what that returns to
    `stock_availability_changed`.
    """
    from .stock import reach

    if not deltas:
        return {}
    owners = Product.objects.filter(variants__stock_levels__pk__in=list(deltas)).values("pk")
    rows = StockLevel.objects.filter(variant__product__in=owners).values_list(
        "pk", "variant__product_id", "variant__product__category_id", "on_hand", "reserved",
        "variant__is_active", "location__is_active", "location__ships_online_orders", "location__pickup_allowed",
    ).order_by()
    products: set[int] = set()
    flipped: dict[int, int] = {}
    for pk, product_id, category_id, on_hand, reserved, variant_active, location_active, ships, pickup in rows:
        products.add(product_id)
        # A row shoppers cannot buy from online (a counter-only shop) never changes a card.
        if pk not in deltas or not variant_active or not reach(
            is_active=location_active, ships_online_orders=ships, pickup_allowed=pickup
        ):
            continue
        on_hand_delta, reserved_delta = deltas[pk]
        if (on_hand > reserved) != (on_hand - on_hand_delta > reserved - reserved_delta):
            flipped[product_id] = category_id
    versions.bump_on_commit(versions.product_key(pk) for pk in products)
    return flipped


def stock_availability_changed(products: dict[int, int]) -> None:
    """Products that sold out or came back (product id -> category id), as decided under the
    listing index lock (`listing_index.stock_flipped`): bump on commit their cards and the
    listings of their category chains (no query with the category tree cached)."""
    if products:
        versions.bump_on_commit(product_keys(products, categories=set(products.values())))
