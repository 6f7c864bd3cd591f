"""The "Click and collect" box of the order admin page: where a pick-up order stands, and the
links that move it ("Ready for pickup…", "Collect…", "Send a new code…"). Named by orders/admin
like inventory's box. One query (the pick-up row)."""
from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders.models import Order
from orders.status import can_ship

from .models import Pickup


@admin.display(description=gettext_lazy("click and collect"))
def click_and_collect(order: Order) -> str:
    if order.pk is None or order.pickup_location_id is None:
        return "—"
    pickup = Pickup.objects.filter(order=order).first()
    if pickup is None:
        if can_ship(order) and order.fulfilment_status == Order.FulfilmentStatus.UNFULFILLED:
            return format_html('{} <a href="{}" class="pickup-ready">{}</a>', _("Being prepared."),
                               reverse("admin:pickup_pickup_ready", args=[order.pk]), _("Ready for pickup…"))
        return _("Not ready for pickup (waiting for payment, or closed).")
    summary = format_html("{} {}", pickup.get_status_display(), pickup.ready_at.strftime("%Y-%m-%d %H:%M"))
    if pickup.status == Pickup.Status.READY:
        return format_html('{} · <a href="{}" class="pickup-collect">{}</a> · <a href="{}" class="pickup-new-code">{}</a>',
                           summary, reverse("admin:pickup_pickup_collect", args=[order.pk]), _("Collect…"),
                           reverse("admin:pickup_pickup_new_code", args=[order.pk]), _("Send a new code…"))
    return summary
