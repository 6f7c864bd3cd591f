"""Stock adjustments (damage, theft, found) and stock counts, each an audited `Adjustment`."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from catalog import stock
from catalog.models import Variant
from inventory.exceptions import InventoryError, WrongDirection
from inventory.ledger import Cause
from inventory.models import Adjustment, AdjustmentLine, Reason


@dataclass(frozen=True)
class AdjustmentRequest:
    """`quantity` units of a variant: negative for units gone (damage, theft), positive for units found."""

    variant_id: int
    quantity: int


def adjust_stock(
    *, location_id: int, reason: str, lines: Sequence[AdjustmentRequest], note: str = "",
    user: AbstractBaseUser | None = None,
) -> Adjustment:
    """Record stock damaged, stolen or found at a location, and change on hand by it.

    One transaction: the `Adjustment` with its lines, the stock change (`catalog.stock.adjust`:
    rows locked in pk order, never below the units reserved for orders) and the ledger's
    movements. Damage and theft take units away (quantities below zero), found adds them; a count
    goes through `apply_stock_count`. Raises InventoryError (nothing changed) for no lines, a
    variant named twice or a quantity in the wrong direction, and the catalog's StockBelowReserved
    or Location.DoesNotExist from the stock change.
    """
    if reason not in (Reason.DAMAGE, Reason.THEFT, Reason.FOUND):
        raise InventoryError(_("Choose damage, theft or found; a stock count is imported from its file."))
    wanted = [line for line in lines if line.quantity]
    if not wanted:
        raise InventoryError(_("Give at least one variant and a number of units other than 0."))
    if len({line.variant_id for line in wanted}) != len(wanted):
        raise InventoryError(_("A variant is named twice: give each variant once."))
    gone = reason in (Reason.DAMAGE, Reason.THEFT)
    for line in wanted:
        if (line.quantity < 0) != gone:
            sku = Variant.objects.filter(pk=line.variant_id).values_list("sku", flat=True).first() or line.variant_id
            raise WrongDirection(reason_label=Reason(reason).label, sku=str(sku),
                                 must_be=_("a number of units below 0") if gone else _("a number of units above 0"))
    return _record(location_id=location_id, reason=reason, deltas={line.variant_id: line.quantity for line in wanted},
                   expected=None, note=note, user=user)


def apply_stock_count(
    *, location_id: int, counted: Mapping[int, int], expected: Mapping[int, int], note: str = "",
    user: AbstractBaseUser | None = None,
) -> Adjustment:
    """Set on hand at a location to what staff counted, for the variants counted.

    `expected` is the on-hand figure the preview showed for each variant (0 where the location had
    none): if stock moved since (an order shipped, a transfer arrived), the whole count is
    refused with StockChangedMeanwhile and staff preview again, so a count never undoes a move it
    did not see. Variants not counted are left alone. One `Adjustment` (reason count) with a line
    per difference, even none (the count itself is on record). Same transaction and locks as
    `adjust_stock`; StockBelowReserved when a count is below the units reserved for orders.
    """
    if any(units < 0 for units in counted.values()):
        raise InventoryError(_("A counted quantity cannot be below 0."))
    missing = set(counted) - set(expected)
    if missing:
        raise InventoryError(_("Preview the count again: some counted variants have no figure to compare with."))
    deltas = {variant_id: units - expected[variant_id] for variant_id, units in counted.items()}
    return _record(location_id=location_id, reason=Reason.COUNT, deltas=deltas,
                   expected={variant_id: expected[variant_id] for variant_id in counted}, note=note, user=user)


def _record(*, location_id: int, reason: str, deltas: dict[int, int], expected: dict[int, int] | None, note: str,
            user: AbstractBaseUser | None) -> Adjustment:
    actor = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        adjustment = Adjustment.objects.create(location_id=location_id, reason=reason, note=note.strip(),
                                               created_by=actor)
        changed = stock.adjust(
            location_id=location_id, deltas=deltas, expected=expected,
            cause=Cause(reason=reason, actor_id=actor.pk if actor else None, adjustment_id=adjustment.pk),
        )
        AdjustmentLine.objects.bulk_create([
            AdjustmentLine(adjustment=adjustment, variant_id=variant_id, quantity=after - before,
                           on_hand_before=before, on_hand_after=after)
            for variant_id, (before, after) in changed.items()
        ])
    return adjustment
