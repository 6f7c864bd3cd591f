"""Why checkout cannot go on, each with a message the shopper can act on (`str(error)`)."""
from __future__ import annotations

from django.utils.translation import gettext as _


class CheckoutError(Exception):
    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.default_message())

    def default_message(self) -> str:
        return _("Checkout could not continue.")


class EmptyCart(CheckoutError):
    def default_message(self) -> str:
        return _("Your cart is empty. Add something before checking out.")


class CartNotReady(CheckoutError):
    """A line changed (price, stock, no longer sold) since the shopper last looked at the cart."""

    def __init__(self, warnings: list[str]) -> None:
        self.warnings = warnings
        super().__init__(" ".join([_("Please check your cart before paying:"), *warnings]))


class ShippingUnavailable(CheckoutError):
    def default_message(self) -> str:
        return _("The delivery option you chose is no longer available. Please choose another.")
