"""Which products are digital: emailed, never shipped or stocked. Today that is a gift card
product (`GiftCardProduct`); the cart, checkout and placement ask here, not about gift cards.

No imports of other apps: carts, checkout and orders all read it.
"""
from __future__ import annotations


def is_digital(product) -> bool:
    """Whether `product` is delivered by email, not shipped: a gift card product.

    No query when the product was read with `select_related("gift_card")` (the cart's read and
    placement's do: `variant__product__gift_card`). Nothing of a digital product is stocked; its
    lines need no stock, no shipping address and no delivery method, and shipping is never
    priced on them.
    """
    return hasattr(product, "gift_card")
