"""WhatsApp Business Cloud API: reading its webhook, sending messages.

Webhook (object "whatsapp_business_account"): entry[].changes[] with field "messages";
value.messages[] (from, id, timestamp, type, text.body), value.contacts[] (wa_id, profile.name);
value.statuses[] (delivery receipts) are not messages and are skipped.
Sending: POST {GRAPH_API_URL}/{WHATSAPP_PHONE_NUMBER_ID}/messages with a bearer token; a file is
first uploaded to /{WHATSAPP_PHONE_NUMBER_ID}/media, then sent as an image or document by its id.
Files received (image, document, sticker) carry a media id: GET /{media-id} gives a URL that is
read with the same token (`media.py`).
"""
from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.utils.translation import gettext as _

from .common import Inbound, Media

OBJECT = "whatsapp_business_account"
# The kinds of message whose file is fetched (and kept if it passes the chat's checks); audio,
# video, locations... stay a placeholder that says to open WhatsApp.
MEDIA_KINDS = ("image", "document", "sticker")


def configured() -> bool:
    return bool(settings.WHATSAPP_VERIFY_TOKEN and settings.WHATSAPP_APP_SECRET)


def verify_token() -> str:
    return settings.WHATSAPP_VERIFY_TOKEN


def app_secret() -> str:
    return settings.WHATSAPP_APP_SECRET


def _media_label(kind: str) -> str:
    return {"image": _("[Photo]"), "document": _("[Document]"), "sticker": _("[Sticker]")}.get(kind, "")


def _media_of(message: dict) -> Media | None:
    """An image, document or sticker: its media id, file name and declared type."""
    kind = message.get("type", "")
    item = message.get(kind) if kind in MEDIA_KINDS else None
    if not isinstance(item, dict) or not item.get("id"):
        return None
    return Media(kind=kind, ref=str(item["id"]), name=str(item.get("filename") or ""),
                 mime_type=str(item.get("mime_type") or ""))


def _text_of(message: dict) -> tuple[str, bool]:
    kind = message.get("type", "")
    if kind in MEDIA_KINDS and _media_of(message):
        item = message[kind]
        return str(item.get("caption") or item.get("filename") or _media_label(kind)), True
    if kind == "text":
        return str((message.get("text") or {}).get("body", "")), True
    if kind == "button":  # a quick-reply button of a template
        return str((message.get("button") or {}).get("text", "")), True
    if kind == "interactive":
        reply = message.get("interactive") or {}
        chosen = reply.get("button_reply") or reply.get("list_reply") or {}
        if chosen.get("title"):
            return str(chosen["title"]), True
    return _("[%(kind)s message: not shown here, open WhatsApp to see it]") % {"kind": kind or _("unknown")}, False


def parse(payload: dict) -> list[Inbound]:
    if payload.get("object") != OBJECT:
        return []
    found = []
    for entry in payload.get("entry") or []:
        for change in entry.get("changes") or []:
            if change.get("field") != "messages":
                continue
            value = change.get("value") or {}
            names = {c.get("wa_id"): (c.get("profile") or {}).get("name", "") for c in value.get("contacts") or []}
            for message in value.get("messages") or []:
                sender, external_id = str(message.get("from", "")), str(message.get("id", ""))
                if not sender or not external_id:
                    continue
                try:
                    sent_at = datetime.fromtimestamp(int(message.get("timestamp")), tz=UTC)
                except (TypeError, ValueError):
                    sent_at = datetime.now(tz=UTC)
                text, supported = _text_of(message)
                media = _media_of(message)
                found.append(Inbound(sender=sender, external_id=external_id, sent_at=sent_at, text=text,
                                     name=str(names.get(sender) or ""), supported=supported,
                                     media=(media,) if media else ()))
    return found


def can_send() -> bool:
    return bool(settings.WHATSAPP_TOKEN and settings.WHATSAPP_PHONE_NUMBER_ID)


def endpoint() -> str:
    return f"{settings.GRAPH_API_URL}/{settings.WHATSAPP_PHONE_NUMBER_ID}/messages"


def headers() -> dict:
    return {"Authorization": f"Bearer {settings.WHATSAPP_TOKEN}"}


def text_body(*, to: str, text: str) -> dict:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
            "text": {"preview_url": True, "body": text}}


def template_body(*, to: str, name: str, language: str, parameters: list[str] | None = None) -> dict:
    """A template message; its body's {{1}}, {{2}}... are `parameters` in order (text parameters
    as the Cloud API documents them: components[type=body].parameters[type=text])."""
    template: dict = {"name": name, "language": {"code": language}}
    if parameters:
        template["components"] = [{"type": "body",
                                   "parameters": [{"type": "text", "text": text} for text in parameters]}]
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "template",
            "template": template}


def media_endpoint() -> str:
    """Where a file is uploaded (multipart: file, type, messaging_product) for its media id."""
    return f"{settings.GRAPH_API_URL}/{settings.WHATSAPP_PHONE_NUMBER_ID}/media"


def media_url(media_id: str) -> str:
    """GET gives the file's short-lived URL, type and size; the URL is then read with the token."""
    return f"{settings.GRAPH_API_URL}/{media_id}"


def media_body(*, to: str, media_id: str, kind: str, caption: str = "", filename: str = "") -> dict:
    """An uploaded file sent: an image, or a PDF as a document (with its file name)."""
    if kind == "image":
        kind_name, item = "image", {"id": media_id}
    else:
        kind_name, item = "document", {"id": media_id, "filename": filename}
    if caption:
        item["caption"] = caption
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": kind_name,
            kind_name: item}


def sent_id(response_json: dict) -> str:
    return str(((response_json.get("messages") or [{}])[0]).get("id", ""))
