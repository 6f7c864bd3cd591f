"""The demo provider: an on-site card form with test cards, so the whole flow runs offline.

No money moves and no card data is stored. 4242 4242 4242 4242 succeeds and 4000 0000 0000 0002
is declined, the numbers Stripe's test mode uses for the same outcomes. Refunds succeed at once.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext as _

from ..links import demo_url
from ..models import Payment, Provider, Refund
from .base import RefundResult

CARD_SUCCEEDS = "4242424242424242"
CARD_DECLINED = "4000000000000002"
TEST_CARDS = (CARD_SUCCEEDS, CARD_DECLINED)


@dataclass(frozen=True)
class DemoCharge:
    succeeded: bool
    reference: str  # the "payment id" a real provider would return; empty when declined
    message: str  # why it was declined, for the shopper


class DemoProvider:
    name = Provider.DEMO

    @staticmethod
    def new_session_id() -> str:
        return f"demo_cs_{secrets.token_hex(12)}"

    def start(self, payment: Payment, request: HttpRequest) -> HttpResponse:
        # No query when the payment was created with its session id (payments.services does).
        if not payment.provider_session_id:
            payment.provider_session_id = self.new_session_id()
            payment.save(update_fields=["provider_session_id", "updated_at"])
        return HttpResponseRedirect(demo_url(payment))

    def charge(self, *, payment: Payment, card_number: str) -> DemoCharge:
        """Pretend to charge `card_number` (digits only, already validated as a test card)."""
        if card_number == CARD_SUCCEEDS:
            return DemoCharge(succeeded=True, reference=f"demo_pi_{secrets.token_hex(12)}", message="")
        return DemoCharge(
            succeeded=False, reference="",
            message=_("Your card was declined. No money was taken; please try another card."),
        )

    def refund(self, refund: Refund) -> RefundResult:
        return RefundResult(reference=f"demo_re_{secrets.token_hex(12)}", succeeded=True)
