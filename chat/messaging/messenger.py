"""Messenger Platform: reading its webhook, sending messages.

Webhook (object "page"): entry[].messaging[] with sender.id, recipient.id, timestamp (ms) and
message (mid, text, attachments); echoes of the page's own messages (message.is_echo) and
delivery/read events (no message) are skipped.
Sending: POST {GRAPH_API_URL}/me/messages with the page access token.
The webhook carries no name: the sender's is read once from the User Profile API (GET /<PSID>).
"""
from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.utils.translation import gettext as _

from .common import Inbound

OBJECT = "page"


def configured() -> bool:
    return bool(settings.MESSENGER_VERIFY_TOKEN and settings.MESSENGER_APP_SECRET)


def verify_token() -> str:
    return settings.MESSENGER_VERIFY_TOKEN


def app_secret() -> str:
    return settings.MESSENGER_APP_SECRET


def parse(payload: dict) -> list[Inbound]:
    if payload.get("object") != OBJECT:
        return []
    found = []
    for entry in payload.get("entry") or []:
        for event in entry.get("messaging") or []:
            message = event.get("message")
            sender = str((event.get("sender") or {}).get("id", ""))
            if not isinstance(message, dict) or message.get("is_echo") or not sender or not message.get("mid"):
                continue
            try:
                sent_at = datetime.fromtimestamp(int(event.get("timestamp")) / 1000, tz=UTC)
            except (TypeError, ValueError):
                sent_at = datetime.now(tz=UTC)
            text, supported = str(message.get("text") or ""), True
            if not text.strip():
                kinds = ", ".join(sorted({str(a.get("type", "")) for a in message.get("attachments") or []})) or _("unknown")
                text, supported = _("[%(kind)s message: not shown here, open Messenger to see it]") % {"kind": kinds}, False
            found.append(Inbound(sender=sender, external_id=str(message["mid"]), sent_at=sent_at, text=text,
                                 supported=supported))
    return found


def can_send() -> bool:
    return bool(settings.MESSENGER_PAGE_TOKEN)


def endpoint() -> str:
    return f"{settings.GRAPH_API_URL}/me/messages"


def headers() -> dict:
    return {"Authorization": f"Bearer {settings.MESSENGER_PAGE_TOKEN}"}


def text_body(*, to: str, text: str, tag: str = "") -> dict:
    """Within 24 hours a RESPONSE; after that (up to 7 days) a MESSAGE_TAG with `tag` HUMAN_AGENT."""
    if tag:
        return {"recipient": {"id": to}, "messaging_type": "MESSAGE_TAG", "tag": tag, "message": {"text": text}}
    return {"recipient": {"id": to}, "messaging_type": "RESPONSE", "message": {"text": text}}


def profile_url(psid: str) -> str:
    """The User Profile API: GET {GRAPH_API_URL}/<PSID>?fields=first_name,last_name."""
    return f"{settings.GRAPH_API_URL}/{psid}"


PROFILE_FIELDS = "first_name,last_name"


def profile_name(response_json: dict) -> str:
    return " ".join(str(response_json.get(key) or "").strip() for key in ("first_name", "last_name")).strip()


def sent_id(response_json: dict) -> str:
    return str(response_json.get("message_id", ""))
