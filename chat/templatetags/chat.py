"""{{ body|chat_text }}: a message's plain text with its web links made clickable, nothing else;
{{ message.payload|shopper_payload }}: the cards and links of a message as the shopper sees them."""
import re

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

register = template.Library()

LINK = re.compile(r"https?://[^\s<>\"']+")


@register.filter
def chat_text(body: str) -> str:
    parts, at = [], 0
    for found in LINK.finditer(body or ""):
        url = found.group().rstrip(".,;:!?)")
        parts.append(escape(body[at:found.start()]))
        parts.append(format_html('<a href="{}" rel="nofollow noopener" target="_blank">{}</a>', url, url))
        at = found.start() + len(url)
    parts.append(escape((body or "")[at:]))
    return mark_safe("".join(parts))


@register.filter
def shopper_payload(payload) -> dict:
    """{% with payload=message.payload|shopper_payload %}: what the shopper is shown of it, as the
    launcher's script gets it (`chat.payloads.for_shopper`)."""
    from chat.payloads import for_shopper

    return for_shopper(payload)
