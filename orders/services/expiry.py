"""Unpaid orders give their stock back when the reservation runs out."""
from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..models import Order, OrderEvent
from ..status import FULFILMENT, transition
from .common import lock_order, release_outstanding


def expire_unpaid_orders(*, now: datetime | None = None, batch: int = 200) -> int:
    """Expire orders still unpaid after their reservation ran out; return how many.

    Each order in its own transaction with its row locked and its status checked again, so a
    payment confirmed meanwhile wins. Run by beat every minute; safe to run twice at once.
    """
    now = now or timezone.now()
    due = list(
        Order.objects.filter(payment_status=Order.PaymentStatus.UNPAID,
                             fulfilment_status=Order.FulfilmentStatus.UNFULFILLED, reservation_expires_at__lte=now)
        .order_by("reservation_expires_at", "pk")
        .values_list("pk", flat=True)[:batch]
    )
    expired = 0
    for order_id in due:
        with transaction.atomic():
            order = lock_order(order_id)
            if not order.is_awaiting_payment or order.reservation_expires_at > now:
                continue
            transition(order=order, state=FULFILMENT, to=Order.FulfilmentStatus.EXPIRED, actor=OrderEvent.Actor.TASK,
                       message="Not paid in time; reservation released.")
            release_outstanding(order)
            expired += 1
    return expired
