"""Signed UTM-style parameters on the links in the store's own emails.

Campaign emails (marketing/rendering.py) and order emails (notifications/services.py) link to the
store with `utm_source`, `utm_medium` and `utm_campaign`, and `utm_sig`: a short HMAC of those
three (django.core.signing, the SECRET_KEY, its own salt). The recorder stores the three on every
event of the visit's first request and sets `Event.utm_verified` only when the signature matches,
so a report attributes a visit to a campaign or an email only when the store itself sent the link.
Hand-made or tampered parameters (an ad, a social post, someone editing the address) are kept as
plain, unverified UTM data: useful for "where do visitors come from", never for campaign revenue.

Values the store writes:

| link in | utm_source | utm_medium | utm_campaign |
| --- | --- | --- | --- |
| a marketing campaign | `campaign` | `email` | the campaign's id |
| an order email | `order_email` | `email` | the email kind (`order_confirmation`, `order_shipped`, ...) |

None of these parameters changes what a page shows: the page cache (catalog/cache.py) leaves them
out of its key and out of the shared render (`without_tracking`).
"""
from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from django.core import signing
from django.utils.crypto import constant_time_compare

SOURCE, MEDIUM, CAMPAIGN = "utm_source", "utm_medium", "utm_campaign"
SIGNATURE = "utm_sig"
FIELDS = (SOURCE, MEDIUM, CAMPAIGN)
CAMPAIGN_SOURCE = "campaign"
ORDER_EMAIL_SOURCE = "order_email"
EMAIL = "email"
_SALT = "analytics.utm"
_SIGNATURE_LENGTH = 16  # 96 bits of the HMAC-SHA256: short in a link, not guessable
MAX_LENGTH = 100  # Event.utm_* fields


def signature(source: str, medium: str, campaign: str) -> str:
    value = "\x1f".join((source, medium, campaign))
    return signing.Signer(salt=_SALT).signature(value)[:_SIGNATURE_LENGTH]


def is_tracking_param(name: str) -> bool:
    """utm_source, utm_medium, utm_campaign, utm_sig, and any other utm_* (utm_term, utm_content)."""
    return name.startswith("utm_")


def verified(params: Mapping[str, str]) -> bool:
    """Whether `params` (request.GET) carry the three fields with the store's own signature."""
    values = [params.get(field, "") for field in FIELDS]
    given = params.get(SIGNATURE, "")
    if not all(values) or not given or any(len(value) > MAX_LENGTH for value in values):
        return False
    return constant_time_compare(given, signature(*values))


def tag_url(url: str, *, source: str, medium: str, campaign: str) -> str:
    """`url` with the signed parameters (any utm_* it had replaced)."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
             if not is_tracking_param(key)]
    query += [(SOURCE, source), (MEDIUM, medium), (CAMPAIGN, campaign),
              (SIGNATURE, signature(source, medium, campaign))]
    return urlunsplit(parts._replace(query=urlencode(query)))


def tagger(*, origin: str, source: str, medium: str, campaign: str,
           leave: frozenset[str] = frozenset()) -> Callable[[str], str]:
    """A function that tags links to the store (those starting with `origin`, e.g.
    absolute_url("/")) and returns every other link, and those in `leave`, as they are."""

    def tag(url: str) -> str:
        if not url.startswith(origin) or url in leave:
            return url
        return tag_url(url, source=source, medium=medium, campaign=campaign)

    return tag


_HREF = re.compile(r"""(\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)


def tag_hrefs(markup: str, tag: Callable[[str], str]) -> str:
    """Every `href` in an HTML text passed through `tag` (entities decoded, then escaped again)."""

    def replace(match: re.Match) -> str:
        url = html.unescape(match.group(3)).strip()
        tagged = tag(url)
        if tagged == url:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{html.escape(tagged)}{match.group(2)}"

    return _HREF.sub(replace, markup)


def tag_text_links(text: str, *, origin: str, tag: Callable[[str], str]) -> str:
    """Every link to the store (starting with `origin`) in a plain text passed through `tag`.
    A link ends at white space, a quote, a bracket or `<`; a full stop or comma after it is text."""
    pattern = re.compile(re.escape(origin) + r"""[^\s<>"'()\[\]]*""")

    def replace(match: re.Match) -> str:
        url = match.group(0)
        trail = len(url) - len(url.rstrip(".,;:!?"))
        core, rest = (url[:-trail], url[-trail:]) if trail else (url, "")
        return tag(core) + rest

    return pattern.sub(replace, text)


def without_tracking(query_string: str) -> str:
    """The query string without its utm_* parameters, the rest byte for byte as it was (so the
    page cache key of a URL without them does not change)."""
    if "utm_" not in query_string:
        return query_string
    kept = [part for part in query_string.split("&")
            if part and not is_tracking_param(unquote_plus(part.split("=", 1)[0]))]
    return "&".join(kept)
