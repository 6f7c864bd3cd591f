"""The chat conversation an order followed, on the order's page in the back office
(`orders/admin/orders.py` shows it in the customer's part, as pickup's and inventory's parts)."""
from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy

from orders.models import Order


@admin.display(description=gettext_lazy("chat conversation"))
def chat_conversation(order: Order) -> str:
    from .models import ConversationOrder

    if order.pk is None:
        return "—"
    row = ConversationOrder.objects.filter(order=order).select_related("conversation").first()
    if row is None:
        return "—"
    return format_html('<a href="{}" class="chat-conversation-link">{}</a> ({})',
                       reverse("admin:chat_conversation_change", args=[row.conversation_id]),
                       row.conversation, row.get_how_display())
