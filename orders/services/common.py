from __future__ import annotations

from catalog import stock

from ..models import Allocation, Order, OrderEvent


def lock_order(order_id: int) -> Order:
    """The order, with its row locked until the surrounding transaction ends."""
    return Order.objects.select_for_update().get(pk=order_id)


def outstanding_allocations(order: Order) -> list[tuple[Allocation, stock.Allocation]]:
    """Reserved units of `order` not yet shipped or released, as model rows and stock requests."""
    rows = Allocation.objects.filter(line__order=order).select_related("stock_level").order_by("pk")
    return [
        (
            row,
            stock.Allocation(
                stock_level_id=row.stock_level_id, variant_id=row.stock_level.variant_id,
                location_id=row.stock_level.location_id, quantity=row.outstanding,
            ),
        )
        for row in rows
        if row.outstanding > 0
    ]


def release_outstanding(order: Order) -> int:
    """Give every outstanding reserved unit of `order` back to stock; return how many.

    Precondition: inside a transaction holding the order's row lock.
    """
    pending = outstanding_allocations(order)
    if not pending:
        return 0
    stock.release(allocations=[plan for _row, plan in pending])
    for row, plan in pending:
        row.quantity_released += plan.quantity
        row.save(update_fields=["quantity_released"])
    return sum(plan.quantity for _row, plan in pending)


def alert_staff(*, order_id: int, actor: str, subject: str, message: str, data: dict | None = None) -> OrderEvent:
    """Record an alert in the order's history and email it to staff once, after commit.

    For money or goods staff must act on. Call it inside the transaction that found the problem:
    the ALERT event and the outbox row are written with it (three queries) and the email goes
    only if it commits (`notifications.services.enqueue_staff_alert`, keyed by the event, so a
    retried task sends it once and each alert is its own email). `subject` is the email's
    headline, `message` the history entry, which the email repeats. Staff only: the shopper's
    order page never shows alerts.
    """
    event = OrderEvent.objects.create(order_id=order_id, kind=OrderEvent.Kind.ALERT, actor=actor, message=message,
                                      data=data or {})
    # Imported here: notifications imports the orders models.
    from notifications.services import enqueue_staff_alert

    enqueue_staff_alert(key=f"order_event:{event.pk}", subject=subject, order_id=order_id, message=message)
    return event
