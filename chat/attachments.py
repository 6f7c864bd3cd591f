"""Attachments in chat: images and PDFs a shopper (or staff) sends with a message.

- Checked from their content, never from their name or the browser's content type: an image goes
  through the product images' own validation (`catalog.validators.inspect_image_upload`: JPEG,
  PNG, WebP or GIF, size and pixel limits, decompression bombs refused) and is then re-encoded
  with Pillow (which also drops its metadata: a phone photo's EXIF carries where it was taken);
  a PDF must start with `%PDF-`, end with `%%EOF` and carry no JavaScript or launch action.
  At most `CHAT_ATTACHMENT_MAX_BYTES`.
- Stored privately (`PrivateStorage`, under `CHAT_ATTACHMENT_ROOT`, never below MEDIA_ROOT and
  without a URL), under a random name; served only by views that check who asks: this browser's
  or customer's conversation (`views.attachment`), the signed conversation link
  (`views.conversation_attachment`), staff who may read conversations (the inbox).
- The message carries the attachment in its payload (`{"attachments": [{id, name, kind, size}]}`),
  so the live stream and the pages show it like a product card.
"""
from __future__ import annotations

import io
import os
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.db import transaction
from django.http import FileResponse
from django.template.defaultfilters import filesizeformat
from django.utils.functional import cached_property
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from .exceptions import MessageRejected

IMAGE_TYPES = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp"),
               "GIF": ("png", "image/png")}  # a GIF is re-encoded as a PNG of its first frame
PDF_TYPE = ("pdf", "application/pdf")
MAX_SIDE = 2560  # pixels: larger photos are scaled down when re-encoded
ACCEPT = "image/jpeg,image/png,image/webp,image/gif,application/pdf"


class PrivateStorage(FileSystemStorage):
    """Files with no public URL, under `CHAT_ATTACHMENT_ROOT` (read when used, so tests can move it)."""

    @property
    def base_location(self):
        return str(settings.CHAT_ATTACHMENT_ROOT)

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    @cached_property
    def base_url(self):
        return None

    def url(self, name):
        raise ValueError("Chat attachments have no public URL: they are served by views that check access.")


def private_storage() -> PrivateStorage:
    return PrivateStorage()


@dataclass(frozen=True)
class Checked:
    """An upload that passed: what to store."""

    content: bytes
    kind: str  # "image" or "pdf"
    extension: str
    content_type: str
    name: str  # the shopper's file name, cleaned, for showing only
    width: int | None = None
    height: int | None = None


def _rejected(message: str) -> MessageRejected:
    return MessageRejected(message)


def _display_name(upload) -> str:
    return display_name(getattr(upload, "name", "") or "")


def display_name(raw: str) -> str:
    """A file name fit to show: its last part, cleaned, at most 100 characters."""
    raw = os.path.basename(raw or "")
    try:
        cleaned = get_valid_filename(raw)
    except Exception:  # nothing usable left (Django raises SuspiciousFileOperation)
        cleaned = ""
    return cleaned[-100:] or _("attachment")


def check_upload(upload) -> Checked:
    """Validate `upload` (an UploadedFile) and return what to store, or raise MessageRejected with
    a message the shopper can act on. Nothing is stored here."""
    limit = settings.CHAT_ATTACHMENT_MAX_BYTES
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise _rejected(_("The file is %(size)s; the largest allowed is %(limit)s.")
                        % {"size": filesizeformat(size), "limit": filesizeformat(limit)})
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    if head.startswith(b"%PDF-"):
        return _check_pdf(upload, limit)
    return _check_image(upload)


def _check_pdf(upload, limit: int) -> Checked:
    data = upload.read(limit + 1)
    upload.seek(0)
    if len(data) > limit:
        raise _rejected(_("The file is larger than %(limit)s.") % {"limit": filesizeformat(limit)})
    if b"%%EOF" not in data[-2048:]:
        raise _rejected(_("The PDF is incomplete or damaged. Save it again and send it once more."))
    # Active content a viewer may run: refused rather than served to staff.
    if any(marker in data for marker in (b"/JavaScript", b"/JS ", b"/JS(", b"/JS<", b"/Launch", b"/EmbeddedFile")):
        raise _rejected(_("PDFs with scripts or embedded files cannot be sent. Print it to a new PDF and send that."))
    return Checked(content=data, kind="pdf", extension=PDF_TYPE[0], content_type=PDF_TYPE[1],
                   name=_display_name(upload))


def _check_image(upload) -> Checked:
    from catalog.validators import inspect_image_upload
    from PIL import Image, ImageOps

    try:
        image_format = inspect_image_upload(upload)
    except ValidationError as error:
        if error.code == "invalid_image":
            raise _rejected(_("Only images (JPEG, PNG, WebP, GIF) and PDF files can be sent.")) from None
        raise _rejected(" ".join(error.messages)) from None
    extension, content_type = IMAGE_TYPES[image_format]
    upload.seek(0)
    try:
        with Image.open(upload, formats=[image_format]) as image:
            image.seek(0)
            picture = ImageOps.exif_transpose(image)  # the orientation the phone meant, then no EXIF
            picture.thumbnail((MAX_SIDE, MAX_SIDE))
            out = io.BytesIO()
            if content_type == "image/jpeg":
                picture.convert("RGB").save(out, "JPEG", quality=88, optimize=True)
            elif content_type == "image/webp":
                picture.save(out, "WEBP", quality=88)
            else:
                if picture.mode not in ("RGB", "RGBA", "L", "LA", "P"):
                    picture = picture.convert("RGBA")
                picture.save(out, "PNG", optimize=True)
            width, height = picture.size
    except (OSError, ValueError, SyntaxError, EOFError):
        raise _rejected(_("The image could not be read. Save it again and send it once more.")) from None
    finally:
        upload.seek(0)
    return Checked(content=out.getvalue(), kind="image", extension=extension, content_type=content_type,
                   name=_display_name(upload), width=width, height=height)


def payload_of(attachment) -> dict:
    return {"id": attachment.pk, "name": attachment.name, "kind": attachment.kind, "size": attachment.size,
            "content_type": attachment.content_type}


def add_with_attachment(*, conversation, checked: Checked, text: str = "", sender: str = "shopper",
                        rate_key: str = "", author=None, external_id: str = ""):
    """Store `checked` and the message that carries it in one transaction (the message's text is
    `text`, or the file's name). The shopper's side goes through `services.add_shopper_message`
    (length, rate, reopening); staff's through `services.add_agent_message` (on WhatsApp and
    Messenger: within the reply window, like text, and sent through their APIs after commit by
    `messaging.media.send_files`). If the transaction rolls back, the file written is deleted."""
    from . import services
    from .models import Attachment, Message

    body = (text or "").strip() or checked.name
    stored_name = None
    try:
        with transaction.atomic():
            attachment = Attachment(conversation=conversation, kind=checked.kind, content_type=checked.content_type,
                                    size=len(checked.content), name=checked.name, width=checked.width,
                                    height=checked.height)
            attachment.file.save(f"{uuid.uuid4().hex}.{checked.extension}", ContentFile(checked.content), save=False)
            stored_name = attachment.file.name
            attachment.save()
            payload = {"attachments": [payload_of(attachment)]}
            if sender == "shopper":
                message = services.add_shopper_message(conversation=conversation, body=body, rate_key=rate_key,
                                                       payload=payload, external_id=external_id)
            else:
                message = services.add_agent_message(conversation=conversation, author=author, body=body,
                                                     payload=payload)
            Attachment.objects.filter(pk=attachment.pk).update(message=message)
    except BaseException:
        if stored_name:
            private_storage().delete(stored_name)
        raise
    return Message.objects.get(pk=message.pk)


def response_for(attachment) -> FileResponse:
    """The file, as its checked type; images shown inline, PDFs downloaded. Never cached by shared
    caches; sandboxed, so nothing in it runs on the store's origin."""
    inline = attachment.kind == "image"
    response = FileResponse(attachment.file.open("rb"), content_type=attachment.content_type,
                            as_attachment=not inline, filename=attachment.name)
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def delete_files_after_commit(names: list[str]) -> None:
    """After the rows that named them are deleted (an erasure), remove the files."""
    names = [name for name in names if name]
    if not names:
        return

    def remove() -> None:
        storage = private_storage()
        for name in names:
            storage.delete(name)

    transaction.on_commit(remove)
