"""Writes for sales channels: where products are sold."""
from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from catalog import invalidation
from catalog.listing_index import invalidate_categories
from catalog.models import Location, Product

from .models import Channel, Publication


def set_sold_in(*, product_ids: Iterable[int], sold_in: str) -> int:
    """Sell these products online only, in shops only, or both; return how many changed.

    One transaction; "both" removes the products' rows (no row means both). Products whose
    presence on the web store changes (to or from "shops only") leave or join the storefront: their
    pages, cards, listings and the listing index are invalidated in the same transaction / on
    commit, as for publishing in the catalog. ValueError for an unknown choice.
    """
    if sold_in not in Publication.SoldIn.values:
        raise ValueError(f"unknown choice {sold_in!r}")
    ids = sorted(set(product_ids))
    with transaction.atomic():
        current = dict(
            Publication.objects.select_for_update().filter(product_id__in=ids).order_by("product_id")
            .values_list("product_id", "sold_in")
        )
        changed = [pk for pk in ids if current.get(pk, Publication.SoldIn.BOTH) != sold_in]
        if not changed:
            return 0
        shops_only = Publication.SoldIn.SHOPS
        on_web_changes = [
            pk for pk in changed if (current.get(pk) == shops_only) != (sold_in == shops_only)
        ]
        if on_web_changes:
            invalidation.products_joined_or_left(Product.objects.filter(pk__in=on_web_changes))
            invalidate_categories(products=on_web_changes)
        Publication.objects.filter(product_id__in=changed).delete()
        if sold_in != Publication.SoldIn.BOTH:
            Publication.objects.bulk_create([Publication(product_id=pk, sold_in=sold_in) for pk in changed])
        return len(changed)


def ensure_counter_channels() -> list[Channel]:
    """A counter channel ("pos-<location code>") for every active shop that has none; returns the new ones."""
    with transaction.atomic():
        have = set(Channel.objects.filter(kind=Channel.Kind.POS).values_list("location_id", flat=True))
        created = [
            Channel.objects.create(code=f"pos-{shop.code}"[:40], name=f"{shop.name} counter", kind=Channel.Kind.POS,
                                   location=shop)
            for shop in Location.objects.filter(kind=Location.Kind.SHOP, is_active=True).order_by("pk")
            if shop.pk not in have
        ]
    return created
