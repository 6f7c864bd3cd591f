"""The data of chat senders who are not a customer: a WhatsApp number, a Messenger id, or the email
address a guest gave, with no customer record behind their conversations.

A customer's conversations go with the customer's own download and erasure (`customers/services`:
`chat_history`, `services.erase_for_customer`). Messaging senders are never matched to customers
(phones are not verified, see `messaging/inbound.py`), so those flows cannot reach them: staff
answer such a person's request here (`/admin/chat/conversation/privacy/`), by the identifier the
person gives (their number, the id on a message they received, their email).

Both flows write an `customers.AuditLog` entry (no customer; the identifier only as a keyed hash,
so the log does not keep what was erased but a repeated request can still be recognised).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .exceptions import ChatError
from .models import Attachment, Channel, Conversation, Message

KINDS = [
    ("whatsapp", gettext_lazy("WhatsApp number")),
    ("messenger", gettext_lazy("Messenger sender id (PSID)")),
    ("email", gettext_lazy("Email address (guest conversations)")),
]


@dataclass(frozen=True)
class Sender:
    kind: str  # "whatsapp", "messenger" or "email"
    value: str  # normalised: digits for the platforms, lower case for email

    def describe(self) -> str:
        return f"{self.kind}:{self.value}"

    def fingerprint(self) -> str:
        return salted_hmac("chat.privacy.sender", self.describe()).hexdigest()[:32]


def sender_from(*, kind: str, value: str) -> Sender:
    """Normalise what staff typed ("+1 631-555-1181", " Bo@Example.com "); raises ChatError."""
    value = (value or "").strip()
    if kind in ("whatsapp", "messenger"):
        digits = re.sub(r"[\s()+\-.]", "", value)
        if not digits.isdigit() or not 5 <= len(digits) <= 64:
            raise ChatError(_("Enter the number or id in digits (spaces, dashes and a leading + are fine)."))
        if kind == "whatsapp" and not value.startswith("+"):
            digits = _whatsapp_id(value, digits)
        return Sender(kind=kind, value=digits)
    if kind == "email":
        from django.core.validators import validate_email
        from django.core.exceptions import ValidationError

        try:
            validate_email(value)
        except ValidationError:
            raise ChatError(_("Enter a valid email address.")) from None
        return Sender(kind=kind, value=value.lower())
    raise ChatError(_("Choose what kind of identifier this is."))


def _whatsapp_id(typed: str, digits: str) -> str:
    """A number as the person says it ("07700 900123") is read as the store's country's, like
    verified phones (E.164 without the "+", WhatsApp's form); digits that already are a sender
    (WhatsApp's own form, as the inbox shows it) stay as typed."""
    from customers.services import normalise_phone

    number = normalise_phone(typed)
    if not number or number[1:] == digits:
        return digits
    if Conversation.objects.filter(channel=Channel.WHATSAPP, external_sender=digits).exists():
        return digits
    return number[1:]


def conversations_of(sender: Sender) -> QuerySet[Conversation]:
    """Their conversations that no customer record holds (those go with the customer's flows)."""
    found = Conversation.objects.filter(customer__isnull=True)
    if sender.kind == "email":
        return found.filter(email__iexact=sender.value)
    return found.filter(channel=sender.kind, external_sender=sender.value)


def summary(sender: Sender) -> dict:
    conversations = conversations_of(sender)
    counts = conversations.aggregate(conversations=Count("pk", distinct=True), messages=Count("messages"))
    counts["attachments"] = Attachment.objects.filter(conversation__in=conversations).count()
    return counts


def export_sender_data(*, sender: Sender, actor) -> dict:
    """Everything chat holds about `sender`, as the customer download's `chat_history` has it
    (authors as roles; staff's internal notes included), plus their name and identifier on the
    platform and the files they sent (names, types, sizes; the files themselves are in the inbox).
    Three queries and an audit entry."""
    from customers.models import AuditLog
    from customers.services import record_audit

    conversations = list(conversations_of(sender).prefetch_related("messages", "attachments")
                         .order_by("created_at", "pk"))
    data = {
        "generated_at": timezone.now(),
        "sender": {"kind": sender.kind, "identifier": sender.value},
        "conversations": [
            {
                "channel": c.channel, "status": c.status, "started_at": c.created_at, "name": c.name,
                "email": c.email, "identifier_on_platform": c.external_sender, "page": c.page_url,
                "rating": c.rating, "rating_comment": c.rating_comment,
                "messages": [
                    {"from": "staff" if m.sender == Message.Sender.AGENT else m.sender, "text": m.body,
                     "internal_note": m.is_note, "at": m.created_at, "came_by": m.channel}
                    for m in c.messages.all()
                ],
                "files": [{"name": a.name, "type": a.content_type, "bytes": a.size, "at": a.created_at}
                          for a in c.attachments.all()],
            }
            for c in conversations
        ],
    }
    record_audit(action=AuditLog.Action.DATA_EXPORT, actor=actor, customer=None,
                 detail=_("Chat data of a %(kind)s sender downloaded (%(count)d conversations)")
                 % {"kind": sender.kind, "count": len(conversations)},
                 chat_sender=sender.fingerprint(), conversations=len(conversations))
    return data


def erase_sender(*, sender: Sender, actor, reason: str = "") -> int:
    """Delete `sender`'s conversations (not a customer's), with their messages and files, in one
    transaction holding the conversations' row locks (in pk order); the files go after commit.
    An outbox row of a reply email to them loses its recipients. Returns how many conversations
    were deleted; erasing again finds none and records that too."""
    from customers.models import AuditLog
    from customers.services import record_audit
    from notifications.models import OutboundEmail

    from .attachments import delete_files_after_commit
    from .emails import reply_key

    with transaction.atomic():
        conversations = list(conversations_of(sender).select_for_update().order_by("pk"))
        ids = [c.pk for c in conversations]
        files = list(Attachment.objects.filter(conversation_id__in=ids).values_list("file", flat=True))
        message_ids = list(Message.objects.filter(conversation_id__in=ids).values_list("pk", flat=True))
        if message_ids:
            OutboundEmail.objects.filter(key__in=[reply_key(pk) for pk in message_ids]).update(recipients=[])
        Conversation.objects.filter(pk__in=ids).delete()
        delete_files_after_commit(files)
        record_audit(action=AuditLog.Action.CUSTOMER_ERASED, actor=actor, customer=None,
                     detail=(_("Chat data of a %(kind)s sender erased (%(count)d conversations)")
                             % {"kind": sender.kind, "count": len(ids)} + (f": {reason}" if reason else ""))[:500],
                     chat_sender=sender.fingerprint(), conversations=len(ids), messages=len(message_ids))
    if ids:
        from . import realtime

        for pk in ids:
            event = {"type": "conversation", "id": pk}
            transaction.on_commit(lambda event=event: realtime.publish(realtime.INBOX_CHANNEL, event))
    return len(ids)


def sender_of(conversation: Conversation) -> Sender | None:
    """The identifier this flow knows a conversation's person by (None when a customer holds it)."""
    if conversation.customer_id:
        return None
    if conversation.channel in (Channel.WHATSAPP, Channel.MESSENGER) and conversation.external_sender:
        return Sender(kind=conversation.channel, value=conversation.external_sender)
    if conversation.email:
        return Sender(kind="email", value=conversation.email.lower())
    return None
