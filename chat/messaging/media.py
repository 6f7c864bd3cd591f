"""Files to and from WhatsApp and Messenger.

In: a webhook's image, document or sticker (WhatsApp) or image or file (Messenger) is stored at
once as the customer's message, its files listed in `payload["media"]` as pending; after commit
`tasks.fetch_inbound_media_task` fetches each (WhatsApp: GET /{media-id} for a URL valid a few
minutes, then that URL with the bearer token; Messenger: the payload's URL, without the token),
at most `CHAT_ATTACHMENT_MAX_BYTES`, each request within `MESSAGING_HTTP_TIMEOUT` and the whole
download within DOWNLOAD_SECONDS, and puts it through the chat's own checks
(`attachments.check_upload`). A file that passes becomes the message's `Attachment`; one refused
(by the checks, its size, a type that cannot pass, or the platform) is marked refused with the
reason, and a note tells staff. Timeouts, 429 and 5xx are retried, then given up the same way.
Each file's state is settled under the message's row lock, so the task run twice stores it once.

Out: a staff attachment (`attachments.add_with_attachment`, within the reply window like text)
goes through `outbound.deliver`, which calls `send_files`: WhatsApp uploads each file to
/{phone-number-id}/media and sends an image or document message with the media id (the staff's
text as its caption); Messenger sends the text first, then each file as an attachment message
(multipart, `filedata`). Each step's id is kept in `payload["sent_parts"]`, so a retry after a
timeout sends only what had not gone.
"""
from __future__ import annotations

import io
import logging
import time
import uuid
from dataclasses import replace

import requests
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from ..exceptions import MessageRejected
from ..models import Attachment, Channel, Message
from . import messenger, whatsapp
from .common import TransientError, graph_refusal

log = logging.getLogger(__name__)

PENDING, STORED, REFUSED = "pending", "stored", "refused"
DOWNLOAD_SECONDS = 60  # a whole download, however slowly the server trickles it
CHUNK = 64 * 1024


class Refused(Exception):
    """The file cannot be kept (why, in words staff read)."""


# --- In -------------------------------------------------------------------------------------------

def pending_entries(media) -> list[dict]:
    """The payload entries for a webhook's files: pending, or refused at once when the platform
    declares a type that cannot pass the checks (a Word file is not downloaded to be refused)."""
    entries = []
    for item in media:
        entry = {"kind": item.kind, "ref": item.ref, "name": item.name, "mime_type": item.mime_type,
                 "state": PENDING}
        declared = item.mime_type.split(";")[0].strip().lower()
        if declared and not (declared.startswith("image/") or declared == "application/pdf"):
            entry.update(state=REFUSED, reason=_("only images and PDF files are kept (this one is %(type)s)")
                         % {"type": declared[:60]})
        entries.append(entry)
    return entries


def note_refusals(message: Message) -> None:
    """A note for each file refused as it arrived (the caller holds the transaction)."""
    for entry in message.payload.get("media") or []:
        if entry.get("state") == REFUSED:
            _note(message, entry)


def fetch_after_commit(message_id: int) -> None:
    from ..tasks import fetch_inbound_media_task

    def enqueue() -> None:
        try:
            fetch_inbound_media_task.delay(message_id)
        except Exception:  # the broker is down: say so rather than leave it pending for ever
            log.exception("Could not queue the media of message %s", message_id)
            give_up(message_id=message_id, error=_("could not be queued"))

    transaction.on_commit(enqueue)


def fetch_inbound(*, message_id: int) -> int:
    """Fetch, check and store the message's pending files; returns how many were stored now.
    Raises TransientError (a timeout, 429, 5xx) to be retried; what was settled stays settled."""
    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        return 0
    stored = 0
    for index, entry in enumerate(message.payload.get("media") or []):
        if entry.get("state") != PENDING:
            continue
        try:
            content = _fetch(message.channel, entry)
            checked = _check(content, entry=entry, message_id=message_id)
        except (Refused, MessageRejected) as error:
            _settle(message_id, index, reason=str(error))
            continue
        stored += _store(message_id, index, checked)
    return stored


def give_up(*, message_id: int, error: str) -> None:
    """Retries ran out: every file still pending is refused with the error."""
    message = Message.objects.filter(pk=message_id).first()
    for index, entry in enumerate((message.payload.get("media") or []) if message else []):
        if entry.get("state") == PENDING:
            _settle(message_id, index, reason=_("could not be fetched (%(error)s)") % {"error": error})


def _fetch(channel: str, entry: dict) -> bytes:
    from .outbound import _graph_call

    limit = settings.CHAT_ATTACHMENT_MAX_BYTES
    if channel == Channel.WHATSAPP:
        if not settings.WHATSAPP_TOKEN:
            raise Refused(_("the WhatsApp access token is not set"))
        status, data = _graph_call(requests.get, whatsapp.media_url(entry["ref"]), headers=whatsapp.headers())
        if status >= 400 or not isinstance(data, dict) or not data.get("url"):
            raise Refused(_("WhatsApp did not give the file (%(refusal)s)") % {"refusal": graph_refusal(status, data)})
        try:
            size = int(data.get("file_size") or 0)
        except (TypeError, ValueError):
            size = 0
        if size > limit:
            raise Refused(_too_large(size, limit))
        return _download(str(data["url"]), headers=whatsapp.headers(), limit=limit)
    url = entry.get("ref") or ""
    if not url.startswith("https://"):
        raise Refused(_("the file's address is not an https address"))
    return _download(url, headers={}, limit=limit)


def _too_large(size: int, limit: int) -> str:
    return _("The file is %(size)s; the largest allowed is %(limit)s.") % {
        "size": filesizeformat(size), "limit": filesizeformat(limit)}


def _download(url: str, *, headers: dict, limit: int) -> bytes:
    """The file at `url`, at most `limit` bytes (more is refused without reading on)."""
    try:
        response = requests.get(url, headers=headers, timeout=settings.MESSAGING_HTTP_TIMEOUT, stream=True)
    except requests.RequestException as error:
        raise TransientError(str(error)) from error
    try:
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise Refused(_("the platform refused the download (HTTP %(status)s)") % {"status": response.status_code})
        deadline = time.monotonic() + DOWNLOAD_SECONDS
        chunks, size = [], 0
        for chunk in response.iter_content(chunk_size=CHUNK):
            size += len(chunk)
            if size > limit:
                raise Refused(_("The file is larger than %(limit)s.") % {"limit": filesizeformat(limit)})
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise TransientError(f"the download took more than {DOWNLOAD_SECONDS} s")
        return b"".join(chunks)
    except requests.RequestException as error:
        raise TransientError(str(error)) from error
    finally:
        response.close()


def _check(content: bytes, *, entry: dict, message_id: int):
    from .. import attachments

    checked = attachments.check_upload(SimpleUploadedFile(entry.get("name") or "file", content))
    if not entry.get("name"):  # a photo or sticker has no name: one for staff to recognise
        checked = replace(checked, name=f"{entry.get('kind') or 'file'}-{message_id}.{checked.extension}")
    return checked


def _store(message_id: int, index: int, checked) -> int:
    """Keep the checked file as the message's attachment, once (under the message's row lock)."""
    from ..attachments import payload_of, private_storage

    stored_name = None
    try:
        with transaction.atomic():
            message = Message.objects.select_for_update().get(pk=message_id)
            media = list(message.payload.get("media") or [])
            if index >= len(media) or media[index].get("state") != PENDING:
                return 0  # another run settled it
            attachment = Attachment(conversation_id=message.conversation_id, message=message, kind=checked.kind,
                                    content_type=checked.content_type, size=len(checked.content),
                                    name=checked.name, width=checked.width, height=checked.height)
            attachment.file.save(f"{uuid.uuid4().hex}.{checked.extension}", ContentFile(checked.content), save=False)
            stored_name = attachment.file.name
            attachment.save()
            media[index] = {**media[index], "state": STORED, "attachment": attachment.pk}
            message.payload = {**message.payload, "media": media,
                               "attachments": [*(message.payload.get("attachments") or []), payload_of(attachment)]}
            Message.objects.filter(pk=message_id).update(payload=message.payload)
            publish_updated(message)
    except BaseException:
        if stored_name:
            private_storage().delete(stored_name)
        raise
    return 1


def _settle(message_id: int, index: int, *, reason: str) -> None:
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        media = list((message.payload.get("media") or []) if message else [])
        if index >= len(media) or media[index].get("state") != PENDING:
            return
        media[index] = {**media[index], "state": REFUSED, "reason": reason[:300]}
        message.payload = {**message.payload, "media": media}
        Message.objects.filter(pk=message_id).update(payload=message.payload)
        _note(message, media[index])
        publish_updated(message)


def _note(message: Message, entry: dict) -> None:
    from ..services import _publish_message

    what = entry.get("name") or {"image": _("photo"), "sticker": _("sticker")}.get(entry.get("kind"), _("file"))
    note = Message.objects.create(
        conversation_id=message.conversation_id, sender=Message.Sender.SYSTEM, is_note=True, channel=message.channel,
        body=(_("The %(what)s sent on %(channel)s was not kept: %(reason)s")
              % {"what": what, "channel": message.get_channel_display(), "reason": entry.get("reason", "")})[:2000])
    _publish_message(note, message.conversation)


def publish_updated(message: Message) -> None:
    """The inbox list and the conversation's page hear that the message changed (same id)."""
    from .. import realtime

    data = {"type": "updated", "id": message.pk}  # the staff page reads the message again
    inbox = {"type": "conversation", "id": message.conversation_id}
    transaction.on_commit(lambda: realtime.publish(realtime.conversation_channel(message.conversation_id), data))
    transaction.on_commit(lambda: realtime.publish(realtime.INBOX_CHANNEL, inbox))


# --- Out ------------------------------------------------------------------------------------------

def platform_file(attachment: Attachment) -> tuple[bytes, str, str]:
    """(content, content type, file name) as sent: WebP, which WhatsApp takes only as a sticker,
    goes as a PNG of the same picture."""
    with attachment.file.open("rb") as handle:
        content = handle.read()
    if attachment.content_type != "image/webp":
        return content, attachment.content_type, attachment.name
    from PIL import Image

    out = io.BytesIO()
    with Image.open(io.BytesIO(content), formats=["WEBP"]) as image:
        image.save(out, "PNG")
    name = attachment.name.rsplit(".", 1)[0] + ".png"
    return out.getvalue(), "image/png", name


def send_files(*, message: Message, files: list[Attachment], tag: str, record_failure) -> str:
    """Send the staff message's files (see the module's docstring); returns the last platform id,
    or "" after a refusal (recorded with `record_failure`). Raises TransientError to be retried."""
    from .outbound import _graph_call

    conversation = message.conversation
    to = conversation.external_sender
    # add_with_attachment names a message without text after its file: no caption then.
    caption = message.body if message.body.strip() != files[0].name else ""
    done = dict(message.payload.get("sent_parts") or {})

    def keep(key: str, value: str) -> None:
        done[key] = value
        message.payload = {**message.payload, "sent_parts": done}
        Message.objects.filter(pk=message.pk).update(payload=message.payload)

    def refused(status: int, data, what: str) -> str:
        record_failure(message_id=message.pk, error=f"{what}: {graph_refusal(status, data)}")
        return ""

    last = ""
    if conversation.channel == Channel.MESSENGER and caption:
        if "text" not in done:
            status, data = _graph_call(requests.post, messenger.endpoint(),
                                       json=messenger.text_body(to=to, text=caption, tag=tag),
                                       headers=messenger.headers())
            if status >= 400:
                return refused(status, data, _("the text"))
            keep("text", messenger.sent_id(data) or "sent")
        last = done["text"]
    for index, attachment in enumerate(files):
        key = str(attachment.pk)
        if key in done:
            last = done[key]
            continue
        content, content_type, name = platform_file(attachment)
        if conversation.channel == Channel.WHATSAPP:
            media_id = done.get(f"media:{key}", "")
            if not media_id:
                status, data = _graph_call(requests.post, whatsapp.media_endpoint(),
                                           data={"messaging_product": "whatsapp", "type": content_type},
                                           files={"file": (name, content, content_type)}, headers=whatsapp.headers())
                media_id = str(data.get("id") or "") if isinstance(data, dict) else ""
                if status >= 400 or not media_id:
                    return refused(status, data, _("upload of %(name)s") % {"name": name})
                keep(f"media:{key}", media_id)
            body = whatsapp.media_body(to=to, media_id=media_id, kind=attachment.kind,
                                       caption=caption if index == 0 else "", filename=name)
            status, data = _graph_call(requests.post, whatsapp.endpoint(), json=body, headers=whatsapp.headers())
            sent = whatsapp.sent_id(data) if isinstance(data, dict) else ""
        else:
            status, data = _graph_call(requests.post, messenger.endpoint(),
                                       data=messenger.attachment_form(to=to, kind=attachment.kind, tag=tag),
                                       files={"filedata": (name, content, content_type)}, headers=messenger.headers())
            sent = messenger.sent_id(data) if isinstance(data, dict) else ""
        if status >= 400:
            return refused(status, data, name)
        keep(key, sent or f"sent:{message.pk}:{key}")
        last = done[key]
    return last
