"""Email replies back into the conversation: a signed reply-to address per conversation, and
Mailgun's inbound webhook (`/chat/webhooks/email/`).

The reply emails staff send (`chat/emails.py`) carry `Reply-To: reply+<pk>-<mac>@CHAT_REPLY_DOMAIN`,
where `<mac>` is 96 bits of an HMAC of the conversation's id with the project's secret key: the
address cannot be guessed or made for another conversation, and it holds only lowercase letters,
digits and a hyphen, so mail servers that change the case of an address do not break it.

A Mailgun route for that domain forwards each message (`forward("https://shop/chat/webhooks/email/")`)
as a form post with Mailgun's fields: `recipient`, `sender`, `from`, `subject`, `body-plain`,
`stripped-text` (Mailgun's own quote removal), `Message-Id`, and `timestamp`, `token`, `signature`:
HMAC-SHA256 of timestamp + token with the webhook signing key (`MAILGUN_WEBHOOK_SIGNING_KEY`).
Attachments (`attachment-N`, not the inline ones of `content-id-map`) are checked as the chat's.
What this view answers, as Mailgun reads it: 200 stored (or already stored: a replay of a
Message-Id stores nothing); 403 a bad or stale signature (nothing read); 406 an address that is
not a conversation's, or nothing left after the quoted text is removed (Mailgun does not retry a
406); 429 the conversation's rate limit (Mailgun retries later).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.crypto import salted_hmac

from ..models import Channel, Conversation, Message

SALT = "chat.email-reply"
MAC_LENGTH = 24  # hex characters: 96 bits
# Mailgun signs a timestamp; older (or later) than this is refused as a replayed request.
MAX_AGE_SECONDS = 15 * 60
ADDRESS = re.compile(r"reply\+(?P<pk>\d{1,12})-(?P<mac>[0-9a-f]{%d})@" % MAC_LENGTH)


def configured() -> bool:
    return bool(settings.CHAT_REPLY_DOMAIN and settings.MAILGUN_WEBHOOK_SIGNING_KEY)


def _mac(conversation_id: int) -> str:
    return salted_hmac(SALT, str(conversation_id)).hexdigest()[:MAC_LENGTH]


def reply_address(conversation_id: int) -> str:
    """The address a shopper's reply to a chat email goes to ("" while no domain is set)."""
    if not settings.CHAT_REPLY_DOMAIN:
        return ""
    return f"reply+{conversation_id}-{_mac(conversation_id)}@{settings.CHAT_REPLY_DOMAIN}"


def conversation_for_address(recipients: str) -> Conversation | None:
    """The conversation whose reply address is among `recipients` (Mailgun's `recipient`, which
    may list several, comma-separated), or None: an unknown id and a wrong MAC look the same."""
    for match in ADDRESS.finditer(recipients.lower()):
        pk = int(match["pk"])
        if hmac.compare_digest(match["mac"], _mac(pk)):
            found = Conversation.objects.filter(pk=pk).first()
            if found is not None:
                return found
    return None


def signature_ok(*, timestamp: str, token: str, signature: str, key: str, now: float | None = None) -> bool:
    """Mailgun's webhook signature: hex HMAC-SHA256 of `timestamp + token` with the signing key,
    compared in constant time, and a timestamp within MAX_AGE_SECONDS of now."""
    if not (key and timestamp and token and signature):
        return False
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    if age > MAX_AGE_SECONDS:
        return False
    expected = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def sign(*, timestamp: str, token: str, key: str) -> str:
    """The signature Mailgun sends (for tests and the demo)."""
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


# Where the quoted earlier message starts, as common mail programs write it.
_QUOTE_HEADERS = [
    re.compile(r"^\s*On\s.{1,300}?\swrote:\s*$", re.MULTILINE | re.DOTALL),  # Gmail, Apple Mail, Thunderbird
    re.compile(r"^\s*Le\s.{1,300}?\sa écrit\s?:\s*$", re.MULTILINE | re.DOTALL),
    re.compile(r"^\s*Am\s.{1,300}?\sschrieb\s.{0,200}?:\s*$", re.MULTILINE | re.DOTALL),
    re.compile(r"^\s*El\s.{1,300}?\sescribió:\s*$", re.MULTILINE | re.DOTALL),
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.MULTILINE | re.IGNORECASE),  # Outlook
    re.compile(r"^\s*-{2,}\s*Forwarded message\s*-{2,}\s*$", re.MULTILINE | re.IGNORECASE),
    re.compile(r"^_{10,}\s*$\n^From:", re.MULTILINE),  # Outlook's rule above the headers
    re.compile(r"^From:\s.+\n^(Sent|Date):\s", re.MULTILINE),  # Outlook's header block
    re.compile(r"^-- $", re.MULTILINE),  # the signature separator
    re.compile(r"^Sent from my \w+", re.MULTILINE),
]


def strip_quoted(text: str) -> str:
    """The new part of a reply: the text before the first quote header or signature, without
    lines quoted with ">". Line endings become \\n."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    cut = len(text)
    for pattern in _QUOTE_HEADERS:
        match = pattern.search(text)
        if match and match.start() < cut:
            cut = match.start()
    lines = [line for line in text[:cut].split("\n") if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()


def message_id_of(post) -> str:
    """The email's Message-Id: Mailgun's `Message-Id` field when present, else the header in
    `message-headers` (a JSON list of [name, value] pairs, in order)."""
    import json

    found = post.get("Message-Id") or post.get("message-id") or ""
    if found:
        return found
    try:
        headers = json.loads(post.get("message-headers") or "[]")
    except ValueError:
        return ""
    for pair in headers if isinstance(headers, list) else []:
        if isinstance(pair, list) and len(pair) == 2 and str(pair[0]).lower() == "message-id":
            return str(pair[1])
    return ""


def message_key(message_id: str) -> str:
    """The Message-Id as the message's external id (unique per channel): hashed when too long."""
    message_id = message_id.strip()
    return message_id if len(message_id) <= 200 else "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()


def attached_files(post, files) -> list:
    """The email's attachments as Mailgun posts them (`attachment-1` ... `attachment-N`), leaving
    out inline parts (`content-id-map`: logos and pictures in signatures), at most MAX_FILES:
    [(name, upload)]."""
    import json

    try:
        inline = set((json.loads(post.get("content-id-map") or "{}") or {}).values())
    except (ValueError, AttributeError):
        inline = set()
    keys = sorted((key for key in files if key.startswith("attachment-") and key not in inline),
                  key=lambda key: int(key.rsplit("-", 1)[1]) if key.rsplit("-", 1)[1].isdigit() else 0)
    return [(files[key].name, files[key]) for key in keys[:MAX_FILES]]


MAX_FILES = 3


def receive(*, conversation: Conversation, text: str, message_id: str, sender: str,
            uploads: list | None = None) -> Message | None:
    """Store the shopper's emailed reply in `conversation` (once per Message-Id: None when it was
    already stored), with its attachments checked as the chat's (`attachments.check_upload`):
    the first with the text, the others as messages of their own; one that fails the check is
    left out with a note for staff. Raises MessageRejected (empty, too long) and RateLimited like
    the chat. The assistant hands over to a person, as on the conversation page."""
    from django.utils.translation import gettext as _

    from .. import attachments, services
    from ..exceptions import MessageRejected

    key = message_key(message_id) if message_id else ""
    if key and Message.objects.filter(channel=Channel.EMAIL, external_id=key).exists():
        return None
    checked, refused = [], []
    for name, upload in uploads or []:
        try:
            checked.append(attachments.check_upload(upload))
        except MessageRejected as error:
            refused.append(_("The attachment “%(name)s” of an email reply was not kept: %(reason)s")
                           % {"name": attachments.display_name(name), "reason": error})
    if not text and not checked:
        raise MessageRejected(_("Nothing but quoted text: nothing to add."))
    try:
        with transaction.atomic():
            stored = []
            for index, file in enumerate(checked or [None]):
                body = text if index == 0 else ""
                external_id = key if index == 0 else ""
                if file is None:
                    message = services.add_shopper_message(conversation=conversation, body=body,
                                                           rate_key=f"email:{conversation.pk}", external_id=external_id)
                else:
                    message = attachments.add_with_attachment(
                        conversation=conversation, checked=file, text=body, rate_key=f"email:{conversation.pk}",
                        external_id=external_id)
                stored.append(message)
            # Whatever channel the conversation started on, these came by email.
            for message in stored:
                Message.objects.filter(pk=message.pk).update(
                    channel=Channel.EMAIL, payload={**message.payload, "email_from": sender[:254]})
            for note in refused:
                Message.objects.create(conversation=conversation, sender=Message.Sender.SYSTEM, is_note=True,
                                       body=note[:2000], channel=Channel.EMAIL)
            message = stored[0]
    except IntegrityError:  # the same email delivered twice at once: the other one stored it
        return None
    conversation.refresh_from_db()
    if conversation.bot_active:
        services.hand_off(conversation=conversation, reason=_("an email reply"))
    return message
