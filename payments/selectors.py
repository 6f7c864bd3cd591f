"""Reads for the shopper's payment pages: which payment a visitor may open, and what it says."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import DecimalField, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.translation import gettext as _

from orders.models import Order, paid_orders

from .links import payment_id_from_token, started_here
from .models import Payment, Provider, Refund

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
    key: str  # paid | processing | not_paid | failed | unavailable | cancelled | not_kept
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
        # Say a refund only when there is one: a payment of a different amount waits for staff.
        if payment.refunds.exclude(status=Refund.Status.FAILED).exists():
            message = _("Your payment arrived, but we could not confirm the order with it, so it is being refunded "
                        "in full. Refunds can take a few days to reach your account.")
        else:
            message = _("Your payment arrived, but it does not match this order, so the order is not confirmed "
                        "yet. Our team is checking it and will contact you; please do not pay again.")
        return PaymentState("not_kept", _("We could not complete your order"), message, False, False)
    if payment.status == S.FAILED:
        return PaymentState(
            "failed", _("Payment failed"),
            payment.failure_message or _("Your payment did not go through. No money was taken."), False, can_retry,
        )
    if payment.status == S.CANCELLED and payment.failure_message == Payment.NOT_OPENED and can_retry:
        # start_payment could not open the provider's page: the provider was never reached.
        return PaymentState(
            "unavailable", _("Your order is not paid yet"),
            _("We could not reach the payment service, so nothing was charged. Your order is saved and its items "
              "are reserved for a little while: press Pay now to try again."), False, True,
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


# --- Money an order holds but did not keep -------------------------------------------------------

# SQLite adds decimals up as floating point numbers: compare sums with half a cent of slack.
_HALF_CENT = Value(Decimal("0.005"), output_field=DecimalField(max_digits=12, decimal_places=3))


def holds_unkept_money() -> Q:
    """On Order rows: the order took money it did not keep, and nobody has given it back yet.

    A payment succeeded (the provider took the money), the order is not in a paid status (a
    different amount or currency was never marked paid; a late payment for an expired or
    cancelled order), and that payment is not refunded in full (succeeded and pending refunds
    count: money on its way back is in the provider's hands). Such an order is staff's to settle:
    expiry leaves it alone (`orders.services.expiry`), the shopper cannot pay it a second time
    (`services.start_payment`), and the back office lists it as needing attention
    (`orders.admin.filters.NeedsAttentionFilter`, the banner on the admin index). An EXISTS on
    the `payment_order_status` index: cheap on the whole order table.
    """
    # Gift card payments are left out: an unpaid order gives them back itself when it expires or is
    # cancelled (`services.release_gift_card_payments`).
    return ~paid_orders() & Q(Exists(_unreturned(
        Payment.objects.filter(order=OuterRef("pk")).exclude(provider=Provider.GIFT_CARD))))


def _unreturned(payments: QuerySet[Payment]) -> QuerySet[Payment]:
    """The succeeded ones of `payments` not refunded in full (pending refunds count as returned)."""
    money = DecimalField(max_digits=12, decimal_places=2)
    returned = (
        Refund.objects.filter(payment=OuterRef("pk"), status__in=(Refund.Status.SUCCEEDED, Refund.Status.PENDING))
        .order_by().values("payment").annotate(s=Sum("amount")).values("s")
    )
    return payments.filter(status=S.SUCCEEDED).alias(
        returned=Coalesce(Subquery(returned), Value(Decimal("0"), output_field=money))
    ).filter(amount__gt=F("returned") + _HALF_CENT)


def orders_needing_attention() -> QuerySet[Order]:
    """Orders holding money they did not keep (`holds_unkept_money`), oldest first."""
    return Order.objects.filter(holds_unkept_money()).order_by("created_at", "pk")


# --- What the shopper's order page says about the latest payment ----------------------------------


@dataclass(frozen=True)
class Attempt:
    """The payment an unpaid order's page talks about: money that arrived, else the latest try."""

    status: str  # a Payment.Status value
    provider: str
    reason: str = ""  # why it failed, as the provider told the shopper (never card data)
    holds_money: bool = False  # it succeeded and was not refunded: money the order holds


def payment_attempt(*, order: Order) -> Attempt | None:
    """What the order's payments say for its page: one that took money not given back first,
    else its latest attempt; None when it has none. One query (an order has a few payments)."""
    # Gift card payments are not attempts: taken at placement, given back if the order is not paid.
    attempts = list(Payment.objects.filter(order=order).exclude(provider=Provider.GIFT_CARD).annotate(
        holds=Exists(_unreturned(Payment.objects.filter(pk=OuterRef("pk"))))
    ).order_by("-pk").values_list("status", "provider", "failure_message", "holds"))
    if not attempts:
        return None
    status, provider, reason, holds = next((a for a in attempts if a[3]), attempts[0])
    return Attempt(status=status, provider=provider, reason=reason if status == S.FAILED else "", holds_money=holds)


def with_latest_attempt(orders: QuerySet[Order]) -> QuerySet[Order]:
    """`orders` annotated for a list of them (the shopper's history): `attempt_status` and
    `attempt_provider` of each one's latest payment, `attempt_holds_money` when one took money
    not given back; read back with `attempt_from_row`. No extra query."""
    latest = Payment.objects.filter(order=OuterRef("pk")).exclude(provider=Provider.GIFT_CARD).order_by("-pk")
    return orders.annotate(
        attempt_status=Subquery(latest.values("status")[:1]),
        attempt_provider=Subquery(latest.values("provider")[:1]),
        attempt_holds_money=Exists(_unreturned(latest)),
    )


def attempt_from_row(order: Order) -> Attempt | None:
    if order.attempt_holds_money:
        return Attempt(status=S.SUCCEEDED, provider=order.attempt_provider or "", holds_money=True)
    return Attempt(status=order.attempt_status, provider=order.attempt_provider or "") if order.attempt_status else None
