"""Gift cards as a provider: the money is the card's balance, kept by the giftcards app.

Paying happens when the order is placed (`payments.services.gift_cards.pay_with_gift_cards`),
never through a payment page; a refund credits the card it came from, at once.
"""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from ..models import Payment, Provider, Refund
from .base import RefundResult


class GiftCardProvider:
    name = Provider.GIFT_CARD

    def start(self, payment: Payment, request: HttpRequest) -> HttpResponse:
        raise TypeError("Gift card payments are taken when the order is placed, never started by shoppers.")

    def refund(self, refund: Refund) -> RefundResult:
        from giftcards.services import credit_refund

        transaction = credit_refund(refund=refund)
        return RefundResult(reference=f"giftcard_re_{refund.pk}", succeeded=True,
                            note=f"Credited to gift card {transaction.card.display_code}.")
