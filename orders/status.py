"""The order's two state machines, payment and fulfilment: the only legal moves, and the one
function that makes them.

Payment (where the money is, `Order.payment_status`):

    unpaid -> paid -> partially_refunded -> refunded   (paid -> refunded in one go too)
    unpaid -> refunded   (money that arrived for a cancelled or expired order, all given back)

Fulfilment (where the goods are, `Order.fulfilment_status`):

    unfulfilled -> partially_fulfilled -> fulfilled -> completed   (unfulfilled -> fulfilled too)
    unfulfilled -> cancelled | expired;   expired -> unfulfilled (a late payment honoured)

A refund never moves fulfilment, and a shipment never moves payment: a partly shipped order that
is partly refunded is still partly shipped, and the rest may still ship. The rules that join the
two live in the services that act (orders.services): only an order whose payment is paid or
partially refunded ships, or one on invoice terms (`Order.payment_terms`: a B2B order ships unpaid
and is paid later, so it may be paid once shipped too); only an unpaid one is cancelled or expires.

A refund that the order counted and that fails afterwards (Stripe can report a succeeded refund
failing) takes the payment state back (REFUND_REVERSALS); only
`orders.services.record_refund_failure` makes those moves, so no button offers them.
"""
from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _

from .exceptions import IllegalTransition
from .models import Order, OrderEvent

P = Order.PaymentStatus
F = Order.FulfilmentStatus
PAYMENT = OrderEvent.State.PAYMENT
FULFILMENT = OrderEvent.State.FULFILMENT
# `to_status` of the event recorded when the order is placed (no state moved: both start there).
PLACED = "placed"

PAYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    P.UNPAID: frozenset({P.PAID, P.REFUNDED}),
    P.PAID: frozenset({P.PARTIALLY_REFUNDED, P.REFUNDED}),
    # Another partial refund is a move too: each one is recorded in the payment history.
    P.PARTIALLY_REFUNDED: frozenset({P.PARTIALLY_REFUNDED, P.REFUNDED}),
    P.REFUNDED: frozenset(),
}

FULFILMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    F.UNFULFILLED: frozenset({F.PARTIALLY_FULFILLED, F.FULFILLED, F.CANCELLED, F.EXPIRED}),
    F.PARTIALLY_FULFILLED: frozenset({F.FULFILLED}),
    F.FULFILLED: frozenset({F.COMPLETED}),
    F.COMPLETED: frozenset(),
    F.CANCELLED: frozenset(),
    # A payment that arrives after expiry is kept if the stock can still be reserved.
    F.EXPIRED: frozenset({F.UNFULFILLED}),
}

# Back from (partially) refunded when a refund the order counted failed: to partially refunded
# while other refunds stand, else to paid (or unpaid: money a cancelled order never kept).
REFUND_REVERSALS: dict[str, frozenset[str]] = {
    P.REFUNDED: frozenset({P.PARTIALLY_REFUNDED, P.PAID, P.UNPAID}),
    P.PARTIALLY_REFUNDED: frozenset({P.PAID}),
}

MACHINES: dict[str, tuple[str, dict[str, frozenset[str]], type]] = {
    PAYMENT: ("payment_status", PAYMENT_TRANSITIONS, P),
    FULFILMENT: ("fulfilment_status", FULFILMENT_TRANSITIONS, F),
}


def can_transition(state: str, from_status: str, to_status: str) -> bool:
    """Whether `state` ("payment" or "fulfilment") may move from `from_status` to `to_status`."""
    return to_status in MACHINES[state][1].get(from_status, frozenset())


# What an order on invoice terms may have done before it is paid: shipped, in part or whole.
SHIPPED_ON_INVOICE = frozenset({F.PARTIALLY_FULFILLED, F.FULFILLED, F.COMPLETED})


def can_pay(order: Order) -> bool:
    """Unpaid and still open, or expired (a late payment is honoured if the stock is still there),
    or on invoice terms and already shipped (the invoice is paid after delivery); a cancelled
    order's money goes back (orders.services.confirm_payment says so)."""
    if not can_transition(PAYMENT, order.payment_status, P.PAID):
        return False
    return order.fulfilment_status in (F.UNFULFILLED, F.EXPIRED) or (
        order.on_invoice and order.fulfilment_status in SHIPPED_ON_INVOICE)


def can_ship(order: Order) -> bool:
    """Paid (or partly refunded: the rest may still ship), or unpaid on invoice terms (paid after
    delivery), and goods left to send."""
    paid = order.payment_status in (P.PAID, P.PARTIALLY_REFUNDED) or (
        order.on_invoice and order.payment_status == P.UNPAID)
    return paid and order.fulfilment_status in (F.UNFULFILLED, F.PARTIALLY_FULFILLED)


def can_cancel(order: Order) -> bool:
    """Only an unpaid order is cancelled; a paid one is refunded instead."""
    return order.payment_status == P.UNPAID and can_transition(FULFILMENT, order.fulfilment_status, F.CANCELLED)


def label(state: str, value: str) -> str:
    """The display name of `value` in `state`'s vocabulary (the raw value for one it lacks)."""
    if value == PLACED:
        return str(_("Placed"))
    try:
        return str(MACHINES[state][2](value).label)
    except (KeyError, ValueError):
        return value


def transition(
    *,
    order: Order,
    state: str,
    to: str,
    actor: str,
    user: AbstractBaseUser | None = None,
    message: str = "",
    data: dict | None = None,
    refund_failed: bool = False,
) -> OrderEvent:
    """Move `order`'s `state` (PAYMENT or FULFILMENT) to `to` and record who did it.

    Precondition: runs inside a transaction that holds the order's row lock
    (`Order.objects.select_for_update().get(...)`), so two writers cannot both move it from the
    same state. Raises IllegalTransition, changing nothing, for a move the machine does not allow.
    `refund_failed` also allows the payment moves back in REFUND_REVERSALS (record_refund_failure
    only). Side effects of the new state (emails, stock) are the caller's, after commit.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("transition() must run inside transaction.atomic() holding the order's row lock.")
    field = MACHINES[state][0]
    from_status = getattr(order, field)
    reversal = state == PAYMENT and refund_failed and to in REFUND_REVERSALS.get(from_status, frozenset())
    if not (can_transition(state, from_status, to) or reversal):
        raise IllegalTransition(number=order.number, from_status=from_status, to_status=to)
    setattr(order, field, to)
    order.save(update_fields=[field, "updated_at"])
    _refresh_customer_stats_after_commit(order)
    return OrderEvent.objects.create(
        order=order, kind=OrderEvent.Kind.STATUS, state=state, from_status=from_status, to_status=to,
        actor=actor, user=user if user is not None and user.is_authenticated else None,
        message=message, data=data or {},
    )


def _refresh_customer_stats_after_commit(order: Order) -> None:
    # The CRM's stored figures (orders, lifetime value) follow every state change. Robust: the
    # order has moved by then, so a broker that is down is logged, not raised into the request,
    # and the callbacks queued after this one (the order's emails) still run.
    if order.customer_id is not None:
        from customers.tasks import refresh_customer_stats_task

        customer_id = order.customer_id
        transaction.on_commit(lambda: refresh_customer_stats_task.delay(customer_ids=[customer_id]), robust=True)
