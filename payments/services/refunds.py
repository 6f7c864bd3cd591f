"""Refunds: give a succeeded payment's money back through its provider and move the order.

Lock order as in `flow`: the payment row, then the order row. The order's status moves only
through `orders.services.record_refund` / `record_refund_failure`; this module keeps the refunds
and counts what the order kept and what went back.
"""
from __future__ import annotations

import logging
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Sum

from orders.models import Order, OrderEvent
from orders.services import alert_staff, record_refund, record_refund_failure
from orders.status import PAYMENT, can_transition
from shop.money import format_money, quantize

from ..exceptions import ProviderUnavailable, RefundNotAllowed
from ..models import Payment, Refund
from ..providers import get_provider

logger = logging.getLogger(__name__)

S = Payment.Status
P = Order.PaymentStatus
F = Order.FulfilmentStatus


# --- Money out ----------------------------------------------------------------------------------


def refund_payment(*, payment_id: int, amount: Decimal, user: AbstractBaseUser | None, reason: str = "") -> Refund:
    """Give `amount` of a succeeded payment back through its provider, and tell the order.

    One transaction holding the payment's row lock, then the order's: concurrent refunds of a
    payment queue, and `amount` is checked under that lock against what is left (paid minus
    refunded), so refunds never exceed the payment. The provider is called inside the
    transaction with an idempotency key (a retried refund is not refunded twice); if it fails,
    nothing is recorded and ProviderUnavailable is raised. Raises RefundNotAllowed, calling no
    provider, for a non-positive amount, a payment that did not succeed, or more than is left.
    A refund the provider finished moves the order through `orders.services.record_refund`,
    which enqueues the "refunded" email after commit; one it reports pending (Stripe) is recorded
    pending and moves the order when Stripe's refund events say it succeeded. A manual payment's
    refund calls nobody: it is recorded, and its reason says staff pay it back by hand.
    """
    actor = OrderEvent.Actor.STAFF if user is not None else OrderEvent.Actor.SYSTEM
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        return refund_locked(payment=payment, amount=Decimal(amount), user=user, actor=actor, reason=reason)


def refundable_amount(payment: Payment) -> Decimal:
    """What is left to refund of `payment`: what it took minus its refunds that did not fail."""
    if payment.status != S.SUCCEEDED:
        return Decimal("0")
    refunded = payment.refunds.exclude(status=Refund.Status.FAILED).aggregate(total=Sum("amount"))["total"]
    return payment.amount - (refunded or Decimal("0"))


def refund_locked(*, payment: Payment, amount: Decimal, user: AbstractBaseUser | None, actor: str,
                   reason: str) -> Refund:
    """Precondition: inside a transaction holding the payment's row lock.

    One refund, one provider call, in the caller's transaction: a provider error rolls it back
    (nothing recorded, nothing refunded). Several refunds in one step (a return paid by a card and
    a gift card) use `open_refund` + `send_refund` instead, so a failure after a success cannot
    erase a refund the provider made.
    """
    refund = open_refund(payment=payment, amount=amount, user=user, reason=reason)
    _ask_provider(payment=payment, refund=refund, actor=actor, user=user)
    return refund


def open_refund(*, payment: Payment, amount: Decimal, user: AbstractBaseUser | None, reason: str) -> Refund:
    """Record a refund of `amount` of `payment` as pending, before any provider is asked.

    Precondition: inside a transaction holding the payment's row lock. `amount` is checked against
    what is left (paid minus refunds that did not fail, pending ones included), so a refund opened
    and not yet sent already holds its share: RefundNotAllowed otherwise, writing nothing. The row's
    idempotency key is sent with every call for it, so asking again never refunds twice.
    """
    amount = quantize(amount, payment.currency)
    left = refundable_amount(payment)
    if amount <= 0 or amount > left:
        raise RefundNotAllowed(requested=amount, refundable=left, currency=payment.currency)
    # The key names the refund's place and amount: a retry of the same refund after a lost answer
    # gets the provider's first result, never a second refund.
    number = payment.refunds.count() + 1
    return Refund.objects.create(
        payment=payment, amount=amount, status=Refund.Status.PENDING, reason=reason.strip(),
        idempotency_key=f"payment-{payment.pk}-refund-{number}-{amount}",
        created_by=user if user is not None and user.is_authenticated else None,
    )


def _ask_provider(*, payment: Payment, refund: Refund, actor: str, user: AbstractBaseUser | None) -> None:
    """Ask `refund`'s provider and record its answer; tell the order when it succeeded.

    Precondition: inside a transaction holding the payment's row lock; `refund.awaiting_provider`.
    Raises ProviderUnavailable (nothing recorded here) when the provider refused or did not answer.
    """
    result = get_provider(payment.provider).refund(refund)
    refund.provider_reference = result.reference
    refund.status = Refund.Status.SUCCEEDED if result.succeeded else Refund.Status.PENDING
    refund.reason = " ".join(filter(None, [refund.reason.strip(), result.note]))
    refund.failure_reason = ""
    refund.save(update_fields=["provider_reference", "status", "reason", "failure_reason"])
    if refund.status == Refund.Status.SUCCEEDED:
        tell_order(payment=payment, refund=refund, actor=actor, user=user)
    else:
        record_pending_refund(payment=payment, refund=refund, actor=actor, user=user)


def send_refund(*, refund_id: int, user: AbstractBaseUser | None = None) -> Refund:
    """Ask the provider for a refund `open_refund` recorded (or one asked before without an answer).

    Its own transaction: the payment's row lock, then the refund's; a refund already answered
    (by an earlier call, a concurrent one, or Stripe's webhook) is returned as it is, so two
    senders never ask twice and a retry finishes only what is unfinished. The provider's answer is
    recorded: succeeded (the order moves), pending at the provider (its webhook finishes it), or
    refused (failed, with the provider's reason: nothing was refunded and the amount is refundable
    again). Without an answer the refund stays pending and is asked again later with the same
    idempotency key. Never raises ProviderUnavailable; call it outside any transaction, so what
    one provider did is committed before the next is asked.
    """
    actor = OrderEvent.Actor.STAFF if user is not None else OrderEvent.Actor.SYSTEM
    with transaction.atomic():
        payment_id = Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        refund.payment = payment
        if not refund.awaiting_provider:
            return refund
        try:
            _ask_provider(payment=payment, refund=refund, actor=actor, user=user)
        except ProviderUnavailable as error:
            amount = format_money(refund.amount, payment.currency)
            what = f"payment {payment.provider_payment_id or payment.pk}"
            if error.answered:
                refund.status = Refund.Status.FAILED
                refund.failure_reason = (error.detail or "refused by the provider")[:255]
                message = f"Refund of {amount} of {what} refused by {payment.get_provider_display()}: " \
                          f"{refund.failure_reason}. Nothing was refunded; it can be refunded again."
            else:
                refund.failure_reason = f"No answer from the provider: {error.detail}"[:255]
                message = f"Refund of {amount} of {what}: {payment.get_provider_display()} did not answer; it is " \
                          f"asked again with the same idempotency key (never refunded twice)."
            refund.save(update_fields=["status", "failure_reason"])
            _order_event(payment.order_id, OrderEvent.Kind.REFUND, actor, message, user)
    return refund


def tell_order(*, payment: Payment, refund: Refund, actor: str, user: AbstractBaseUser | None) -> None:
    """Move the order after `refund` succeeded, counting only money the order kept.

    Precondition: inside a transaction holding the payment's row lock; takes the order's;
    `refund` has succeeded (pending refunds move no order: the money has not been returned yet).
    `record_refund` compares what was refunded with the order total, so a refund of surplus money
    (a second payment for the same order) is left out of that sum and moves nothing. Money an
    expired or cancelled order never kept, once all of it is returned, makes the order refunded
    (so its status says where the money went). Any other refund is written in the order's history
    without a status change.
    """
    order = Order.objects.select_for_update().get(pk=payment.order_id)
    message = f"Refunded {format_money(refund.amount, payment.currency)} of payment {payment.provider_payment_id}" \
              f" ({refund.provider_reference})" + (f": {refund.reason}" if refund.reason else "")
    so_far, fully = _refund_progress(order)
    target = None
    if order.kept_payment:
        amount = min(refund.amount, so_far)
        if so_far > 0:
            target = P.REFUNDED if fully else P.PARTIALLY_REFUNDED
    elif order.fulfilment_status in (F.EXPIRED, F.CANCELLED) and fully:
        amount, so_far, target = refund.amount, order.total, P.REFUNDED
    if target is not None and can_transition(PAYMENT, order.payment_status, target):
        record_refund(order_id=order.pk, amount=amount, refunded_so_far=so_far, actor=actor,
                      reference=refund.provider_reference, user=user)
    else:
        _order_event(order.pk, OrderEvent.Kind.REFUND, actor, message, user)


def _sum(queryset, field: str) -> Decimal:
    return queryset.aggregate(total=Sum(field))["total"] or Decimal("0")


def _returned(order: Order) -> Decimal:
    """Money actually given back for `order`: its succeeded refunds (pending ones are on their way)."""
    return _sum(Refund.objects.filter(payment__order=order, status=Refund.Status.SUCCEEDED), "amount")


def _order_event(order_id: int, kind: str, actor: str, message: str, user: AbstractBaseUser | None = None) -> None:
    OrderEvent.objects.create(order_id=order_id, kind=kind, actor=actor, message=message,
                              user=user if user is not None and user.is_authenticated else None)



def record_pending_refund(*, payment: Payment, refund: Refund, actor: str, user: AbstractBaseUser | None) -> None:
    _order_event(payment.order_id, OrderEvent.Kind.REFUND, actor,
                 f"Refund of {format_money(refund.amount, payment.currency)} of payment "
                 f"{payment.provider_payment_id} ({refund.provider_reference}) is pending at the provider; the "
                 f"order moves when it succeeds" + (f": {refund.reason}" if refund.reason else "."), user)


def refund_failed(*, payment: Payment, refund: Refund, counted: bool) -> None:
    """Alert staff that `refund` gave nothing back; if the order counted it, move the order back.

    Precondition: inside a transaction holding the payment's row lock; `refund` is saved failed.
    """
    order = Order.objects.select_for_update().get(pk=payment.order_id)
    why = f" ({refund.failure_reason})" if refund.failure_reason else ""
    logger.warning("Refund %s of payment %s failed%s.", refund.provider_reference, payment.pk, why)
    alert_staff(order_id=order.pk, actor=OrderEvent.Actor.WEBHOOK, subject="Refund failed",
                message=f"Refund {refund.provider_reference} of {format_money(refund.amount, payment.currency)} FAILED "
                        f"at the provider{why}: the customer did not get this money back (the provider returned it to "
                        f"the store's balance). Refund it again from the order's page, or pay it back another way.")
    if counted:
        so_far, fully = _refund_progress(order)
        record_refund_failure(order_id=order.pk, amount=refund.amount, refunded_so_far=so_far,
                              fully_refunded=fully, actor=OrderEvent.Actor.WEBHOOK,
                              reference=refund.provider_reference)


def _refund_progress(order: Order) -> tuple[Decimal, bool]:
    """How much of the order's own money has been given back (surplus payments left out), and
    whether that is all of it; for an order that never kept its money (expired, cancelled), what
    was given back and whether that is everything it took. Counts succeeded refunds only. The one
    count both a refund that succeeded (`tell_order`) and one that failed (`refund_failed`) use."""
    taken = _sum(Payment.objects.filter(order=order, status=S.SUCCEEDED), "amount")
    given_back = _returned(order)
    if order.kept_payment:
        so_far = given_back - max(taken - order.total, Decimal("0"))
        return so_far, so_far >= order.total
    return given_back, taken > 0 and given_back >= taken
