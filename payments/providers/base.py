"""What a payment provider does for the store: open a payment page, and give money back.

Everything else (what a confirmed payment means for the order, refund limits, the ledger) is
`payments.services`', so adding a provider means implementing these three members only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from django.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from ..models import Payment, Refund


@dataclass(frozen=True)
class RefundResult:
    """What the provider said about a refund it was asked for."""

    reference: str  # the provider's refund id
    succeeded: bool  # False: accepted but still on its way (Stripe "pending"); its webhook says how it ends
    note: str = ""  # added to the refund's reason for staff, e.g. that the money goes back by hand


class PaymentProvider(Protocol):
    name: str  # a payments.models.Provider value

    def start(self, payment: Payment, request: HttpRequest) -> HttpResponse:
        """Send the shopper to pay `payment` (a saved, pending row): a redirect to the payment page.

        May fill in the provider's references on `payment` and save them. Called outside any
        transaction (it may talk to the network). Raises ProviderUnavailable when it cannot.
        """
        ...

    def refund(self, refund: Refund) -> RefundResult:
        """Give `refund.amount` of `refund.payment` back; say what the provider answered.

        The caller holds the payment's row lock and has checked the amount. Uses
        `refund.idempotency_key`, so a retried call never refunds twice. Raises
        ProviderUnavailable when the provider refuses or cannot be reached (nothing refunded).
        """
        ...
