"""Template helpers for the storefront: personal bits, money, sanitised rich text, images, query strings."""
from __future__ import annotations

import json

from django import template
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import get_script_prefix, get_urlconf
from django.http import QueryDict
from django.utils.html import conditional_escape as escape, format_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import get_language

from shop.html import plain_text, sanitize_html
from shop.money import format_money

from .. import cards
from ..cache import MiniCartCount, personal_marker, render_personal

register = template.Library()


@register.simple_tag(takes_context=True)
def personal(context, name: str) -> str:
    """{% personal "account" %}: a bit of the layout that is the shopper's own.

    In a page rendered for the shared cache it is a marker, which `catalog.cache` replaces with the
    visitor's own bit in every response; in any other page, the bit itself. Names and templates:
    `catalog.cache.PERSONAL_SNIPPETS` ("account", "mini_cart", "messages").
    """
    if context.get("shared_page"):
        return mark_safe(personal_marker(name))
    if name == "account":
        user = context.get("user")
        data = {"signed_in": bool(user is not None and user.is_authenticated)}
    elif name == "mini_cart":
        data = {"mini_cart": context.get("mini_cart") or MiniCartCount(item_count=0)}
    else:
        data = {"messages": context.get("messages") or ()}
    return mark_safe(render_personal(name, data))


_SAME_FOR_EVERYONE: dict[tuple, str] = {}


@register.simple_tag
def same_for_everyone(template_name: str) -> str:
    """{% same_for_everyone "chat/_launcher.html" %}: a template that reads nothing of the page.

    Rendered without a context (no request, no variables: URLs and translations only), once per
    process, language and URL configuration, then reused: the chat launcher's five `{% url %}`s
    and eight translations cost ~0.2 ms of every cold storefront page. Rendered every time with
    DEBUG on, so an edited template shows at once.
    """
    key = (template_name, get_language(), get_script_prefix(), get_urlconf(), settings.ROOT_URLCONF)
    html = None if settings.DEBUG else _SAME_FOR_EVERYONE.get(key)
    if html is None:
        html = _SAME_FOR_EVERYONE[key] = render_to_string(template_name)
    return mark_safe(html)


@register.filter
def money(amount) -> str:
    """{{ variant.price|money }} -> "$1,234.50" in the store currency's own format."""
    return format_money(amount)


@register.filter
def rich_text(html: str) -> str:
    """Sanitise again at render time: whatever reached the database, no script reaches a page."""
    return mark_safe(sanitize_html(html))


@register.filter
def plain_summary(html: str, length: int = 160) -> str:
    return Truncator(plain_text(html or "")).chars(length)


@register.simple_tag(takes_context=True)
def query_with(context, key: str, value, *, remove: bool = False, toggle: bool = False) -> str:
    """The current query string with `key` set to `value` (or toggled or removed), without `page`."""
    params: QueryDict = context["request"].GET.copy()
    params.pop("page", None)
    value = str(value)
    if toggle:
        values = params.getlist(key)
        if value in values:
            values.remove(value)
        else:
            values.append(value)
        params.setlist(key, values)
    elif remove:
        params.pop(key, None)
    else:
        params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def json_ld(data) -> str:
    """Serialise structured data for a <script type="application/ld+json"> block, safely."""
    text = json.dumps(data, ensure_ascii=False, default=str)
    # "</script>" inside a string must not end the block.
    return mark_safe(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


@register.simple_tag
def swatch(colour: str, size: str = "") -> str:
    """A colour swatch as inline SVG: `{% swatch value.swatch "small" %}`.

    The colour is an SVG `fill` attribute, which a Content-Security-Policy does not govern, so
    swatches need neither a `style` attribute nor an inline stylesheet (no 'unsafe-inline').
    """
    return format_html(
        '<svg class="swatch{}" viewBox="0 0 20 20" aria-hidden="true" focusable="false">'
        '<circle cx="10" cy="10" r="9.5" fill="{}"/></svg>',
        f" swatch-{size}" if size else "", colour,
    )


@register.simple_tag
def picture(
    image, sizes: str = "(min-width: 60rem) 25vw, 50vw", loading: str = "lazy", css: str = "", alt: str | None = None,
    fetchpriority: str = "",
):
    """A responsive <img> with a WebP srcset when the renditions exist, else the original.

    `alt` overrides the image's own alt text: pass "" where the image sits next to the text it
    would repeat (a product card's title), so screen readers do not read it twice. Lazy unless
    told otherwise: pass loading="eager" (and fetchpriority="high" for the page's largest image)
    for images in the first screenful, which lazy loading would only delay.

    Written here rather than in a template (it was an inclusion tag): a gallery draws one per
    picture, and a template per tag cost ~0.1 ms each on a cold product page. The HTML is the same.
    """
    if not image:
        return format_html('<span class="{} image-placeholder" aria-hidden="true"></span>\n', css)
    srcset = ""
    src = image.image.url
    if image.renditions:
        from django.core.files.storage import default_storage

        pairs = sorted((int(width), path) for width, path in image.renditions.items())
        srcset = ", ".join(f"{default_storage.url(path)} {width}w" for width, path in pairs)
        src = default_storage.url(pairs[-1][1])
    if alt is None:
        alt = image.alt_text or image.product.title
    html = [f'<img class="{escape(css)}" src="{escape(src)}"']
    if srcset:
        html.append(f' srcset="{escape(srcset)}" sizes="{escape(sizes)}"')
    html.append(f' alt="{escape(alt)}"')
    if image.width:
        html.append(f' width="{escape(image.width)}" height="{escape(image.height)}"')
    html.append(f' loading="{escape(loading or "lazy")}"')
    if fetchpriority:
        html.append(f' fetchpriority="{escape(fetchpriority)}"')
    html.append(' decoding="async">\n')
    return mark_safe("".join(html))


@register.filter
def product_cards(products):
    """{% for card in products|product_cards %}: every card's values, computed once (catalog/cards.py)."""
    return cards.product_cards(products)
