"""Unpaid orders give their stock back when the reservation runs out, unless they hold money.

An order still pending whose payment took money it did not keep (a different amount or
currency: `payments.selectors.holds_unkept_money`) never expires: expiring it would release its
stock and leave the money with nobody looking. It is left for staff, with one alert in its
history (emailed to them), and listed under "Needs attention" in the back office until the money
is refunded; the next run after that expires it as usual.
"""
from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from payments.selectors import holds_unkept_money
from shop.money import format_money

from ..models import Order, OrderEvent
from ..status import FULFILMENT, transition
from .common import alert_staff, lock_order, release_outstanding

# The alert's data["expiry"]: marks the orders expiry has already left to staff (one alert each).
LEFT_TO_STAFF = "left_to_staff"


def expire_unpaid_orders(*, now: datetime | None = None, batch: int = 200) -> int:
    """Expire orders still unpaid after their reservation ran out; return how many.

    Each order in its own transaction with its row locked and its status checked again, so a
    payment confirmed meanwhile wins. Orders holding money they did not keep are left to staff
    (`_leave_to_staff`) and never take a place in the batch. Run by beat every minute; safe to
    run twice at once.
    """
    now = now or timezone.now()
    due = Order.objects.filter(payment_status=Order.PaymentStatus.UNPAID,
                               fulfilment_status=Order.FulfilmentStatus.UNFULFILLED, reservation_expires_at__lte=now)
    _leave_to_staff(due, now=now, batch=batch)
    due_ids = list(
        due.exclude(holds_unkept_money()).order_by("reservation_expires_at", "pk").values_list("pk", flat=True)[:batch]
    )
    expired = 0
    for order_id in due_ids:
        with transaction.atomic():
            order = lock_order(order_id)
            if not order.is_awaiting_payment or order.reservation_expires_at > now:
                continue
            if _holds_money(order):  # a payment that took money committed since the list was read
                _alert_once(order)
                continue
            transition(order=order, state=FULFILMENT, to=Order.FulfilmentStatus.EXPIRED, actor=OrderEvent.Actor.TASK,
                       message="Not paid in time; reservation released.")
            release_outstanding(order)
            from payments.services.gift_cards import release_gift_card_payments  # payments imports orders' services

            release_gift_card_payments(order=order, actor=OrderEvent.Actor.TASK)
            _release_promotions(order)
            expired += 1
    return expired


def _leave_to_staff(due: QuerySet[Order], *, now: datetime, batch: int) -> None:
    """Alert staff, once per order, about due orders that hold money: they keep their stock."""
    alerted = OrderEvent.objects.filter(order=OuterRef("pk"), kind=OrderEvent.Kind.ALERT, data__expiry=LEFT_TO_STAFF)
    held = due.filter(holds_unkept_money()).exclude(Exists(alerted)).order_by("reservation_expires_at", "pk")
    for order_id in held.values_list("pk", flat=True)[:batch]:
        with transaction.atomic():
            order = lock_order(order_id)
            if order.is_awaiting_payment and _holds_money(order):
                _alert_once(order)


def _holds_money(order: Order) -> bool:
    return Order.objects.filter(pk=order.pk).filter(holds_unkept_money()).exists()


def _alert_once(order: Order) -> None:
    """Precondition: inside a transaction holding the order's row lock."""
    if order.events.filter(kind=OrderEvent.Kind.ALERT, data__expiry=LEFT_TO_STAFF).exists():
        return
    from payments.models import Payment  # payments imports orders' services

    taken = [
        f"{format_money(p.amount, p.currency)} ({p.provider_payment_id or p.get_provider_display()})"
        for p in Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED).order_by("pk")
    ]
    alert_staff(
        order_id=order.pk, actor=OrderEvent.Actor.TASK, subject="Unpaid order holds money: not expired",
        message=f"Not expired: the reservation ran out, but this order holds money it was not marked paid with: "
                f"{', '.join(taken)}; the order total is {format_money(order.total, order.currency)}. Its items "
                f"stay reserved. Refund the payment from this page (the order then expires), or settle it with "
                f"the customer.",
        data={"expiry": LEFT_TO_STAFF},
    )


def _release_promotions(order: Order) -> None:
    """Give the order's promotion uses and money back (precondition: the order's row lock)."""
    from promotions.services import release_for_order  # promotions imports the orders models

    release_for_order(order=order)
