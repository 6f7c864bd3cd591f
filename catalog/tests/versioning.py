"""Reading storefront versions in tests (catalog/versions.py)."""
from django.core.cache import cache

from catalog import versions


def read(*keys: str) -> dict[str, int]:
    """The current value of each key, giving one to keys never set (as a page render would)."""
    found = cache.get_many(keys)
    missing = {key: versions.new_value() for key in keys if key not in found}
    cache.set_many(missing, timeout=None)
    return {**found, **missing}


def moved(before: dict[str, int]) -> set[str]:
    """The keys of `before` whose value is not the same any more."""
    now = cache.get_many(list(before))
    return {key for key, value in before.items() if now.get(key) != value}
