"""What can go wrong when a shopper changes their cart. Each carries a message they can act on."""
from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class CartError(Exception):
    """Base class: `message` is shown to the shopper as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ItemUnavailable(CartError):
    """The variant does not exist, is inactive, belongs to another product or is not on sale."""

    def __init__(self) -> None:
        super().__init__(_("Sorry, this item is not available."))


class LineNotFound(CartError):
    def __init__(self) -> None:
        super().__init__(_("That item is no longer in your cart."))


class NotEnoughStock(CartError):
    def __init__(self, *, title: str, available: int, in_cart: int = 0) -> None:
        self.available = available
        self.in_cart = in_cart
        if available <= 0:
            message = _("Sorry, %(title)s is out of stock.") % {"title": title}
        elif in_cart:
            message = ngettext(
                "Only %(available)d of %(title)s is available, and you already have %(in_cart)d in your cart.",
                "Only %(available)d of %(title)s are available, and you already have %(in_cart)d in your cart.",
                available,
            ) % {"available": available, "title": title, "in_cart": in_cart}
        else:
            message = ngettext(
                "Only %(available)d of %(title)s is available.",
                "Only %(available)d of %(title)s are available.",
                available,
            ) % {"available": available, "title": title}
        super().__init__(message)


class LineLimitExceeded(CartError):
    def __init__(self, *, limit: int, in_cart: int = 0) -> None:
        self.limit = limit
        if in_cart:
            message = ngettext(
                "You can have at most %(limit)d of one item in your cart, and you already have %(in_cart)d.",
                "You can have at most %(limit)d of one item in your cart, and you already have %(in_cart)d.",
                limit,
            ) % {"limit": limit, "in_cart": in_cart}
        else:
            message = ngettext(
                "You can have at most %(limit)d of one item in your cart.",
                "You can have at most %(limit)d of one item in your cart.",
                limit,
            ) % {"limit": limit}
        super().__init__(message)
