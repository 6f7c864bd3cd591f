"""The one way templates write a postal address (`shop.addresses`).

    {% load addresses %}
    {% address order.shipping_address %}            <address class="address">Ada<br>…</address>
    {% address location id="pickup-address" %}      with an id (tests and documents point at it)
    {% address a style="font-style:normal" %}       inline style, for HTML emails only
    {{ order.shipping_address|address_text }}       plain-text emails: one line each
    {{ saved|address_inline }}                      one line, comma-separated

Each accepts an order's address snapshot (dict), an address-book `Address` or a stock `Location`.
Every part is escaped.
"""
from django import template
from django.utils.safestring import SafeString

from shop import addresses

register = template.Library()


@register.simple_tag
def address(value, id: str = "", style: str = "") -> SafeString:  # noqa: A002 - the HTML attribute's name
    return addresses.address_html(value, id=id, style=style)


@register.filter
def address_text(value) -> str:
    return "\n".join(addresses.address_lines(value))


@register.filter
def address_inline(value) -> str:
    return addresses.address_inline(value)
