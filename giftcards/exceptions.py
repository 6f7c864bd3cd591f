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


class CannotResend(GiftCardError):
    """A resend (or a recipient change) refused, with the reason in words staff or a shopper can act on."""

    MESSAGES = {
        "inactive": gettext_noop("This gift card is deactivated: it is not sent again."),
        "unpaid": gettext_noop("This gift card is not paid yet: it is emailed once its order is paid."),
        "no_recipient": gettext_noop("Enter the email address to send the card to."),
        "not_yours": gettext_noop("Only the person who bought this card can have it sent again."),
        "used": gettext_noop("This card has already been used: only the store can send it to another address."),
        "too_often": gettext_noop("This card was sent again too often today. Please try tomorrow or contact us."),
        "key": gettext_noop("This page was out of date. Please try again."),
        "scheduled": gettext_noop("This card is emailed on its delivery day; nothing was sent now. Enter another "
                                  "address to change who gets it."),
    }

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return _(self.MESSAGES.get(self.reason, "This gift card cannot be sent again."))
