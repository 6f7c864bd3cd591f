"""The back office's "needs attention" banner: orders holding money they did not keep."""
from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import ngettext

from ..selectors import orders_needing_attention

register = template.Library()

# The order list's filter that lists them (orders.admin.filters.NeedsAttentionFilter).
QUEUE_QUERY = "attention=money"


@register.simple_tag(takes_context=True)
def money_needing_attention(context) -> str:
    """A warning naming how many orders hold money they did not keep, linking to that list; ""
    when there are none or the user may not see orders. One COUNT query."""
    request = context.get("request")
    if request is None or not request.user.has_perm("orders.view_order"):
        return ""
    count = orders_needing_attention().count()
    if not count:
        return ""
    text = ngettext(
        "%(count)d order holds money it was not marked paid with: refund it or settle it with the customer.",
        "%(count)d orders hold money they were not marked paid with: refund it or settle it with the customers.",
        count,
    ) % {"count": count}
    url = f"{reverse('admin:orders_order_changelist')}?{QUEUE_QUERY}"
    return format_html(
        '<ul class="messagelist" id="money-attention"><li class="error">{} <a href="{}">{}</a></li></ul>',
        text, url, ngettext("Review it", "Review them", count),
    )
