"""Who is chatting: a random visitor key in a signed cookie, and a signed link for email.

The cookie holds only the key (signed, so it cannot be forged or guessed from another's); the
conversations are looked up by it server-side (`Conversation.objects.for_visitor`). It is set
only when a visitor starts a conversation, so browsing never gets it.
"""
from __future__ import annotations

import secrets

from django.core import signing
from django.http import HttpRequest, HttpResponse

COOKIE = "chat_visitor"
COOKIE_SALT = "chat.visitor"
LINK_SALT = "chat.link"
COOKIE_MAX_AGE = 60 * 60 * 24 * 180


def visitor_key(request: HttpRequest) -> str:
    """The visitor key of this browser, or "" if it has none (or a tampered one)."""
    raw = request.get_signed_cookie(COOKIE, default="", salt=COOKIE_SALT)
    return raw if raw and len(raw) <= 40 else ""


def new_visitor_key() -> str:
    return secrets.token_urlsafe(24)


def remember_visitor(response: HttpResponse, key: str) -> None:
    response.set_signed_cookie(
        COOKIE, key, salt=COOKIE_SALT, max_age=COOKIE_MAX_AGE, httponly=True, samesite="Lax",
        secure=not _debug(),
    )


def _debug() -> bool:
    from django.conf import settings

    # Tests and runserver serve plain http; production sets SESSION_COOKIE_SECURE.
    return not settings.SESSION_COOKIE_SECURE


def link_token(public_id: str) -> str:
    """A token for the email's link back to the conversation (no expiry: the conversation's
    address, signed, as an order's signed link is)."""
    return signing.dumps(public_id, salt=LINK_SALT, compress=False)


def public_id_from_token(token: str) -> str | None:
    try:
        value = signing.loads(token, salt=LINK_SALT)
    except signing.BadSignature:
        return None
    return value if isinstance(value, str) else None
