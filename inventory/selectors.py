"""Reads for stock across locations: the ledger check."""
from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Sum

from catalog.models import Location, StockLevel, Variant

from .models import StockMovement


@dataclass(frozen=True)
class Discrepancy:
    variant_id: int
    location_id: int
    sku: str
    location: str
    on_hand: int
    ledger: int

    def __str__(self) -> str:
        return f"{self.sku} at {self.location}: on hand {self.on_hand}, movements add up to {self.ledger}"


def ledger_discrepancies() -> list[Discrepancy]:
    """Every variant and location where the movements do not add up to the stock on hand.

    Empty when the ledger is right. A removed stock row counts as 0 on hand, so its movements must
    add up to 0. Both reads see one snapshot (REPEATABLE READ on PostgreSQL; a SQLite transaction
    sees one already), so stock changing meanwhile cannot make a false alarm. Four queries at most
    (two, plus names only when something is wrong).
    """
    outermost = not connection.in_atomic_block  # inside a caller's transaction, it decides
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        on_hand = {
            (variant_id, location_id): units
            for variant_id, location_id, units in StockLevel.objects.values_list("variant_id", "location_id", "on_hand")
        }
        ledger = {
            (row["variant_id"], row["location_id"]): row["total"]
            for row in StockMovement.objects.order_by().values("variant_id", "location_id").annotate(
                total=Sum("quantity"))
        }
    wrong = sorted(key for key in on_hand.keys() | ledger.keys() if on_hand.get(key, 0) != ledger.get(key, 0))
    if not wrong:
        return []
    skus = dict(Variant.objects.filter(pk__in={v for v, _l in wrong}).values_list("pk", "sku"))
    names = dict(Location.objects.filter(pk__in={loc for _v, loc in wrong}).values_list("pk", "name"))
    return [
        Discrepancy(variant_id, location_id, skus.get(variant_id, str(variant_id)),
                    names.get(location_id, str(location_id)), on_hand.get((variant_id, location_id), 0),
                    ledger.get((variant_id, location_id), 0))
        for variant_id, location_id in wrong
    ]


def in_transit(*, variant_ids: list[int] | None = None) -> dict[tuple[int, int], int]:
    """Units shipped and not yet received or written off, per (variant id, destination id)."""
    from django.db.models import F

    from .models import Transfer, TransferLine

    lines = TransferLine.objects.filter(transfer__status__in=[Transfer.Status.SHIPPED,
                                                               Transfer.Status.PARTIALLY_RECEIVED])
    if variant_ids is not None:
        lines = lines.filter(variant_id__in=variant_ids)
    totals: dict[tuple[int, int], int] = {}
    for variant_id, destination_id, units in lines.annotate(
        left=F("quantity") - F("quantity_received") - F("quantity_missing")
    ).values_list("variant_id", "transfer__destination_id", "left"):
        totals[(variant_id, destination_id)] = totals.get((variant_id, destination_id), 0) + units
    return {key: units for key, units in totals.items() if units}
