"""Money arriving and leaving: a confirmed payment moves the order's payment state to paid; a
refund is recorded, and a refund that fails afterwards moves it back. None of these moves the
fulfilment state, except a late payment honoured, which reopens an expired order, and a payment
of gift cards bought, whose lines are fulfilled by it (they are emailed, never shipped)."""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import F as Column
from django.utils import timezone

from catalog import stock
from catalog.exceptions import OutOfStock
from inventory import routing
from shop.money import format_money

from ..models import Allocation, Order, OrderLine
from ..status import FULFILMENT, PAYMENT, can_pay, transition
from .common import alert_staff, lock_order

P = Order.PaymentStatus
F = Order.FulfilmentStatus


@dataclass(frozen=True)
class MadeUp:
    """What `confirm_payment`'s `make_up` added to a payment that fell short, and, if it still
    falls short, what is missing in words for staff."""

    amount: Decimal = Decimal("0")
    detail: str = ""


class PaymentOutcome(enum.Enum):
    PAID = "paid"  # the order moved to paid now
    ALREADY_PAID = "already_paid"  # a replay or a second notice: nothing changed
    NEEDS_REFUND = "needs_refund"  # the money cannot be kept (stock gone, order cancelled): refund it
    AMOUNT_MISMATCH = "amount_mismatch"  # paid a different amount: staff must look


@transaction.atomic
def confirm_payment(
    *, order_id: int, amount: Decimal, actor: str, reference: str = "", user: AbstractBaseUser | None = None,
    notify: bool = True,
    make_up: Callable[[Order, Decimal], MadeUp] | None = None,
) -> PaymentOutcome:
    """Record that `amount` was paid for the order and move it to `paid` when that is right.

    `notify=False` writes no "payment received" email (a counter sale: the customer is there and
    gets a receipt).

    Locks the order row. Idempotent: a second confirmation changes nothing. A payment for an
    expired order is kept if its stock can be reserved again (the lines' variants, anywhere),
    otherwise the caller must refund it (NEEDS_REFUND, with an alert in the history for staff);
    the same for a cancelled order. A different amount is never marked paid. Enqueues the
    "payment received" email after commit.

    `make_up(order, amount)`, asked only when `amount` falls short of the total of an order that
    may still be paid, under the order's lock: what the payments app can add to it (gift cards
    given back at expiry and held again: `payments.services.gift_cards.rehold_released`). What it
    adds counts; if the total is still not reached, its `detail` (what is missing, and why) goes
    into the staff alert.
    """
    order = lock_order(order_id)
    if order.payment_status != P.UNPAID:
        return PaymentOutcome.ALREADY_PAID
    detail = ""
    if amount < order.total and make_up is not None and can_pay(order):
        made_up = make_up(order, amount)
        amount += made_up.amount
        detail = made_up.detail
    if amount != order.total:
        alert_staff(order_id=order.pk, actor=actor, subject="Payment does not match the order total",
                    message=f"Payment {reference} of {format_money(amount, order.currency)} does not match the "
                            f"order total {format_money(order.total, order.currency)}; not marked paid."
                            + (f" {detail}" if detail else ""),
                    data={"amount_mismatch": str(order.total - amount)} if detail else None)
        return PaymentOutcome.AMOUNT_MISMATCH
    if order.fulfilment_status == F.CANCELLED:
        alert_staff(order_id=order.pk, actor=actor, subject="Payment for a cancelled order",
                    message=f"Payment {reference} arrived for a cancelled order: refund it.")
        return PaymentOutcome.NEEDS_REFUND
    reopened = order.fulfilment_status == F.EXPIRED
    routed = None
    if reopened:
        try:
            routed = _reserve_again(order)
        except OutOfStock as short:
            alert_staff(order_id=order.pk, actor=actor, subject="Late payment, stock gone",
                        message=f"Late payment {reference}: the stock is gone ({short}); refund it.")
            return PaymentOutcome.NEEDS_REFUND
    order.paid_at = timezone.now()
    order.reservation_expires_at = None
    order.save(update_fields=["paid_at", "reservation_expires_at", "updated_at"])
    if reopened:
        from promotions.services import reclaim_for_order  # promotions imports the orders models

        reclaim_for_order(order=order)  # the discount was paid for: its uses count again
        transition(order=order, state=FULFILMENT, to=F.UNFULFILLED, actor=actor, user=user,
                   message="Paid after expiry; stock reserved again.",
                   data={"reference": reference, **({"routing": routed} if routed is not None else {})})
    transition(order=order, state=PAYMENT, to=P.PAID, actor=actor, user=user,
               message=f"Paid {format_money(amount, order.currency)}" + (f" ({reference})" if reference else ""),
               data={"reference": reference, "amount": str(amount)})
    from giftcards.services import activate_sold_cards
    from notifications.services import enqueue_order_email

    # Gift cards bought with it get their value (emailed after commit, or on their day): their
    # lines are fulfilled now, and an order of gift cards only is fulfilled with them.
    _fulfil_digital_lines(order, activate_sold_cards(order_id=order.pk), actor=actor, user=user)
    if notify:
        enqueue_order_email(order_id=order.pk, kind="payment_received")
    return PaymentOutcome.PAID


def _fulfil_digital_lines(order: Order, lines, *, actor: str, user: AbstractBaseUser | None) -> None:
    """Count `lines` (digital: gift cards, issued now) fulfilled; no shipment is made for them.

    Precondition: inside confirm_payment's transaction (order row locked). No query without them.
    """
    open_lines = [line for line in lines if line.quantity_fulfilled < line.quantity]
    if not open_lines:
        return
    OrderLine.objects.filter(pk__in=[line.pk for line in open_lines]).update(quantity_fulfilled=Column("quantity"))
    left = order.lines.filter(quantity_fulfilled__lt=Column("quantity")).exists()
    transition(order=order, state=FULFILMENT, to=F.PARTIALLY_FULFILLED if left else F.FULFILLED, actor=actor,
               user=user, message=f"{sum(line.quantity for line in open_lines)} gift card(s) issued: emailed to the "
                                  f"recipient on the delivery day" + ("; the other items ship" if left else ""),
               data={"digital_lines": [line.pk for line in open_lines]})


def _reserve_again(order: Order) -> dict | None:
    """Reserve an expired order's lines again, by the fulfilment routing rules checkout follows
    (`inventory.routing`: a pick-up at its shop; a delivery whole at the first location that ships
    online orders and holds everything, else split or refused as staff's rule says), and return
    the decision for the order's history (None: nothing to reserve). OutOfStock, reserving
    nothing, when the rules find no way. Precondition: confirm_payment's transaction, order locked.
    """
    # Digital lines (gift cards) were never stocked: nothing to reserve for them.
    lines = list(order.lines.exclude(variant=None).filter(variant__product__gift_card__isnull=True))
    if not lines:
        return None
    location_ids = [order.pickup_location_id] if order.pickup_location_id else None
    route = routing.route(location_ids=location_ids)
    reservation = stock.reserve_counting(
        requests=[stock.StockRequest(variant_id=line.variant_id, quantity=line.quantity) for line in lines],
        location_ids=location_ids, **route.reserve_options,
    )
    by_variant = {line.variant_id: line for line in lines}
    Allocation.objects.bulk_create(
        Allocation(line=by_variant[a.variant_id], stock_level_id=a.stock_level_id, quantity=a.quantity)
        for a in reservation.allocations
    )
    return route.record(reservation, again=True)


@transaction.atomic
def record_refund(
    *, order_id: int, amount: Decimal, refunded_so_far: Decimal, actor: str, reference: str = "",
    user: AbstractBaseUser | None = None, refund_id: int | None = None,
) -> Order:
    """Move the order's payment state to `partially_refunded` or `refunded` after the provider
    refunded `amount`; its fulfilment state does not move (a partly shipped order stays partly
    shipped, and what is left may still ship).

    `refunded_so_far` includes `amount` (the payments app keeps the ledger). Locks the order.
    Raises IllegalTransition for a move the payment machine refuses. Enqueues the "refunded"
    email after commit.
    """
    order = lock_order(order_id)
    to = P.REFUNDED if refunded_so_far >= order.total else P.PARTIALLY_REFUNDED
    transition(order=order, state=PAYMENT, to=to, actor=actor, user=user,
               message=f"Refunded {format_money(amount, order.currency)}" + (f" ({reference})" if reference else ""),
               data={"reference": reference, "amount": str(amount)})
    from notifications.services import enqueue_order_email

    enqueue_order_email(order_id=order.pk, kind="refunded", refund_id=refund_id, amount=amount)
    return order


@transaction.atomic
def record_refund_failure(
    *, order_id: int, amount: Decimal, refunded_so_far: Decimal, fully_refunded: bool, actor: str,
    reference: str = "",
) -> Order:
    """Move the order back after a refund it counted failed at the provider.

    `refunded_so_far` and `fully_refunded` describe the refunds that still stand (the payments
    app keeps the ledger). Locks the order. Only an order whose payment state says (partially)
    refunded moves: back to partially refunded while other refunds stand, else to paid, or to
    unpaid for money a cancelled or expired order never kept (`paid_at` says which: only a
    confirmed payment sets it). The fulfilment state never moves. Sends no email: the money never
    reached the customer and staff decide what to tell them (the caller alerts them).
    """
    order = lock_order(order_id)
    if order.payment_status not in (P.REFUNDED, P.PARTIALLY_REFUNDED):
        return order
    kept = order.paid_at is not None
    if fully_refunded:
        to = P.REFUNDED
    elif refunded_so_far > 0 and kept:
        to = P.PARTIALLY_REFUNDED
    else:
        to = P.PAID if kept else P.UNPAID
    if to == order.payment_status:
        return order
    transition(order=order, state=PAYMENT, to=to, actor=actor, refund_failed=True,
               message=f"Refund of {format_money(amount, order.currency)}" + (f" ({reference})" if reference else "")
               + " failed", data={"reference": reference, "amount": str(amount), "refund_failed": True})
    return order

