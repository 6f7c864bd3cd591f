"""Template helpers for the cart."""
from django import template
from django.conf import settings

register = template.Library()


@register.filter
def line_cap(available) -> int:
    """{{ page.available|line_cap }}: the most a quantity input may offer (stock, per-line maximum)."""
    try:
        available = int(available)
    except (TypeError, ValueError):
        available = 0
    return max(min(available, settings.CART_MAX_LINE_QUANTITY), 0)
