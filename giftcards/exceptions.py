"""What can go wrong with a gift card, in words a shopper can act on."""
from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop


class GiftCardError(Exception):
    pass


class CardNotFound(GiftCardError):
    def __str__(self) -> str:
        return _("We could not find a gift card with this code. Check it and try again.")


class CardNotUsable(GiftCardError):
    MESSAGES = {
        "inactive": gettext_noop("This gift card has been deactivated. Please contact us."),
        "expired": gettext_noop("This gift card has expired."),
        "empty": gettext_noop("This gift card has no balance left."),
        "currency": gettext_noop("This gift card is in another currency and cannot be used in this store."),
        "not_delivered": gettext_noop("This gift card is not active yet."),
    }

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return _(self.MESSAGES.get(self.reason, "This gift card cannot be used."))


class TooManyAttempts(GiftCardError):
    def __str__(self) -> str:
        return _("Too many gift card codes tried. Please wait a few minutes and try again.")


class InsufficientBalance(GiftCardError):
    """Internal: a debit larger than the balance (callers take at most the balance)."""
