"""What both Meta platforms share: the `X-Hub-Signature-256` check and the message shape."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime


def signature_ok(*, raw_body: bytes, header: str, secret: str) -> bool:
    """`header` is "sha256=<hex HMAC-SHA256 of the raw body with the app secret>"; compared in
    constant time. An empty secret never matches."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


def sign(*, raw_body: bytes, secret: str) -> str:
    """The header Meta sends for `raw_body` (for tests and the demo)."""
    return "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Media:
    """A file a customer sent, to fetch after the webhook (`media.fetch_inbound`)."""

    kind: str  # WhatsApp: image, document, sticker; Messenger: image, file
    ref: str  # WhatsApp: the media id (GET /{media-id} gives a short-lived URL); Messenger: the file's URL
    name: str = ""  # the file name the platform gives, if any
    mime_type: str = ""  # as the platform declares it (only ever used to refuse, never to accept)


@dataclass(frozen=True)
class Inbound:
    """One message a customer sent on a platform, as read from a webhook."""

    sender: str  # WhatsApp: the wa_id (phone digits); Messenger: the page-scoped id
    external_id: str  # wamid / mid: the platform's id, unique per channel
    sent_at: datetime
    text: str
    name: str = ""
    supported: bool = True  # False: a placeholder stands for audio, a video, a location...
    media: tuple[Media, ...] = ()  # files to fetch after the webhook


def graph_refusal(status: int, data) -> str:
    """A Graph API refusal in a few words for staff: "HTTP 400 (#131053) Media upload error"
    (the status, then the `error.message` Meta documents in its error answers, when there is one)."""
    error = data.get("error") if isinstance(data, dict) else None
    detail = error.get("message") if isinstance(error, dict) else ""
    return f"HTTP {status} {detail or ''}".strip()


class PlatformError(Exception):
    """The platform refused the request for good (a 4xx other than 429): retrying will not help."""


class TransientError(Exception):
    """A timeout, a connection error, a 429 or 5xx: try again later."""
