"""The payment providers, and which one takes payments: Stripe when STRIPE_SECRET_KEY is set,
otherwise the demo provider (test cards, no money moves). The manual provider never takes
payments from shoppers: it refunds the payments staff recorded by hand."""
from __future__ import annotations

from django.conf import settings

from ..models import Provider
from .base import PaymentProvider, RefundResult


def default_provider_name() -> str:
    return Provider.STRIPE if settings.STRIPE_SECRET_KEY else Provider.DEMO


def get_provider(name: str | None = None) -> PaymentProvider:
    """The provider called `name`, or the one that takes new payments when None.

    A refund goes through the provider that took the payment (`payment.provider`), even after
    the store switched: a demo payment from before Stripe was configured refunds as a demo.
    """
    name = name or default_provider_name()
    if name == Provider.STRIPE:
        from .stripe import StripeProvider

        return StripeProvider()
    if name == Provider.DEMO:
        from .demo import DemoProvider

        return DemoProvider()
    if name in (Provider.MANUAL, Provider.CASH, Provider.CARD_TERMINAL):
        from .manual import ManualProvider

        return ManualProvider()
    if name == Provider.GIFT_CARD:
        from .gift_card import GiftCardProvider

        return GiftCardProvider()
    raise ValueError(f"Unknown payment provider {name!r}.")


__all__ = ["PaymentProvider", "RefundResult", "default_provider_name", "get_provider"]
