"""Manual payments: money staff received outside the store (a bank transfer, cash at the shop).

Staff record one with "Mark paid" on the order (`payments.services.record_manual_payment`); no
provider is involved. Refunding one records the refund and nothing else: staff pay the money
back by hand, and the refund's reason says so.
"""
from __future__ import annotations

import secrets

from django.http import HttpRequest, HttpResponse

from ..models import Payment, Provider, Refund
from .base import RefundResult

REFUND_NOTE = "Manual payment: no money moved through a provider; staff pay this back to the customer by hand."


class ManualProvider:
    name = Provider.MANUAL

    def start(self, payment: Payment, request: HttpRequest) -> HttpResponse:
        raise TypeError("Manual payments are recorded by staff (record_manual_payment), never started by shoppers.")

    def refund(self, refund: Refund) -> RefundResult:
        return RefundResult(reference=f"manual_re_{secrets.token_hex(12)}", succeeded=True, note=REFUND_NOTE)
