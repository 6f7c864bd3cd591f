"""Read-only parts of the order page: lines, shipments (and payments, in payment_state.py)."""
from __future__ import annotations

from django.contrib import admin
from django.db.models import Prefetch
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shop.money import format_money

from ..models import OrderLine, Shipment, ShipmentLine
from .documents import tax_rate_display


class ReadOnlyInline(admin.TabularInline):
    """Part of an order, shown on its page: whoever may view the order may view its parts."""

    extra = 0
    max_num = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("orders.view_order") or request.user.has_perm("orders.change_order")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = readonly_fields = (
        "product_title", "sku", "options", "quantity", "quantity_fulfilled", "quantity_returned", "unit_price_display",
        "tax_rate_display", "tax_display", "line_total_display",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order")

    @admin.display(description=gettext_lazy("unit price"))
    def unit_price_display(self, line: OrderLine) -> str:
        return format_money(line.unit_price, line.order.currency)

    @admin.display(description=gettext_lazy("tax rate"))
    def tax_rate_display(self, line: OrderLine) -> str:
        return tax_rate_display(line.tax_rate)

    @admin.display(description=gettext_lazy("tax"))
    def tax_display(self, line: OrderLine) -> str:
        return format_money(line.tax_total, line.order.currency)

    @admin.display(description=gettext_lazy("line total"))
    def line_total_display(self, line: OrderLine) -> str:
        return format_money(line.line_total, line.order.currency)


class ShipmentInline(ReadOnlyInline):
    model = Shipment
    fields = readonly_fields = ("created_at", "contents", "carrier", "tracking_number", "tracking", "created_by")

    def get_queryset(self, request):
        return (
            super().get_queryset(request)
            .select_related("created_by")
            .prefetch_related(Prefetch("lines", queryset=ShipmentLine.objects.select_related("line")))
        )

    @admin.display(description=gettext_lazy("contents"))
    def contents(self, shipment: Shipment) -> str:
        return format_html_join(
            "", "<div>{} × {} <small>({})</small></div>",
            ((item.quantity, item.line.product_title, item.line.sku) for item in shipment.lines.all()),
        )

    @admin.display(description=gettext_lazy("tracking link"))
    def tracking(self, shipment: Shipment) -> str:
        if not shipment.tracking_url:
            return "—"
        return format_html('<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>',
                           shipment.tracking_url, _("Track parcel"))
