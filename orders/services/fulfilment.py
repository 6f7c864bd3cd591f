"""Goods leaving: shipments (the reservation becomes a stock movement) and cancellation."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from catalog import stock
from inventory.ledger import Cause
from inventory.models import Reason

from ..exceptions import IllegalTransition, OrderError
from ..models import Order, OrderEvent, OrderLine, Shipment, ShipmentLine
from ..status import FULFILMENT, can_cancel, can_ship, transition
from .common import lock_order, outstanding_allocations, release_outstanding

F = Order.FulfilmentStatus


@dataclass(frozen=True)
class ShipmentRequest:
    quantities: Mapping[int, int]  # order line id -> units in this parcel
    carrier: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    extra: dict = field(default_factory=dict)


@transaction.atomic
def create_shipment(*, order_id: int, request: ShipmentRequest, user: AbstractBaseUser | None = None,
                    reason: str = Reason.SALE, notify: bool = True, pickup_checked: bool = False) -> Shipment:
    """Ship some or all of what is left of a paid order (or of one on invoice terms, paid later).

    `reason` is the stock ledger's (a counter sale hands the goods over: `Reason.COUNTER_SALE`);
    `notify=False` writes no "shipped" email (the customer is standing at the counter).

    A click-and-collect order is handed over at its shop only for its pick-up code, or on a staff
    member's recorded override: `pickup.services` checks either and passes `pickup_checked=True`.
    Any other caller (the order page's "Ship", a CSV of tracking numbers) is refused for one.

    Locks the order, then the stock rows (pk order, in catalog.stock.fulfil): the reserved units
    leave on hand. Raises OrderError, changing nothing, for an order that may not ship yet, a
    pick-up order without `pickup_checked`, an unknown line, or more units than remain to ship.
    Moves the fulfilment state to partially shipped or shipped (never the payment state: a partly
    refunded order stays partly refunded) and enqueues the "shipped" email after commit.
    """
    order = lock_order(order_id)
    if not can_ship(order):
        raise OrderError(_("Order %(number)s is %(payment)s and %(fulfilment)s; only a paid order (or one on "
                           "invoice terms) with items still to ship can be shipped.")
                         % {"number": order.number, "payment": order.get_payment_status_display().lower(),
                            "fulfilment": order.get_fulfilment_status_display().lower()})
    if order.pickup_location_id is not None and not pickup_checked:
        raise OrderError(_("Order %(number)s is collected at the shop: hand it over with \"Collect…\" on the order "
                           "page, for the shopper's pick-up code (or without it, giving the reason). Nothing was "
                           "shipped.") % {"number": order.number})
    lines = {line.pk: line for line in OrderLine.objects.filter(order=order).select_for_update().order_by("pk")}
    wanted = {line_id: qty for line_id, qty in request.quantities.items() if qty}
    if not wanted:
        raise OrderError(_("Choose at least one item to ship."))
    for line_id, qty in wanted.items():
        line = lines.get(line_id)
        if line is None:
            raise OrderError(_("Line %(line)s is not part of order %(number)s.") % {"line": line_id, "number": order.number})
        if qty < 0 or qty > line.quantity - line.quantity_fulfilled:
            raise OrderError(_("%(sku)s: %(left)d left to ship, not %(wanted)d.")
                             % {"sku": line.sku, "left": line.quantity - line.quantity_fulfilled, "wanted": qty})

    to_fulfil = []
    remaining = dict(wanted)
    for row, plan in outstanding_allocations(order):
        take = min(plan.quantity, remaining.get(row.line_id, 0))
        if take:
            to_fulfil.append((row, stock.Allocation(stock_level_id=plan.stock_level_id, variant_id=plan.variant_id,
                                                     location_id=plan.location_id, quantity=take)))
            remaining[row.line_id] -= take
    stock.fulfil(allocations=[plan for _row, plan in to_fulfil], cause=Cause(
        reason=reason, order_id=order.pk, actor_id=user.pk if user is not None and user.is_authenticated else None,
    ))
    for row, plan in to_fulfil:
        row.quantity_fulfilled += plan.quantity
        row.save(update_fields=["quantity_fulfilled"])

    shipment = Shipment.objects.create(
        order=order, carrier=request.carrier, tracking_number=request.tracking_number,
        tracking_url=request.tracking_url, created_by=user if user is not None and user.is_authenticated else None,
    )
    ShipmentLine.objects.bulk_create(ShipmentLine(shipment=shipment, line_id=k, quantity=v) for k, v in wanted.items())
    for line_id, qty in wanted.items():
        lines[line_id].quantity_fulfilled += qty
        lines[line_id].save(update_fields=["quantity_fulfilled"])
    everything_shipped = all(line.quantity_fulfilled == line.quantity for line in lines.values())
    actor = OrderEvent.Actor.STAFF if user is not None else OrderEvent.Actor.SYSTEM
    message = " ".join(filter(None, [request.carrier, request.tracking_number])) or _("Shipped")
    to = F.FULFILLED if everything_shipped else F.PARTIALLY_FULFILLED
    if to != order.fulfilment_status:
        transition(order=order, state=FULFILMENT, to=to, actor=actor, user=user, message=message,
                   data={"shipment": shipment.pk})
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.SHIPMENT, actor=actor, user=shipment.created_by,
                              message=message, data={"shipment": shipment.pk})
    from notifications.services import enqueue_order_email

    if notify:
        enqueue_order_email(order_id=order.pk, kind="shipped", shipment_id=shipment.pk)
    return shipment


@transaction.atomic
def cancel_order(*, order_id: int, actor: str, user: AbstractBaseUser | None = None, reason: str = "") -> Order:
    """Cancel an unpaid order and give its reserved stock back.

    Locks the order, then the stock rows. A paid order is refunded instead: IllegalTransition,
    changing nothing, for an order that is paid (whatever its refunds) or no longer open.
    Enqueues the "cancelled" email after commit.
    """
    order = lock_order(order_id)
    if not can_cancel(order):
        raise IllegalTransition(number=order.number, from_status=order.payment_status, to_status=F.CANCELLED)
    transition(order=order, state=FULFILMENT, to=F.CANCELLED, actor=actor, user=user, message=reason)
    released = release_outstanding(order)
    from payments.services.gift_cards import release_gift_card_payments  # payments imports orders' services

    release_gift_card_payments(order=order, actor=actor)
    from promotions.services import release_for_order  # promotions imports the orders models

    release_for_order(order=order)
    order.reservation_expires_at = None
    order.save(update_fields=["reservation_expires_at", "updated_at"])
    if released:
        OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.NOTE, actor=actor,
                                  message=_("%(count)d reserved unit(s) returned to stock.") % {"count": released})
    from notifications.services import enqueue_order_email

    enqueue_order_email(order_id=order.pk, kind="cancelled")
    return order
