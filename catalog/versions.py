"""The versions storefront pages and fragments are checked against: as fine as the change.

A cached page is stamped with the versions of exactly what it shows, and is served again only
while every one of them is unchanged. The versions (cache keys, values that only ever change):

- `VERSION_KEY`, the *structure*: the category tree, brands, options, attributes, locations (menus,
  breadcrumbs, facet names, brand names on cards). Every page depends on it, so bumping it
  (`catalog.cache.bump_catalog_version`, also after a bulk load) invalidates everything at once.
- `product_key(id)`: everything the product's own page shows, down to the units left per location.
- `card_key(id)`: what the product's card shows (title, brand, price range, sale, picture, in or
  out of stock), where cards appear outside a listing (home, a product page's neighbours). Units
  selling without the product selling out leave it alone.
- `listing_key(category id)`: which products a listing of that category (its subtree included)
  shows, in which order, with which facet counts, and their cards. Bumped for a product's category
  and every ancestor when a product joins or leaves, changes price, sells out or comes back, or
  anything else on its card changes.
- `members_key(category id)`: which published products are in exactly that category (the "more
  from this category" on a product page); only joining and leaving bump it.
- `ASSORTMENT_KEY`: the published assortment as a whole and its searchable text (home page,
  searches, suggestions, popular categories): a product published, unpublished, created, deleted,
  moved or edited.

Pages say what they depend on while they render (`depends_on`); `Recording.stamp()` then reads
those versions, and `is_current(stamp)` checks them on a hit: one `get_many` each, no database.
Which change bumps what is decided in catalog/invalidation.py.

A render can read the database before a change commits and the versions after it is bumped; the
entry would then carry new versions over old data. Every bump therefore also moves `SEQ_KEY`, read
before the render and again with the stamp: a page rendered while anything changed is not stored.

New values come from the clock (microseconds, plus a random tail so two processes bumping in the
same microsecond still differ): a key evicted or flushed and created again never takes back a value
an old entry was stamped with.
"""
from __future__ import annotations

import contextvars
import math
import secrets
import time
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

VERSION_KEY = "catalog:version"
SEQ_KEY = "catalog:v:seq"
ASSORTMENT_KEY = "catalog:v:assortment"

Stamp = tuple[tuple[str, ...], tuple[int, ...]]


def product_key(product_id: int) -> str:
    return f"catalog:v:product:{product_id}"


def card_key(product_id: int) -> str:
    return f"catalog:v:card:{product_id}"


def listing_key(category_id: int) -> str:
    return f"catalog:v:listing:{category_id}"


def members_key(category_id: int) -> str:
    return f"catalog:v:members:{category_id}"


def card_keys(products: Iterable) -> list[str]:
    """Card versions of `products` (instances or ids)."""
    return [card_key(getattr(product, "pk", product)) for product in products]


def new_value() -> int:
    return time.time_ns() // 1000 * 1000 + secrets.randbelow(1000)


# --- Bumping --------------------------------------------------------------------------------------


def bump(keys: Iterable[str]) -> None:
    """Give every key in `keys` a new value now (one round trip), and move `SEQ_KEY` with them."""
    values = {key: new_value() for key in keys}
    if values:
        values[SEQ_KEY] = new_value()
        cache.set_many(values, timeout=None)


def bump_on_commit(keys: Iterable[str]) -> None:
    """Bump `keys` once the surrounding transaction commits (immediately outside one).

    Bumping before commit would let a concurrent request cache the old data under the new versions.
    Robust: a cache that is down after the change committed is logged, and neither fails the
    request nor stops the callbacks queued after this one (the order emails, say); entries cached
    before the outage then live at most STOREFRONT_CACHE_SECONDS.
    """
    keys = frozenset(keys)
    if keys:
        transaction.on_commit(lambda: bump(keys), robust=True)


# --- What a page depends on -----------------------------------------------------------------------

_recording: contextvars.ContextVar[Recording | None] = contextvars.ContextVar(
    "catalog_versions_recording", default=None
)


class Recording:
    """The versions one render depends on; `seq` is `SEQ_KEY` as read before the render began."""

    def __init__(self, seq: int | None) -> None:
        self.seq = seq
        self.keys: set[str] = {VERSION_KEY}
        self.expires_at: datetime | None = None  # see `valid_until`

    def timeout(self, default: int) -> int | None:
        """How long the page may be kept: `default` seconds, less if it changes by itself sooner;
        None when that moment has already come (do not store it)."""
        if self.expires_at is None:
            return default
        left = math.ceil((self.expires_at - timezone.now()).total_seconds())
        return min(default, left) if left > 0 else None

    def stamp(self) -> Stamp | None:
        """The current values of every recorded key, or None if anything was bumped meanwhile.

        Keys never set yet get a new value (one `set_many`); overwriting one a bump set a moment
        ago is harmless, since that only invalidates more.
        """
        keys = sorted(self.keys)
        found = cache.get_many([*keys, SEQ_KEY])
        missing = [key for key in keys if key not in found]
        if missing:
            cache.set_many({key: new_value() for key in missing}, timeout=None)
            found = cache.get_many([*keys, SEQ_KEY])
            if any(key not in found for key in keys):  # a cache too small to hold them: do not store
                return None
        if found.get(SEQ_KEY) != self.seq:
            return None
        return tuple(keys), tuple(found[key] for key in keys)


@contextmanager
def recording(*, seq: int | None):
    """Collect what the code run inside depends on (see `depends_on`)."""
    current = Recording(seq)
    token = _recording.set(current)
    try:
        yield current
    finally:
        _recording.reset(token)


def depends_on(*keys: str) -> None:
    """The page being rendered shows what these versions cover (a no-op outside `recording`)."""
    current = _recording.get()
    if current is not None:
        current.keys.update(keys)


def valid_until(moment: datetime) -> None:
    """The page being rendered changes by itself at `moment` (a sale label starting or ending on
    schedule, promotions/labels.py): its cache entry must not outlive it (a no-op outside
    `recording`). No version has to move for that, so nothing else is invalidated."""
    current = _recording.get()
    if current is not None and (current.expires_at is None or moment < current.expires_at):
        current.expires_at = moment


def is_current(stamp: Stamp) -> bool:
    """Every version `stamp` was taken at still holds (one `get_many`)."""
    try:
        keys, values = stamp
    except (TypeError, ValueError):  # an entry from before fine-grained versions
        return False
    found = cache.get_many(keys)
    return len(found) == len(keys) and all(found.get(key) == value for key, value in zip(keys, values))


def fragment_key(*parts: object, versions: Iterable[str] = ()) -> str:
    """A cache key for a fragment that shows what `versions` cover (the structure always).

    The key carries the values, so a bump makes older fragments unreachable (one `get_many`).
    """
    keys = [VERSION_KEY, *versions]
    found = cache.get_many(keys)
    missing = {key: new_value() for key in keys if key not in found}
    if missing:
        for key, value in missing.items():
            cache.add(key, value, timeout=None)
        found.update(cache.get_many(list(missing)))
    # A key the cache could not keep gets this render's new value: never found again, never stale.
    values = [found.get(key) or missing[key] for key in keys]
    return ":".join(["catalog", *map(str, values), *map(str, parts)])
