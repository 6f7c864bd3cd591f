"""Messenger Platform: reading its webhook, sending messages.

Webhook (object "page"): entry[].messaging[] with sender.id, recipient.id, timestamp (ms) and
message (mid, text, attachments); echoes of the page's own messages (message.is_echo) and
delivery/read events (no message) are skipped.
Sending: POST {GRAPH_API_URL}/me/messages with the page access token (a file: multipart, the
message's JSON fields and the file as `filedata`).
Files received (image, file) carry a URL in their payload, read without the token (`media.py`).
The webhook carries no name: the sender's is read once from the User Profile API (GET /<PSID>).
"""
from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from urllib.parse import urlparse

from django.conf import settings
from django.utils.translation import gettext as _

from .common import Inbound, Media

OBJECT = "page"
# Attachments whose file is fetched from their payload URL; audio, video, shared links... stay a
# placeholder that says to open Messenger.
MEDIA_KINDS = ("image", "file")


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
            media = tuple(item for item in map(_media_of, message.get("attachments") or []) if item)
            if not text.strip() and media:
                text = _("[Photo]") if all(item.kind == "image" for item in media) else \
                    (media[0].name or _("[File]"))
            if not text.strip():
                kinds = ", ".join(sorted({str(a.get("type", "")) for a in message.get("attachments") or []})) or _("unknown")
                text, supported = _("[%(kind)s message: not shown here, open Messenger to see it]") % {"kind": kinds}, False
            found.append(Inbound(sender=sender, external_id=str(message["mid"]), sent_at=sent_at, text=text,
                                 supported=supported, media=media))
    return found


def _media_of(attachment) -> Media | None:
    """An image (stickers and GIFs are images too) or a file, by its payload URL."""
    if not isinstance(attachment, dict) or attachment.get("type") not in MEDIA_KINDS:
        return None
    url = str((attachment.get("payload") or {}).get("url") or "")
    if not url:
        return None
    name = os.path.basename(urlparse(url).path) if attachment["type"] == "file" else ""
    return Media(kind=str(attachment["type"]), ref=url, name=name[:100])


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


def attachment_form(*, to: str, kind: str, tag: str = "") -> dict:
    """The form fields of an attachment message (the file goes with them as `filedata`): an image,
    or anything else as a file; tagged like a text reply after the 24 hours."""
    form = {"recipient": json.dumps({"id": to}),
            "message": json.dumps({"attachment": {"type": "image" if kind == "image" else "file",
                                                  "payload": {"is_reusable": False}}})}
    if tag:
        form.update(messaging_type="MESSAGE_TAG", tag=tag)
    else:
        form["messaging_type"] = "RESPONSE"
    return form


def profile_url(psid: str) -> str:
    """The User Profile API: GET {GRAPH_API_URL}/<PSID>?fields=first_name,last_name."""
    return f"{settings.GRAPH_API_URL}/{psid}"


PROFILE_FIELDS = "first_name,last_name"


def profile_name(response_json: dict) -> str:
    return " ".join(str(response_json.get(key) or "").strip() for key in ("first_name", "last_name")).strip()


def sent_id(response_json: dict) -> str:
    return str(response_json.get("message_id", ""))
