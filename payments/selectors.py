"""Reads for the shopper's payment pages: which payment a visitor may open, and what it says."""
from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.utils.translation import gettext as _


from .links import payment_id_from_token, started_here
from .models import Payment, Provider

S = Payment.Status


def payment_for_visitor(*, token: str, request: HttpRequest) -> Payment | None:
    """The payment a signed token names, if this visitor may see it, else None (answer 404).

    The token must be ours and unaltered, and the payment must have been started in this
    browser session or belong to the signed-in customer who owns the order. One query.
    """
    payment_id = payment_id_from_token(token)
    if payment_id is None:
        return None
    payment = Payment.objects.select_related("order").filter(pk=payment_id).first()
    if payment is None:
        return None
    if started_here(request, payment.pk):
        return payment
    user = request.user
    if user.is_authenticated and payment.order.user_id == user.pk:
        return payment
    return None


@dataclass(frozen=True)
class PaymentState:
    key: str  # paid | processing | not_paid | failed | cancelled | not_kept
    title: str
    message: str
    polling: bool  # still waiting for the provider: the page keeps asking
    can_retry: bool  # the order still waits for payment: offer to pay again


def payment_state(*, payment: Payment, left: bool = False) -> PaymentState:
    """What the "payment processing" page says. `left`: the shopper came back from the provider's
    page without paying (Stripe's cancel_url). No queries (the order is joined)."""
    order = payment.order
    can_retry = order.is_awaiting_payment
    if payment.status == S.SUCCEEDED and order.kept_payment:
        return PaymentState("paid", _("Payment received"), _("Thank you: your order is confirmed."), False, False)
    if payment.status == S.SUCCEEDED:
        return PaymentState(
            "not_kept", _("We could not complete your order"),
            _("Your payment arrived, but we could not confirm the order with it. It is refunded in full, or our "
              "team will contact you about it shortly."), False, False,
        )
    if payment.status == S.FAILED:
        return PaymentState(
            "failed", _("Payment failed"),
            payment.failure_message or _("Your payment did not go through. No money was taken."), False, can_retry,
        )
    if payment.status == S.CANCELLED or not can_retry:
        return PaymentState(
            "cancelled", _("Payment not completed"),
            _("The payment was not completed, and no money was taken."), False, can_retry,
        )
    # Back from the provider's page without paying, or a demo form never sent: nothing is on its way.
    if payment.status == S.PENDING and (left or payment.provider == Provider.DEMO):
        return PaymentState(
            "not_paid", _("You have not paid yet"),
            _("Your items are still reserved for a little while. You can pay now."), False, True,
        )
    return PaymentState(
        "processing", _("Payment processing"),
        _("We are waiting for the payment provider to confirm your payment. This page updates by itself."),
        True, False,
    )
