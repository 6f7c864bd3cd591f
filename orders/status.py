"""The order status machine: the only legal moves, and the one function that makes them.

    pending_payment -> paid -> (partially_fulfilled ->) fulfilled -> completed
    pending_payment -> cancelled | expired;  expired -> paid (a late payment honoured)
    paid / shipped / completed -> partially_refunded -> refunded
    cancelled -> refunded (money that arrived for a cancelled order, all given back)

A refund that the order counted and that fails afterwards (Stripe can report a succeeded refund
failing) takes the order back (REFUND_REVERSALS); only `orders.services.record_refund_failure`
makes those moves, so no button offers them.
"""
from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction

from .exceptions import IllegalTransition
from .models import Order, OrderEvent

S = Order.Status

TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED, S.EXPIRED}),
    # A payment that arrives after expiry is kept if the stock can still be reserved, otherwise
    # refunded in full.
    S.EXPIRED: frozenset({S.PAID, S.REFUNDED}),
    S.PAID: frozenset({S.PARTIALLY_FULFILLED, S.FULFILLED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_FULFILLED: frozenset({S.FULFILLED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.FULFILLED: frozenset({S.COMPLETED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.COMPLETED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    # After a partial refund the rest of the order may still ship.
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.PARTIALLY_FULFILLED, S.FULFILLED}),
    # Money that arrived for a cancelled order (a late payment), all given back: "refunded" says
    # where it went. Never partially_refunded: that status may still ship (see above), and a
    # cancelled order's stock is gone; a partial refund leaves it cancelled, in its history.
    S.CANCELLED: frozenset({S.REFUNDED}),
    S.REFUNDED: frozenset(),
}

# Back from (partially) refunded when a refund the order counted failed: to partially refunded
# while other refunds stand, else to the status the order had before its first refund.
_BEFORE_REFUND = frozenset({S.PAID, S.PARTIALLY_FULFILLED, S.FULFILLED, S.COMPLETED, S.CANCELLED, S.EXPIRED})
REFUND_REVERSALS: dict[str, frozenset[str]] = {
    S.REFUNDED: _BEFORE_REFUND | {S.PARTIALLY_REFUNDED},
    S.PARTIALLY_REFUNDED: _BEFORE_REFUND - {S.CANCELLED, S.EXPIRED},
}


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def transition(
    *,
    order: Order,
    to: str,
    actor: str,
    user: AbstractBaseUser | None = None,
    message: str = "",
    data: dict | None = None,
    refund_failed: bool = False,
) -> OrderEvent:
    """Move `order` to status `to` and record who did it.

    Precondition: runs inside a transaction that holds the order's row lock
    (`Order.objects.select_for_update().get(...)`), so two writers cannot both move it from the
    same status. Raises IllegalTransition, changing nothing, for a move the machine does not allow.
    `refund_failed` also allows the moves back in REFUND_REVERSALS (record_refund_failure only).
    Side effects of the new status (emails, stock) are the caller's, after commit.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("transition() must run inside transaction.atomic() holding the order's row lock.")
    reversal = refund_failed and to in REFUND_REVERSALS.get(order.status, frozenset())
    if not (can_transition(order.status, to) or reversal):
        raise IllegalTransition(number=order.number, from_status=order.status, to_status=to)
    from_status = order.status
    order.status = to
    order.save(update_fields=["status", "updated_at"])
    _refresh_customer_stats_after_commit(order)
    return OrderEvent.objects.create(
        order=order, kind=OrderEvent.Kind.STATUS, from_status=from_status, to_status=to,
        actor=actor, user=user if user is not None and user.is_authenticated else None,
        message=message, data=data or {},
    )


def _refresh_customer_stats_after_commit(order: Order) -> None:
    # The CRM's stored figures (orders, lifetime value) follow every status change. Robust: the
    # order has moved by then, so a broker that is down is logged, not raised into the request,
    # and the callbacks queued after this one (the order's emails) still run.
    if order.customer_id is not None:
        from customers.tasks import refresh_customer_stats_task

        customer_id = order.customer_id
        transaction.on_commit(lambda: refresh_customer_stats_task.delay(customer_ids=[customer_id]), robust=True)
