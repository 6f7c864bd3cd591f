"""Discount cost and revenue per promotion, for the Reports section's Promotions page.

Counted over the orders paid in the range (store days) that kept their payment (`paid_orders`:
not cancelled or expired) and whose promotion was not given back (`Redemption.released_at`).
Cost: what the promotion took off those orders (its `Redemption.amount`, lines and shipping).
Revenue: those orders' totals, after every discount; an order that used two promotions counts in
both rows, so the rows do not add up to the store's revenue. Refunds are not taken off (a
returned item's refund is in Sales over time). One query whatever the number of promotions.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Sum

from orders.models import paid_orders

from .services import day_bounds


@dataclass(frozen=True)
class PromotionRow:
    promotion_id: int
    name: str
    orders: int
    cost: Decimal
    revenue: Decimal


@dataclass(frozen=True)
class PromotionsReport:
    first: datetime.date
    last: datetime.date
    rows: list[PromotionRow]

    @property
    def total_cost(self) -> Decimal:
        return sum((row.cost for row in self.rows), Decimal("0"))


def promotions_report(*, first: datetime.date, last: datetime.date) -> PromotionsReport:
    """Each promotion used by an order paid from `first` to `last` (store days), largest cost first."""
    from promotions.models import Redemption

    start, _end = day_bounds(first)
    _start, end = day_bounds(last)
    rows = (
        Redemption.objects.filter(paid_orders("order__"), released_at__isnull=True,
                                  order__paid_at__gte=start, order__paid_at__lt=end)
        .values("promotion_id", "promotion__name")
        .annotate(orders=Count("order_id", distinct=True), cost=Sum("amount"), revenue=Sum("order__total"))
        .order_by("-cost", "promotion__name", "promotion_id")
    )
    return PromotionsReport(first=first, last=last, rows=[
        PromotionRow(promotion_id=row["promotion_id"], name=row["promotion__name"], orders=row["orders"],
                     # Rounded here: SQLite sums decimals through floats.
                     cost=Decimal(row["cost"]).quantize(Decimal("0.01")),
                     revenue=Decimal(row["revenue"]).quantize(Decimal("0.01")))
        for row in rows
    ])
