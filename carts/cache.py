"""The header's cart count, kept in the cache so a page served from the page cache needs no cart query.

Two small entries, both in the shared cache (so every process and device sees the same):

- `carts:items:<cart id>`: how many units the cart holds;
- `carts:user-cart:<user id>`: which cart is the customer's (0 for none), so a signed-in
  shopper's count is found without a query; a guest's session already names their cart.

Every write that changes how many units a cart holds, or which cart a customer has, forgets the
entries concerned once its transaction commits (`forget_cart_counts`); the next read counts again
(one query) and keeps the result. The cart services call it, and so does the one cascade that
removes lines behind their back (a variant deleted by staff, carts/signals.py). Entries also
expire after STOREFRONT_CACHE_SECONDS, which bounds the only known race: a count read just before
a concurrent write commits and stored just after it forgot the entry. The cart page and the htmx
mini-cart refresh store the count they have just read, which ends it sooner.
"""
from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

NO_CART = 0


def item_count_key(cart_id: int) -> str:
    return f"carts:items:{cart_id}"


def user_cart_key(user_id: int) -> str:
    return f"carts:user-cart:{user_id}"


def remember(entries: dict[str, int]) -> None:
    cache.set_many(entries, settings.STOREFRONT_CACHE_SECONDS)


def forget_cart_counts(*, cart_ids: Iterable[int | None] = (), user_ids: Iterable[int | None] = ()) -> None:
    """Forget the counts of `cart_ids` and which cart `user_ids` have, once the transaction commits.

    Forgetting before the commit would let a concurrent read store the old count again. A cache
    that is down is logged and does not fail the write (`robust`); entries expire on their own.
    """
    keys = [item_count_key(pk) for pk in cart_ids if pk] + [user_cart_key(pk) for pk in user_ids if pk]
    if keys:
        transaction.on_commit(lambda: cache.delete_many(keys), robust=True)
