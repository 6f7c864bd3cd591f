"""Transfers between locations: create (draft), ship (in transit), receive (in part or whole), cancel."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import stock
from inventory.exceptions import InventoryError
from inventory.ledger import Cause
from inventory.models import Reason, Transfer, TransferEvent, TransferLine

S = Transfer.Status


@dataclass(frozen=True)
class TransferRequest:
    variant_id: int
    quantity: int


def _user(user: AbstractBaseUser | None):
    return user if user is not None and user.is_authenticated else None


def _lock(transfer_id: int) -> Transfer:
    transfer = Transfer.objects.select_for_update().select_related("source", "destination").filter(
        pk=transfer_id).first()
    if transfer is None:
        raise InventoryError(_("Transfer #%(pk)s does not exist.") % {"pk": transfer_id})
    return transfer


def _refuse(transfer: Transfer, action: str) -> InventoryError:
    return InventoryError(_("Transfer #%(pk)s is %(status)s: it cannot be %(action)s.")
                          % {"pk": transfer.pk, "status": transfer.get_status_display().lower(), "action": action})


def create_transfer(
    *, source_id: int, destination_id: int, lines: Sequence[TransferRequest], note: str = "",
    user: AbstractBaseUser | None = None,
) -> Transfer:
    """A draft transfer; stock does not move until it ships. InventoryError for no lines,
    a variant twice, a quantity below 1, or the same place at both ends."""
    if source_id == destination_id:
        raise InventoryError(_("A transfer goes from one location to another: choose two different ones."))
    if not lines:
        raise InventoryError(_("Add at least one variant to send."))
    if len({line.variant_id for line in lines}) != len(lines):
        raise InventoryError(_("A variant is named twice: give each variant once."))
    if any(line.quantity < 1 for line in lines):
        raise InventoryError(_("Send at least 1 unit of each variant."))
    with transaction.atomic():
        transfer = Transfer.objects.create(source_id=source_id, destination_id=destination_id, note=note.strip(),
                                           created_by=_user(user))
        TransferLine.objects.bulk_create([TransferLine(transfer=transfer, variant_id=line.variant_id,
                                                       quantity=line.quantity) for line in lines])
        TransferEvent.objects.create(transfer=transfer, kind=TransferEvent.Kind.CREATED, user=_user(user))
    return transfer


def record_draft_edit(*, transfer: Transfer, user: AbstractBaseUser | None, created: bool) -> None:
    """The history line for a draft staff created or edited in the admin (drafts move no stock)."""
    TransferEvent.objects.create(transfer=transfer, user=_user(user),
                                 kind=TransferEvent.Kind.CREATED if created else TransferEvent.Kind.EDITED)


@transaction.atomic
def ship_transfer(*, transfer_id: int, user: AbstractBaseUser | None = None) -> Transfer:
    """The units leave the source: its on hand drops by each line; the transfer is in transit.

    Locks the transfer, then the source's stock rows (pk order, `catalog.stock.adjust`): never the
    units reserved for orders (StockBelowReserved, nothing changed). A second click finds it
    shipped and is refused (InventoryError), so stock leaves once.
    """
    transfer = _lock(transfer_id)
    if transfer.status != S.DRAFT:
        raise _refuse(transfer, _("shipped"))
    lines = list(transfer.lines.order_by("pk"))
    if not lines:
        raise InventoryError(_("Add at least one variant to send."))
    stock.adjust(location_id=transfer.source_id, deltas={line.variant_id: -line.quantity for line in lines},
                 cause=Cause(reason=Reason.TRANSFER_OUT, transfer_id=transfer.pk,
                             actor_id=getattr(_user(user), "pk", None)))
    transfer.status, transfer.shipped_at = S.SHIPPED, timezone.now()
    transfer.save(update_fields=["status", "shipped_at", "updated_at"])
    TransferEvent.objects.create(
        transfer=transfer, kind=TransferEvent.Kind.SHIPPED, user=_user(user),
        message=_("%(units)d unit(s) left %(source)s.") % {"units": sum(line.quantity for line in lines),
                                                           "source": transfer.source.name},
        data={"lines": {str(line.pk): line.quantity for line in lines}},
    )
    return transfer


@transaction.atomic
def receive_transfer(
    *, transfer_id: int, received: Mapping[int, int], close: bool = False, user: AbstractBaseUser | None = None,
) -> Transfer:
    """Units that arrived go on the destination's stock; `close` records the rest as missing.

    `received` maps line id -> units arrived now (each at most what is still outstanding; more
    is refused: record found units as an adjustment). Locks the transfer and its lines, then the
    destination's stock rows (pk order, rows created if missing). The transfer is received when
    nothing is outstanding, else partly received. Closing records per line the units that never
    came (`quantity_missing`, and in the event) and ends it received. InventoryError, changing
    nothing, for a transfer not in transit, an unknown line, or too many units.
    """
    transfer = _lock(transfer_id)
    if transfer.status not in (S.SHIPPED, S.PARTIALLY_RECEIVED):
        raise _refuse(transfer, _("received"))
    lines = {line.pk: line for line in transfer.lines.select_for_update().select_related("variant").order_by("pk")}
    arrived = {line_id: units for line_id, units in received.items() if units}
    for line_id, units in arrived.items():
        line = lines.get(line_id)
        if line is None:
            raise InventoryError(_("Line %(line)s is not part of transfer #%(pk)s.") % {"line": line_id,
                                                                                         "pk": transfer.pk})
        if units < 0 or units > line.outstanding:
            raise InventoryError(_(
                "%(sku)s: %(left)d unit(s) still expected, not %(units)d. Record extra units found as an adjustment."
            ) % {"sku": line.variant.sku, "left": line.outstanding, "units": units})
    if not arrived and not close:
        raise InventoryError(_("Give the units that arrived, or close the transfer with the rest missing."))
    if arrived:
        stock.adjust(location_id=transfer.destination_id,
                     deltas={lines[line_id].variant_id: units for line_id, units in arrived.items()},
                     cause=Cause(reason=Reason.TRANSFER_IN, transfer_id=transfer.pk,
                                 actor_id=getattr(_user(user), "pk", None)))
        for line_id, units in arrived.items():
            lines[line_id].quantity_received += units
        TransferEvent.objects.create(
            transfer=transfer, kind=TransferEvent.Kind.RECEIVED, user=_user(user),
            message=_("%(units)d unit(s) arrived at %(destination)s.") % {
                "units": sum(arrived.values()), "destination": transfer.destination.name},
            data={"lines": {str(line_id): units for line_id, units in arrived.items()}},
        )
    missing = {}
    if close:
        for line in lines.values():
            if line.outstanding:
                missing[line.pk] = line.outstanding
                line.quantity_missing += line.outstanding
        TransferEvent.objects.create(
            transfer=transfer, kind=TransferEvent.Kind.CLOSED, user=_user(user),
            message=", ".join(f"{lines[pk].variant.sku}: {units} missing" for pk, units in missing.items())
            or _("Closed with everything received."),
            data={"missing": {str(pk): units for pk, units in missing.items()}},
        )
    TransferLine.objects.bulk_update(lines.values(), ["quantity_received", "quantity_missing"])
    done = not any(line.outstanding for line in lines.values())
    transfer.status = S.RECEIVED if done else S.PARTIALLY_RECEIVED
    if done:
        transfer.received_at = timezone.now()
    transfer.save(update_fields=["status", "received_at", "updated_at"])
    return transfer


@transaction.atomic
def cancel_transfer(*, transfer_id: int, user: AbstractBaseUser | None = None) -> Transfer:
    """Cancel a draft (nothing has moved). A shipped transfer is received, or closed short."""
    transfer = _lock(transfer_id)
    if transfer.status != S.DRAFT:
        raise _refuse(transfer, _("cancelled"))
    transfer.status = S.CANCELLED
    transfer.save(update_fields=["status", "updated_at"])
    TransferEvent.objects.create(transfer=transfer, kind=TransferEvent.Kind.CANCELLED, user=_user(user))
    return transfer
