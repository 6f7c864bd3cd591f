"""Staff's routing rule, and moving a line's reserved units to another location."""
from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _

from catalog import stock
from catalog.models import Location
from inventory.exceptions import InventoryError
from inventory.models import RoutingPolicy
from inventory.routing import CACHE_KEY
from orders.models import Allocation, Order, OrderEvent
from orders.services.common import lock_order

FS = Order.FulfilmentStatus


def set_routing_policy(*, split: str) -> RoutingPolicy:
    """Store the split rule; the cached copy is forgotten after commit. ValueError if unknown."""
    if split not in RoutingPolicy.Split.values:
        raise ValueError(f"unknown split rule {split!r}")
    with transaction.atomic():
        policy, _created = RoutingPolicy.objects.update_or_create(pk=1, defaults={"split": split})
        transaction.on_commit(lambda: cache.delete(CACHE_KEY))
    return policy


@transaction.atomic
def move_allocation(*, allocation_id: int, location_id: int, user: AbstractBaseUser | None = None) -> Allocation:
    """Move the units of one allocation not yet shipped to the same variant at another location.

    Locks the order (as shipping and cancelling do), then both stock rows in pk order
    (`catalog.stock.move_reservation`). The old allocation counts the units as released, a new one
    holds them at `location_id`, and the order's history says who moved what from where to where.
    InventoryError for an order that is cancelled, expired or fully shipped, nothing left to move, or
    the same location; OutOfStock when the new location lacks the units; nothing changes then.
    """
    order_id = Allocation.objects.filter(pk=allocation_id).values_list("line__order_id", flat=True).first()
    if order_id is None:
        raise InventoryError(_("This allocation no longer exists."))
    order = lock_order(order_id)
    row = Allocation.objects.select_for_update(of=("self",)).select_related(
        "line", "stock_level__location").get(pk=allocation_id)
    if order.fulfilment_status not in (FS.UNFULFILLED, FS.PARTIALLY_FULFILLED):
        raise InventoryError(_("Order %(number)s is %(status)s: its allocations no longer move.")
                             % {"number": order.number, "status": order.get_fulfilment_status_display().lower()})
    if row.outstanding <= 0:
        raise InventoryError(_("%(sku)s: nothing left to move here (shipped or released).") % {"sku": row.line.sku})
    old_location = row.stock_level.location
    if old_location.pk == location_id:
        raise InventoryError(_("The units are already reserved at %(location)s.") % {"location": old_location.name})
    target = Location.objects.filter(pk=location_id, is_active=True).first()
    if target is None:
        raise InventoryError(_("Choose an active location."))
    units = row.outstanding
    moved = stock.move_reservation(
        allocation=stock.Allocation(stock_level_id=row.stock_level_id, variant_id=row.stock_level.variant_id,
                                    location_id=old_location.pk, quantity=units),
        to_location_id=target.pk,
    )
    row.quantity_released += units
    row.save(update_fields=["quantity_released"])
    new_row = Allocation.objects.create(line=row.line, stock_level_id=moved.stock_level_id, quantity=units)
    OrderEvent.objects.create(
        order=order, kind=OrderEvent.Kind.NOTE, actor=OrderEvent.Actor.STAFF,
        user=user if user is not None and user.is_authenticated else None,
        message=_("%(sku)s: %(units)d reserved unit(s) moved from %(old)s to %(new)s.")
        % {"sku": row.line.sku, "units": units, "old": old_location.name, "new": target.name},
        data={"allocation_moved": {"from": old_location.pk, "to": target.pk, "units": units, "line": row.line_id}},
    )
    return new_row
