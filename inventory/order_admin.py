"""The "Fulfilment" box of the order admin page: where each line's units are reserved, and why.

A plain function the order admin lists among its read-only fields, so orders/admin only names it.
Two queries: the order's allocations (with their locations) and the latest event that routed it
(the "placed" one, or the one that reserved again for a payment after expiry).
"""
from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy

from orders.models import Allocation, Order, OrderEvent

from .routing import explain


@admin.display(description=gettext_lazy("fulfilment routing"))
def fulfilment_routing(order: Order) -> str:
    if order.pk is None:
        return "—"
    rows = list(
        Allocation.objects.filter(line__order=order).select_related("line", "stock_level__location").order_by("pk")
    )
    decision = (
        OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.STATUS, data__has_key="routing")
        .order_by("-created_at", "-pk").values_list("data", flat=True).first() or {}
    ).get("routing")
    names = {row.stock_level.location_id: row.stock_level.location.name for row in rows}
    open_order = order.fulfilment_status in (Order.FulfilmentStatus.UNFULFILLED,
                                             Order.FulfilmentStatus.PARTIALLY_FULFILLED)
    items = format_html_join(
        "", "<li>{} × {} at {}{}{}</li>",
        (
            (row.quantity, row.line.sku, row.stock_level.location.name,
             format_html(" ({} shipped, {} released)", row.quantity_fulfilled, row.quantity_released)
             if row.quantity_fulfilled or row.quantity_released else "",
             format_html(' <a href="{}" class="move-allocation">Move…</a>',
                         reverse("admin:inventory_routingpolicy_move", args=[row.pk]))
             if open_order and row.outstanding else "")
            for row in rows
        ),
    )
    return format_html('<p class="routing-why">{}</p><ul class="allocations">{}</ul>', explain(decision, names), items)
