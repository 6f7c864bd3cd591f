"""Reads for sales channels: which products a channel sells and at what price."""
from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import QuerySet

from catalog.models import Product, Variant

from .models import WEB, Channel, Publication, PriceListEntry


def not_sold_online() -> QuerySet[Publication]:
    """Ids of products sold in shops only, as a subquery (`Product.objects.published()` excludes them)."""
    return Publication.objects.filter(sold_in=Publication.SoldIn.SHOPS).values("product_id")


def channel_products(*, channel: Channel) -> QuerySet[Product]:
    """Products `channel` sells: the catalog's active products in active categories it publishes."""
    if channel.sells_online:
        return Product.objects.published()
    products = Product.objects.on_sale_anywhere()
    if channel.kind == Channel.Kind.POS:
        products = products.exclude(
            pk__in=Publication.objects.filter(sold_in=Publication.SoldIn.ONLINE).values("product_id")
        )
    return products


def channel_prices(*, channel: Channel, variant_ids: Iterable[int]) -> dict[int, Decimal]:
    """The unit price of each variant on `channel`: its price list's entry, else the catalog price.

    Two queries at most (one without a price list). Variants that do not exist are left out.
    """
    ids = list(dict.fromkeys(variant_ids))
    prices = dict(Variant.objects.filter(pk__in=ids).values_list("pk", "price"))
    if channel.price_list_id and prices:
        prices.update(
            PriceListEntry.objects.filter(price_list_id=channel.price_list_id, variant_id__in=prices)
            .values_list("variant_id", "price")
        )
    return prices


def web_channel() -> Channel:
    return Channel.objects.get(pk=WEB)


def counter_channel(*, location_id: int) -> Channel | None:
    """The active shop counter channel of a location, if it has one."""
    return Channel.objects.filter(kind=Channel.Kind.POS, location_id=location_id, is_active=True).first()


def sold_online(product: Product) -> bool:
    """Whether the web store sells `product`, for one loaded with `select_related("publication")`
    (no query); the queryset form is `Product.objects.published()`."""
    try:
        publication = product.publication
    except Publication.DoesNotExist:
        return True
    return publication.sold_in != Publication.SoldIn.SHOPS
