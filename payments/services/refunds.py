"""Refunds: give a succeeded payment's money back through its provider and move the order.

Lock order as in `flow`: the payment row, then the order row. The order's status moves only
through `orders.services.record_refund` / `record_refund_failure`; this module keeps the refunds
and counts what the order kept and what went back.
"""
from __future__ import annotations

import logging
import secrets
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import router, transaction
from django.db.models import Q, QuerySet, Sum
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from orders.exceptions import OrderError
from orders.models import Order, OrderEvent
from orders.services import alert_staff, record_refund, record_refund_failure
from orders.status import PAYMENT, can_transition
from shop.money import format_money, quantize

from ..exceptions import PaymentError, ProviderUnavailable, RefundNotAllowed
from ..models import Payment, Provider, Refund
from ..providers import RefundResult, get_provider

logger = logging.getLogger(__name__)

S = Payment.Status
P = Order.PaymentStatus
F = Order.FulfilmentStatus
# Payments no provider holds: staff give the money back themselves.
PAID_BACK_BY_HAND = frozenset({Provider.MANUAL, Provider.CASH, Provider.CARD_TERMINAL})


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
    Only `refund_locked` asks a provider inside a transaction (one refund, whose failure must
    record nothing). Raises ProviderUnavailable (nothing recorded here) when the provider refused
    or did not answer.
    """
    result = get_provider(payment.provider).refund(refund)
    _record_answer(payment=payment, refund=refund, result=result, actor=actor, user=user)


def _record_answer(*, payment: Payment, refund: Refund, result: RefundResult, actor: str,
                   user: AbstractBaseUser | None) -> None:
    """Record what the provider said about `refund` (and release its sender's claim); tell the
    order when it succeeded. Precondition: inside a transaction holding the payment's row lock."""
    refund.provider_reference = result.reference
    refund.status = Refund.Status.SUCCEEDED if result.succeeded else Refund.Status.PENDING
    refund.reason = " ".join(filter(None, [refund.reason.strip(), result.note]))
    refund.failure_reason = ""
    refund.sending_since = None
    refund.save(update_fields=["provider_reference", "status", "reason", "failure_reason", "sending_since"])
    if refund.status == Refund.Status.SUCCEEDED:
        tell_order(payment=payment, refund=refund, actor=actor, user=user)
    else:
        record_pending_refund(payment=payment, refund=refund, actor=actor, user=user)


def refund_by_hand(*, payment: Payment, refund: Refund, user: AbstractBaseUser | None, note: str = "") -> Refund:
    """Record `refund` as paid back now by staff, outside any provider: notes and coins from a
    counter's drawer for a payment taken in cash (`returns.services.refund_return`).

    Precondition: inside a transaction holding the payment's row lock; `refund` was opened in it
    (`open_refund`) and awaits its provider. Asks nobody, so it may complete in the caller's
    transaction: the refund succeeds (a reference of our own) and the order moves now
    (`tell_order`; the "refunded" email after commit). Raises ValueError, recording nothing, for
    a payment a provider holds (its money goes back only through that provider, after commit:
    `send_refund`) or a refund that is not open.
    """
    if payment.provider not in PAID_BACK_BY_HAND:
        raise ValueError(f"Refund {refund.pk}: a {payment.provider} payment goes back through its provider "
                         "(send_refund), never by hand.")
    if refund.payment_id != payment.pk or not refund.awaiting_provider:
        raise ValueError(f"Refund {refund.pk} is not an open refund of payment {payment.pk}.")
    actor = OrderEvent.Actor.STAFF if user is not None else OrderEvent.Actor.SYSTEM
    result = RefundResult(reference=f"{payment.provider}_re_{secrets.token_hex(12)}", succeeded=True, note=note)
    _record_answer(payment=payment, refund=refund, result=result, actor=actor, user=user)
    return refund


def _require_no_transaction(writer: str) -> None:
    """A provider is asked over the network: never with a transaction open (its rows would stay
    locked for the call, and a rollback after it would forget money the provider moved). Test
    cases' own atomic blocks (`_from_testcase`) do not count, so a caller inside a transaction
    fails in ordinary tests too (as `catalog.stock._require_transaction`, the other way round)."""
    connection = transaction.get_connection(router.db_for_write(Refund))
    if any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks):
        raise TransactionManagementError(
            f"payments.services.{writer}() asks a payment provider: call it outside any transaction, after the "
            "refund was recorded and committed (open_refund)."
        )


def send_refund(*, refund_id: int, user: AbstractBaseUser | None = None) -> Refund:
    """Ask the provider for a refund `open_refund` recorded (or one asked before without an answer),
    at most once at a time whoever else is sending it.

    Call outside any transaction (TransactionManagementError otherwise): the provider is asked
    with no transaction open and no row locked. First the refund is claimed by a conditional
    UPDATE of `Refund.sending_since` (it awaits its provider and no other sender claimed it within
    `Refund.SEND_LEASE`); a refund already answered (by an earlier call, a concurrent one, or Stripe's
    webhook) or claimed by another sender is returned as it is, so two senders never ask at once.
    Then, in a transaction holding the payment's row lock and then the refund's, the answer is
    recorded (unless a webhook recorded it meanwhile): succeeded (the order moves), pending at the
    provider (its webhook finishes it), or refused (failed, with the provider's reason: nothing was
    refunded and the amount is refundable again). Without an answer the refund stays pending, its
    claim released, and is asked again later with the same idempotency key. Never raises
    ProviderUnavailable.
    """
    return _send(refund_id=refund_id, user=user)[0]


def send_awaiting_refunds(*, refunds: QuerySet[Refund] | None = None, user: AbstractBaseUser | None = None,
                          limit: int = 500) -> int:
    """Send every refund of `refunds` (all refunds when None) that awaits its provider
    (`Refund.objects.awaiting_provider()`), oldest first, each with `send_refund`: claimed, then
    asked outside any transaction, then answered in its own transaction, so what one provider did
    is committed before the next is asked. Idempotent and safe to run in several workers at once:
    a refund answered or claimed by another sender is skipped, so none is asked twice at the same
    time. One refund's trouble is logged and does not stop the others. Call outside any
    transaction. Returns how many refunds this call asked its provider for.
    """
    _require_no_transaction("send_awaiting_refunds")
    queryset = Refund.objects.all() if refunds is None else refunds
    asked = 0
    for refund_id in queryset.awaiting_provider().order_by("pk").values_list("pk", flat=True)[:limit]:
        try:
            asked += _send(refund_id=refund_id, user=user)[1]
        except (PaymentError, OrderError):
            logger.exception("Refund %s could not be sent; it is sent again by the next run.", refund_id)
    return asked


def _send(*, refund_id: int, user: AbstractBaseUser | None) -> tuple[Refund, bool]:
    """`send_refund`; also says whether this call asked the provider (False: answered or claimed)."""
    _require_no_transaction("send_refund")
    actor = OrderEvent.Actor.STAFF if user is not None else OrderEvent.Actor.SYSTEM
    claim = timezone.now()
    claimed = Refund.objects.awaiting_provider().filter(
        Q(sending_since__isnull=True) | Q(sending_since__lt=claim - Refund.SEND_LEASE), pk=refund_id,
    ).update(sending_since=claim)
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if not claimed:
        return refund, False
    result: RefundResult | None = None
    try:
        result = get_provider(refund.payment.provider).refund(refund)  # no transaction open, no row locked
    except ProviderUnavailable as unavailable:
        error = unavailable
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        refund.payment = payment
        if not refund.awaiting_provider:  # the provider's webhook recorded it while we asked
            Refund.objects.filter(pk=refund.pk, sending_since=claim).update(sending_since=None)
            return refund, True
        if result is not None:
            _record_answer(payment=payment, refund=refund, result=result, actor=actor, user=user)
            return refund, True
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
        if refund.sending_since == claim:  # still ours (not taken over after Refund.SEND_LEASE)
            refund.sending_since = None
        refund.save(update_fields=["status", "failure_reason", "sending_since"])
        _order_event(payment.order_id, OrderEvent.Kind.REFUND, actor, message, user)
    return refund, True


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
