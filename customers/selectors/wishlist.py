"""Reads for the shopper's wishlist: each saved product at today's price and stock.

Prices and availability come from the catalog's own card annotations (`catalog.selectors.
with_card_data`: cheapest active variant, stock over active locations), so the wishlist says the
same thing as the product card the shopper saved it from, and no stock arithmetic lives here.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery

from catalog.models import Product, Variant
from catalog.selectors import category_tree, with_card_data
from saleschannels.selectors import sold_online

from ..models import Customer, WishlistItem


def _with_wishlist_data(queryset: QuerySet[Product]) -> QuerySet[Product]:
    """Card data plus how many active variants there are and the cheapest one's id (for the
    wishlist's add-to-cart button, which can only add a product that has a single choice)."""
    active = Variant.objects.filter(product=OuterRef("pk"), is_active=True)
    return with_card_data(queryset).annotate(
        active_variant_count=Subquery(
            active.order_by().values("product").annotate(n=Count("pk")).values("n")[:1], output_field=IntegerField()
        ),
        cheapest_variant_id=Subquery(active.order_by("price", "pk").values("pk")[:1]),
    )


def _is_on_sale(product: Product) -> bool:
    """What `Product.objects.published()` asks, for a product already loaded (no query: the
    category tree is cached; the publication is joined)."""
    return (product.status == Product.Status.ACTIVE and product.category_id in category_tree().by_id
            and sold_online(product))


@dataclass
class WishlistEntry:
    item: WishlistItem
    product: Product  # with the card annotations: price, compare_at_price, in_stock, ordered_images
    on_sale: bool  # published now (active, in a shown category) with at least one active variant

    @property
    def price(self) -> Decimal | None:
        return self.product.price

    @property
    def in_stock(self) -> bool:
        return self.on_sale and bool(self.product.in_stock)

    @property
    def price_dropped(self) -> bool:
        return self.on_sale and self.price is not None and self.price < self.item.price_when_added

    @property
    def back_in_stock(self) -> bool:
        return self.in_stock and not self.item.was_in_stock

    @property
    def cart_variant_id(self) -> int | None:
        """The variant "Add to cart" adds: only when there is no choice to make and it is in stock."""
        if self.in_stock and self.product.active_variant_count == 1:
            return self.product.cheapest_variant_id
        return None


def wishlist_entries(*, customer: Customer) -> list[WishlistEntry]:
    """The customer's saved products, newest first, at today's price and stock.

    Three queries however long the list: the items, the annotated products, their images (the
    category tree comes from the cache).
    """
    items = list(WishlistItem.objects.filter(customer=customer).order_by("-created_at", "-pk"))
    if not items:
        return []
    products = {
        product.pk: product
        for product in _with_wishlist_data(
            Product.objects.filter(pk__in=[item.product_id for item in items]).select_related("publication")
        )
    }
    entries = []
    for item in items:
        product = products[item.product_id]
        on_sale = _is_on_sale(product) and product.price is not None
        entries.append(WishlistEntry(item=item, product=product, on_sale=on_sale))
    return entries


@dataclass(frozen=True)
class WishlistSnapshot:
    """A product as it is when someone saves it: the price and stock the wishlist compares with."""

    product: Product
    price: Decimal
    in_stock: bool


def wishlist_snapshot(*, product_id: int) -> WishlistSnapshot | None:
    """The published product `product_id` with its cheapest active price and whether any of it is
    in stock, or None when shoppers may not see it or nothing of it is for sale (one query)."""
    product = (
        with_card_data(Product.objects.published().filter(pk=product_id)).prefetch_related(None).first()
    )
    if product is None or product.price is None:
        return None
    return WishlistSnapshot(product=product, price=product.price, in_stock=bool(product.in_stock))

