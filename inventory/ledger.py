"""Writing the stock movement ledger: called by every writer of on-hand stock, in its transaction.

Kept apart from `services.py` (adjustments, transfers) because `catalog.stock` and
`catalog.services.set_stock_levels` import it: it imports only this app's models, never
`catalog.stock`, so there is no import cycle.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from .models import Reason, StockMovement


@dataclass(frozen=True)
class Cause:
    """Why on-hand stock changed, and on whose behalf: copied onto each movement row."""

    reason: str
    actor_id: int | None = None
    order_id: int | None = None
    adjustment_id: int | None = None
    transfer_id: int | None = None
    note: str = ""


def record(*, cause: Cause, changes: Iterable[tuple[int, int, int]]) -> int:
    """Write one movement per `(variant_id, location_id, units)` change that is not zero.

    Precondition: the caller holds the stock rows' locks and changes `on_hand` by exactly these
    units in the same transaction (so the ledger commits or rolls back with the stock). One INSERT.
    Returns how many rows were written.
    """
    rows = [
        StockMovement(
            variant_id=variant_id, location_id=location_id, quantity=units, reason=cause.reason,
            actor_id=cause.actor_id, order_id=cause.order_id, note=cause.note[:255],
            **_links(cause),
        )
        for variant_id, location_id, units in changes if units
    ]
    StockMovement.objects.bulk_create(rows)
    return len(rows)


def _links(cause: Cause) -> dict:
    links = {}
    if cause.adjustment_id is not None:
        links["adjustment_id"] = cause.adjustment_id
    if cause.transfer_id is not None:
        links["transfer_id"] = cause.transfer_id
    return links


def record_opening_balances() -> int:
    """Write an opening-balance movement for every stock level the ledger does not add up to.

    For stock written before the ledger existed, or loaded in bulk (the demo seed): one
    INSERT ... SELECT of the difference between each level's `on_hand` and its movements. Returns
    how many rows were written. Not for use while stock is being changed elsewhere.
    """
    from catalog.models import StockLevel

    table, levels = StockMovement._meta.db_table, StockLevel._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (variant_id, location_id, quantity, reason, note, created_at)
            SELECT s.variant_id, s.location_id, s.on_hand - COALESCE(m.total, 0), %s, '', %s
            FROM {levels} s LEFT JOIN (
                SELECT variant_id, location_id, SUM(quantity) AS total FROM {table}
                GROUP BY variant_id, location_id
            ) m ON m.variant_id = s.variant_id AND m.location_id = s.location_id
            WHERE s.on_hand <> COALESCE(m.total, 0)
            """,
            [Reason.OPENING, timezone.now()],
        )
        return cursor.rowcount


def balance(*, variant_id: int, location_id: int) -> int:
    """What the ledger says is on hand for one variant at one location."""
    return StockMovement.objects.filter(variant_id=variant_id, location_id=location_id).aggregate(
        total=Sum("quantity"))["total"] or 0
