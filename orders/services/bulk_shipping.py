"""Shipping many orders at once (a CSV of tracking numbers): all of them, or none.

Each parcel goes through `create_shipment`, the same service as the order page's "Ship" button,
so every order gets its Shipment, its history entries and its "shipped" email exactly as if staff
had shipped it by hand. Nothing here decides whether an order may ship: the service does, and its
refusal is reported against the file's row.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from ..exceptions import OrderError
from ..models import OrderLine
from ..shipping_csv import Parcel, RowError
from .fulfilment import ShipmentRequest, create_shipment


@dataclass
class ShippedParcel:
    parcel: Parcel
    shipment_id: int | None
    items: list[tuple[str, int]]  # (SKU, units) in the parcel


@dataclass
class BulkShipResult:
    shipped: list[ShippedParcel] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    applied: bool = False


class _RollBack(Exception):
    """Leaves the transaction without committing (a dry run, or a parcel was refused)."""


def _quantities(parcel: Parcel) -> dict[int, int]:
    if parcel.quantities is not None:
        return parcel.quantities
    # The whole order: everything left when this parcel's turn comes (an earlier row of the same
    # file may have shipped part of it).
    return {
        pk: quantity - fulfilled
        for pk, quantity, fulfilled in OrderLine.objects.filter(order_id=parcel.order_id)
        .order_by("pk").values_list("pk", "quantity", "quantity_fulfilled")
        if quantity > fulfilled
    }


def ship_parcels(*, parcels: Sequence[Parcel], user: AbstractBaseUser, dry_run: bool = False) -> BulkShipResult:
    """Create a shipment per parcel, in file order, in one transaction: every one or none.

    Every parcel is tried (each in its own savepoint) so that all refusals are reported, each
    against the first row of its parcel; if any parcel is refused, or `dry_run` is set, the
    whole transaction is rolled back, taking the stock moves, history entries and queued emails
    with it. Otherwise it commits and the "shipped" emails go after commit (create_shipment
    enqueues them). `result.applied` says whether anything was written.
    """
    result = BulkShipResult()
    try:
        with transaction.atomic():
            for parcel in parcels:
                try:
                    with transaction.atomic():
                        quantities = _quantities(parcel)
                        if not quantities:
                            raise OrderError(_("everything in order %(number)s has shipped already.")
                                             % {"number": parcel.number})
                        shipment = create_shipment(
                            order_id=parcel.order_id, user=user,
                            request=ShipmentRequest(
                                quantities=quantities, carrier=parcel.carrier,
                                tracking_number=parcel.tracking_number, tracking_url=parcel.tracking_url,
                            ),
                        )
                except OrderError as error:
                    result.errors.append(RowError(parcel.first_row, str(error)))
                    continue
                items = [(line.line.sku, line.quantity) for line in shipment.lines.select_related("line")]
                result.shipped.append(ShippedParcel(parcel=parcel, shipment_id=shipment.pk, items=items))
            if result.errors or dry_run:
                raise _RollBack
    except _RollBack:
        for shipped in result.shipped:
            shipped.shipment_id = None  # rolled back: the id names nothing
        return result
    result.applied = True
    return result
