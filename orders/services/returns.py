"""Goods coming back: a return records which shipped units the customer sent back, and may put
them back on a shelf. It never moves money: refunds are their own step (`payments.services`)."""
from __future__ import annotations

from collections.abc import Mapping

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from catalog import stock
from inventory.ledger import Cause
from inventory.models import Reason
from shop.money import format_money
from catalog.models import Location

from ..exceptions import OrderError
from ..models import Order, OrderEvent, OrderLine
from ..refund_shares import return_due
from .common import lock_order


def record_return(
    *,
    order: Order,
    lines: Mapping[int, int],
    restock: bool,
    location_id: int | None,
    actor: str,
    user: AbstractBaseUser | None,
    note: str = "",
) -> OrderEvent:
    """Record that the customer sent back `lines` (order line id -> units) of `order`.

    One transaction: locks the order row, then its lines (pk order), and checks under that lock
    that every line belongs to the order and that each quantity is at least 1 and at most what
    shipped and has not come back yet, so a double submit cannot return the same units twice.
    With `restock`, the units go back on hand at `location_id` through
    `catalog.stock.restock_at` (stock rows locked in pk order, after the order: the same lock
    order as shipping and cancelling); rows missing there are created. Records a "return" event
    with `actor`, `user`, the lines, the note and `refund_due`: what the units are worth after their
    line's discounts, less what a buy X get Y, a gift or a minimum no longer gives the items kept
    (`orders.refund_shares.return_due`), which the staff refund form proposes. The order's
    status, totals and payments do not change.

    Raises OrderError with a message staff can act on, changing nothing, for no units, an unknown
    line, more units than shipped and not yet returned, a restock without an active location, or
    a line whose variant no longer exists when restocking.
    """
    wanted = {line_id: qty for line_id, qty in lines.items() if qty}
    if not wanted:
        raise OrderError(_("Choose at least one returned item."))
    if any(qty < 0 for qty in wanted.values()):
        raise OrderError(_("Returned quantities cannot be negative."))
    if restock and location_id is None:
        raise OrderError(_("Choose the location the returned items go back to."))
    with transaction.atomic():
        order = lock_order(order.pk)
        locked = {line.pk: line for line in OrderLine.objects.filter(order=order).select_for_update().order_by("pk")}
        for line_id, qty in wanted.items():
            line = locked.get(line_id)
            if line is None:
                raise OrderError(_("Line %(line)s is not part of order %(number)s.")
                                 % {"line": line_id, "number": order.number})
            returnable = line.quantity_fulfilled - line.quantity_returned
            if qty > returnable:
                raise OrderError(_("%(sku)s: %(returnable)d shipped and not yet returned, so %(wanted)d cannot come "
                                   "back. Nothing was recorded.")
                                 % {"sku": line.sku, "returnable": returnable, "wanted": qty})
        location = None
        if restock:
            location = _restock(order=order, lines=[locked[line_id] for line_id in wanted], wanted=wanted,
                                location_id=location_id,
                                actor_id=user.pk if user is not None and user.is_authenticated else None)
        # What these units are worth (after their discounts, and what the kept items no longer earn),
        # counted before they are marked returned.
        due, shares, lost = return_due(order, list(locked.values()), wanted)
        for line_id, qty in wanted.items():
            locked[line_id].quantity_returned += qty
        OrderLine.objects.bulk_update([locked[line_id] for line_id in wanted], ["quantity_returned"])
        items = ", ".join(f"{qty} × {locked[line_id].sku}" for line_id, qty in wanted.items())
        if location is not None:
            summary = _("Returned %(items)s; restocked at %(location)s.") % {"items": items, "location": location.name}
        else:
            summary = _("Returned %(items)s; not restocked.") % {"items": items}
        if lost:
            summary += " " + _("Worth %(amount)s back: the price paid after the discounts (%(shares)s), less what "
                               "%(promotions)s no longer gives the items kept.") % {
                "amount": format_money(due, order.currency), "shares": format_money(shares, order.currency),
                "promotions": ", ".join(lost)}
        elif any(locked[line_id].discount_total for line_id in wanted):
            summary += " " + _("Worth %(amount)s back: the price paid after the discounts.") % {
                "amount": format_money(due, order.currency)}
        return OrderEvent.objects.create(
            order=order, kind=OrderEvent.Kind.RETURN, actor=actor,
            user=user if user is not None and user.is_authenticated else None,
            message="\n".join(filter(None, [summary, note.strip()])),
            data={"lines": {str(line_id): qty for line_id, qty in wanted.items()}, "restock": restock,
                  "location": location.pk if location is not None else None, "refund_due": str(due)},
        )


def _restock(*, order: Order, lines: list[OrderLine], wanted: Mapping[int, int], location_id: int,
             actor_id: int | None = None) -> Location:
    location = Location.objects.filter(pk=location_id, is_active=True).first()
    if location is None:
        raise OrderError(_("That location does not exist or is not active; nothing was recorded."))
    gone = [line.sku for line in lines if line.variant_id is None]
    if gone:
        raise OrderError(_("%(skus)s can no longer be restocked (the variant was deleted); record the return "
                           "without restocking.") % {"skus": ", ".join(gone)})
    per_variant: dict[int, int] = {}
    for line in lines:
        per_variant[line.variant_id] = per_variant.get(line.variant_id, 0) + wanted[line.pk]
    stock.restock_at(location_id=location.pk, quantities=per_variant,
                     cause=Cause(reason=Reason.RETURN, order_id=order.pk, actor_id=actor_id))
    return location
