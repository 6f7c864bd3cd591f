"""The provider-neutral payment flow: open or start a payment, charge the demo card, settle a
success, record a manual payment.

Lock order, everywhere: the payment row first, then the order row (taken by `orders.services`).
The order's status moves only through `orders.services.confirm_payment`; this module records the
payment and tells the order what the money did. Refunds are in `refunds`, Stripe's events in
`stripe_events`.
"""
from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect

import analytics
from orders.models import Order, OrderEvent
from orders.services import PaymentOutcome, alert_staff, confirm_payment
from shop.money import format_money

from ..exceptions import OrderNotPayable, ProviderUnavailable
from ..links import remember_payment, status_url
from ..models import Payment, Provider
from ..providers import get_provider
from ..providers.demo import DemoProvider
from .gift_cards import amount_due, gift_cards_paid, rehold_released, release_gift_card_payments
from .refunds import refund_locked

S = Payment.Status
F = Order.FulfilmentStatus


# --- Starting a payment -------------------------------------------------------------------------


def open_payment(*, order: Order, gift_cards: Decimal | None = None) -> Payment | None:
    """The first payment of an order created in the caller's transaction (checkout calls it
    through `place_order(on_placed=...)`); None when there is nothing to pay.

    Precondition: `order` was inserted in the current transaction, so no other request can see it
    and it has no earlier attempt: no row lock and no look at earlier payments are needed (they
    are when paying an existing order: `start_payment`). One query. Pass the result to
    `start_payment(payment=...)` after commit.
    """
    if not order.is_awaiting_payment or order.total <= 0:
        return None
    # Less what gift cards paid (`gift_cards.pay_with_gift_cards`, just before): the caller says how
    # much when it knows (checkout does: a query less), else it is summed here.
    due = amount_due(order) if gift_cards is None else max(order.total - gift_cards, Decimal("0"))
    if due <= 0:
        return None
    return _new_payment(order, get_provider(), due)


def _new_payment(order: Order, provider, amount: Decimal) -> Payment:
    # The demo's "session" is ours to name: naming it here saves its start() an UPDATE.
    session_id = DemoProvider.new_session_id() if provider.name == Provider.DEMO else ""
    return Payment.objects.create(
        order=order, provider=provider.name, amount=amount, currency=order.currency,
        provider_session_id=session_id,
    )


def start_payment(*, order: Order, request: HttpRequest, payment: Payment | None = None) -> HttpResponse:
    """Send the shopper to pay `order` with the store's provider; return that redirect.

    Picks or creates the Payment in a short transaction holding the order's row lock, so a
    double click or a second tab gets the same payment (and at Stripe the same Checkout page,
    by its idempotency key) instead of a second charge. The provider is called after that
    transaction: no lock is held while it talks to the network. The payment is remembered in
    the browser session, which is what lets this shopper open its pages. While a delayed payment
    (a bank debit) is processing, the shopper is sent to its status page instead of paying
    twice. For an htmx request the redirect is an `HX-Redirect` (the payment page may be on
    another site).

    `payment` is one `open_payment` made in the transaction that created `order` (checkout): it
    is used as it is, without that transaction and its lock.

    Raises OrderNotPayable when the order is not pending payment, its reservation has run out
    (its stock is about to be released), it has nothing to pay, or a payment of it already took
    money that staff must settle first (a different amount), and ProviderUnavailable when
    the provider cannot be reached (nothing charged; the shopper can try again).
    """
    provider = get_provider(payment.provider if payment is not None else None)
    processing = None
    if payment is None:
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=order.pk)
            due = amount_due(locked) if locked.is_awaiting_payment else Decimal("0")
            if due <= 0:
                raise OrderNotPayable(number=locked.number, reason=_not_payable_reason(locked))
            if locked.reservation_expires_at is not None and locked.reservation_expires_at <= timezone.now():
                raise OrderNotPayable(number=locked.number, reason="expired")
            processing, reusable, holds_money = _earlier_attempts(locked, provider.name, due)
            if holds_money:
                # A payment already took money the order did not keep (a different amount): staff
                # settle it first (payments.selectors.holds_unkept_money); never a second charge.
                raise OrderNotPayable(number=locked.number, reason="review")
            payment = processing or reusable or _new_payment(locked, provider, due)
    elif payment.order_id != order.pk:
        raise ValueError(f"Payment {payment.pk} is not order {order.number}'s.")
    remember_payment(request, payment)
    if processing is not None:
        response = HttpResponseRedirect(status_url(payment))
    else:
        try:
            response = provider.start(payment, request)
        except ProviderUnavailable as error:
            # Stripe replays a stored error for the same idempotency key for a day, so the next
            # try must be a new payment (a new key), not this one again.
            # A provider's session that exists may still be paid, so only one never opened goes
            # (the demo names its session itself before start(), so its id proves nothing).
            Payment.objects.filter(Q(provider_session_id="") | Q(provider=Provider.DEMO), pk=payment.pk).update(
                status=S.CANCELLED, failure_message=Payment.NOT_OPENED,
                updated_at=timezone.now(),
            )
            payment.status, payment.failure_message = S.CANCELLED, Payment.NOT_OPENED
            error.payment = payment
            raise
    if getattr(request, "htmx", False) and response.has_header("Location"):
        return HttpResponseClientRedirect(response["Location"])
    return response


def _not_payable_reason(order: Order) -> str:
    if order.kept_payment:
        return "paid"
    return {F.CANCELLED: "cancelled", F.EXPIRED: "expired"}.get(order.fulfilment_status, "")


def _earlier_attempts(order: Order, provider: str, due: Decimal) -> tuple[Payment | None, Payment | None, bool]:
    """The order's payment still processing (a bank debit on its way: paying again could take the
    money twice), its latest attempt with `provider` that can still be paid (page open), and
    whether one of its payments already succeeded (the order, still pending, did not keep it)."""
    attempts = Payment.objects.filter(
        order=order, status__in=(S.PROCESSING, S.PENDING, S.FAILED, S.SUCCEEDED)).exclude(
        provider=Provider.GIFT_CARD).order_by("-pk")
    processing = reusable = None
    holds_money = False
    now = timezone.now()
    for attempt in attempts:
        attempt.order = order
        if attempt.status == S.SUCCEEDED:
            holds_money = True
        elif attempt.status == S.PROCESSING:
            processing = processing or attempt
        elif reusable is None and attempt.provider == provider and attempt.amount == due \
                and attempt.currency == order.currency and not (attempt.expires_at and attempt.expires_at <= now):
            reusable = attempt
    return processing, reusable, holds_money


# --- The demo card ------------------------------------------------------------------------------


def pay_with_demo_card(*, payment_id: int, card_number: str, user: AbstractBaseUser | None = None) -> Payment:
    """Charge a demo test card for a demo payment (no money moves) and settle the result.

    One transaction holding the payment's row lock: a double submit charges once (a payment that
    already succeeded is returned unchanged). A success is settled like a provider's
    confirmation (`orders.services.confirm_payment`; the "payment received" email is enqueued
    after commit). A decline marks the payment failed with the reason; the order stays pending
    and the same payment may be tried again. Raises OrderNotPayable, charging nothing, when the
    order no longer waits for payment.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("order").get(pk=payment_id)
        if payment.provider != Provider.DEMO:
            raise ValueError(f"Payment {payment.pk} is not a demo payment.")
        if payment.status == S.SUCCEEDED:
            return payment
        if payment.status == S.CANCELLED or not payment.order.is_awaiting_payment:
            raise OrderNotPayable(number=payment.order.number)
        charge = DemoProvider().charge(payment=payment, card_number=card_number)
        if not charge.succeeded:
            payment.status = S.FAILED
            payment.failure_message = charge.message
            payment.save(update_fields=["status", "failure_message", "updated_at"])
            record_decline(payment, reason=charge.message, code="card_declined", actor=OrderEvent.Actor.CUSTOMER,
                            user=user)
            return payment
        actor = OrderEvent.Actor.CUSTOMER
        settle_success(payment=payment, amount=payment.amount, reference=charge.reference, actor=actor, user=user)
    return payment


# --- Money in -----------------------------------------------------------------------------------


def settle_success(
    *, payment: Payment, amount: Decimal, reference: str, actor: str, user: AbstractBaseUser | None = None
) -> str:
    """Record that the provider took `amount` and tell the order; return what happened.

    Precondition: inside a transaction holding the payment's row lock; the payment has not
    succeeded before. Money the order cannot keep is refunded at once through the provider: a
    late payment whose stock is gone or whose order was cancelled (confirm_payment says
    NEEDS_REFUND and alerts staff), or a second payment for an order another payment already paid.
    """
    payment.status = S.SUCCEEDED
    payment.amount = amount
    payment.succeeded_at = timezone.now()
    payment.failure_message = ""
    payment.provider_payment_id = reference or payment.provider_payment_id
    payment.save(update_fields=["status", "amount", "succeeded_at", "failure_message", "provider_payment_id",
                                "updated_at"])
    # The order's total is this payment and what gift cards paid of it at placement (held again if
    # the order expired meanwhile and gave them back: `rehold_released`).
    outcome = confirm_payment(order_id=payment.order_id, amount=amount + gift_cards_paid(payment.order_id),
                              actor=actor, reference=reference, user=user, make_up=rehold_released)
    if outcome is PaymentOutcome.PAID:
        analytics.record_on_commit(None, "order_paid", order_id=payment.order_id, amount=str(amount))
        return "paid"
    if outcome is PaymentOutcome.AMOUNT_MISMATCH:
        return "amount mismatch: not marked paid, staff alerted"
    if outcome is PaymentOutcome.NEEDS_REFUND:
        # Gift cards held again for it go back too (the order, locked by confirm_payment, stays unpaid).
        release_gift_card_payments(order=Order.objects.get(pk=payment.order_id), actor=actor)
        refund = refund_locked(payment=payment, amount=amount, user=None, actor=actor,
                                reason="Automatic: the order could not keep this payment.")
        return f"refunded automatically ({refund.provider_reference})"
    # ALREADY_PAID: the order moved on without this payment.
    # A manual payment is staff's word, not money the store saw arrive: left to them (below).
    paid_by_another = Payment.objects.filter(order_id=payment.order_id, status=S.SUCCEEDED).exclude(
        pk=payment.pk).exclude(provider__in=(Provider.MANUAL, Provider.GIFT_CARD))
    if paid_by_another.exists():
        refund = refund_locked(payment=payment, amount=amount, user=None, actor=actor,
                                reason="Automatic: the order was already paid by another payment.")
        alert_staff(order_id=payment.order_id, actor=actor, subject="Second payment refunded automatically",
                    message=f"A second payment {reference} of {format_money(amount, payment.currency)} arrived for an "
                            f"order already paid; refunded automatically ({refund.provider_reference}).")
        return f"second payment refunded automatically ({refund.provider_reference})"
    # Paid some other way (marked paid by staff, a manual payment): whether this money is surplus is
    # theirs to judge.
    alert_staff(order_id=payment.order_id, actor=actor, subject="Payment for an order already paid otherwise",
                message=f"Payment {reference} of {format_money(amount, payment.currency)} arrived for an order that "
                        f"was already paid otherwise; check it and refund it if it is not needed.")
    return "order already paid otherwise: staff alerted"


def record_manual_payment(*, order_id: int, user: AbstractBaseUser) -> tuple[PaymentOutcome, Payment | None]:
    """Record money staff received outside the store (a bank transfer, cash) for the order's total.

    One transaction holding the order's row lock: `orders.services.confirm_payment` moves the
    order to paid (a late one only if its stock can be reserved again; the "payment received"
    email is enqueued after commit), and only then is the Payment written: provider "manual",
    the order's total, succeeded, `created_by` the staff member. So a second click, or an order
    that cannot be marked paid, writes no payment. The payment is refundable like any other
    (`refund_payment`; the manual provider records the refund and staff pay it back by hand).
    Returns confirm_payment's outcome and the payment (None unless PAID).
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        outcome = confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.STAFF,
                                  reference="manual", user=user)
        due = amount_due(order)  # what gift cards did not pay
        if outcome is not PaymentOutcome.PAID or due <= 0:
            return outcome, None  # nothing to record (a free order has nothing to refund either)
        payment = Payment.objects.create(
            order=order, provider=Provider.MANUAL, status=S.SUCCEEDED, amount=due, currency=order.currency,
            succeeded_at=timezone.now(), created_by=user if user.is_authenticated else None,
        )
    return outcome, payment



def record_decline(payment: Payment, *, reason: str, code: str, actor: str,
                    user: AbstractBaseUser | None = None) -> None:
    """Write a declined attempt in the order's history: the provider's reason and code, no card data.

    The shopper's order page shows it ("Payment declined" and the reason: orders.selectors).
    Precondition: inside the transaction that marked `payment` failed.
    """
    reason = (reason or "").strip()[:500]
    amount = format_money(payment.amount, payment.currency)
    OrderEvent.objects.create(
        order_id=payment.order_id, kind=OrderEvent.Kind.PAYMENT, actor=actor,
        user=user if user is not None and user.is_authenticated else None,
        message=f"Payment of {amount} declined by {payment.get_provider_display()}"
                + (f": {reason}" if reason else "") + (f" ({code})" if code else ""),
        data={"outcome": "declined", "payment": payment.pk, "reason": reason, "code": code},
    )
