"""Payment errors a view or the back office can show as they are (translated sentences)."""
from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _

from shop.money import format_money


class PaymentError(Exception):
    """Base class: `str(error)` is a sentence fit for the shopper or staff."""


class OrderNotPayable(PaymentError):
    """Nothing was charged. `reason` picks the sentence: "paid", "cancelled", "expired" (closed, or
    its reservation ran out), "review" (a payment of it took money staff must settle first), or "" for the
    general one."""

    def __init__(self, *, number: str, reason: str = "") -> None:
        self.reason = reason
        sentences = {
            "paid": _("Order %(number)s is already paid. Nothing more was charged."),
            "cancelled": _("Order %(number)s was cancelled, so it cannot be paid. Nothing was charged."),
            "expired": _("Order %(number)s was not paid in time and its items are no longer reserved, so it cannot "
                         "be paid now. Nothing was charged; please place a new order."),
            "review": _("We have received a payment for order %(number)s that does not match it, and our team is "
                        "checking it. Nothing more was charged; we will contact you."),
        }
        default = _("Order %(number)s is no longer waiting for payment, so it cannot be paid now.")
        super().__init__(sentences.get(reason, default) % {"number": number})


class ProviderUnavailable(PaymentError):
    """The provider could not be reached or refused the request; nothing was charged or refunded.

    `payment`: when raised by `services.start_payment`, the attempt it could not open (cancelled,
    its status page offers to pay again). `answered`: the provider answered and refused (a refund
    asked again with the same idempotency key gets the same refusal); False when no answer came
    (the network, a timeout), so whether it acted is unknown until it is asked again."""

    def __init__(self, *, detail: str = "", answered: bool = False) -> None:
        self.detail = detail
        self.answered = answered
        self.payment = None
        super().__init__(_("The payment service could not be reached. Nothing was charged; please try again."))


class RefundNotAllowed(PaymentError):
    def __init__(self, *, requested: Decimal, refundable: Decimal, currency: str) -> None:
        self.requested, self.refundable = requested, refundable
        super().__init__(
            _("Cannot refund %(requested)s: only %(refundable)s of this payment can still be refunded.")
            % {"requested": format_money(requested, currency), "refundable": format_money(refundable, currency)}
        )
