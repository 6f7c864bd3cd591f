"""A webhook's messages into conversations: one conversation per sender and platform, each
message stored once (its platform id is unique per channel), through `services.add_shopper_message`
so the inbox hears of it live like any other.

A WhatsApp sender is matched to the customer whose phone number *staff verified*
(`Customer.verified_phone`, set at the counter: customers.services.verify_phone), since WhatsApp's
sender id is the number WhatsApp itself verified: both ends are the number's owner. The phone a
shopper merely typed is never followed (it would show that customer's orders to whoever owns the
number). A conversation that started before the number was verified joins the customer at the
sender's next message. Messenger ids are never matched. The sender's number (or Messenger id) is
kept on the conversation, with their name: WhatsApp's from the webhook's `contacts[].profile.name` (updated when it changes),
Messenger's read once from the User Profile API after the first message (`outbound.fetch_sender_name`).
Photos, documents and stickers are stored as the message at once and their files fetched after
commit (`media.py`).
"""
from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import services
from ..models import MESSAGE_MAX_LENGTH, Conversation, Message
from . import media
from .common import Inbound

log = logging.getLogger(__name__)


def _verified_customer(*, channel: str, sender: str):
    """The customer whose staff-verified phone is this WhatsApp sender's number, or None."""
    if channel != "whatsapp" or not sender:
        return None
    from customers.models import Customer
    from customers.services import normalise_phone

    number = normalise_phone("+" + sender.lstrip("+"))
    return Customer.objects.filter(verified_phone=number).first() if number else None


def _conversation_for(*, channel: str, item: Inbound) -> Conversation:
    found = Conversation.objects.filter(channel=channel, external_sender=item.sender).first()
    if found is not None:
        if found.customer_id is None and (customer := _verified_customer(channel=channel, sender=item.sender)):
            found.customer = customer
            found.save(update_fields=["customer", "updated_at"])
            services.record_on_timeline(found, customer)
        return found
    name = item.name or (f"+{item.sender}" if channel == "whatsapp" else "")
    customer = _verified_customer(channel=channel, sender=item.sender)
    try:
        with transaction.atomic():
            # The assistant answers on the web launcher only: a person answers here.
            created = Conversation.objects.create(channel=channel, external_sender=item.sender, name=name[:100],
                                                  bot_active=False, customer=customer)
            if customer is not None:
                services.record_on_timeline(created, customer)
    except IntegrityError:  # the same sender's first message, delivered concurrently
        return Conversation.objects.get(channel=channel, external_sender=item.sender)
    if not created.name:  # Messenger's webhook has no name: ask the User Profile API, after commit
        _fetch_name_after_commit(created.pk)
    return created


def _fetch_name_after_commit(conversation_id: int) -> None:
    from ..tasks import fetch_sender_name_task

    def enqueue() -> None:
        try:
            fetch_sender_name_task.delay(conversation_id)
        except Exception:  # the broker is down: the conversation shows the sender's id meanwhile
            log.exception("Could not queue the name lookup of conversation %s", conversation_id)

    transaction.on_commit(enqueue)


def receive(*, channel: str, items: list[Inbound]) -> int:
    """Store the messages not stored before; returns how many were new. A replay stores nothing."""
    stored = 0
    for item in items:
        if Message.objects.filter(channel=channel, external_id=item.external_id).exists():
            continue
        conversation = _conversation_for(channel=channel, item=item)
        # The platform's clock, never later than now: the reply window must not be stretched.
        sent_at = min(item.sent_at, timezone.now())
        body = services.CONTROL.sub("", item.text).strip()[:MESSAGE_MAX_LENGTH] or _("[empty message]")
        try:
            with transaction.atomic():
                message = services.add_shopper_message(conversation=conversation, body=body, rate_key="",
                                                       external_id=item.external_id)
                if not item.supported:
                    Message.objects.filter(pk=message.pk).update(payload={"unsupported": True})
                if item.media:  # fetched after commit, off the webhook's request
                    message.payload = {"media": media.pending_entries(item.media)}
                    Message.objects.filter(pk=message.pk).update(payload=message.payload)
                    media.note_refusals(message)
                    if any(entry["state"] == media.PENDING for entry in message.payload["media"]):
                        media.fetch_after_commit(message.pk)
                Conversation.objects.filter(
                    Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lt=sent_at), pk=conversation.pk,
                ).update(last_inbound_at=sent_at)
                if item.name and conversation.name != item.name[:100]:
                    Conversation.objects.filter(pk=conversation.pk).update(name=item.name[:100])
        except IntegrityError:  # delivered twice at the same moment: the other one stored it
            continue
        stored += 1
    return stored
