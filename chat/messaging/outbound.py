"""Staff replies out to WhatsApp and Messenger.

The 24-hour window: a business may write free text to a customer for 24 hours after the
customer's last message (the platform's timestamp, `Conversation.last_inbound_at`); after that
WhatsApp accepts only an approved template (`WHATSAPP_TEMPLATE_NAME`) and Messenger nothing
(a reply is refused here, with a clear message, before anything is stored).

Sending happens after commit, in `tasks.send_platform_message_task` (eager unless a broker is
set), with a bounded timeout; timeouts, 429 and 5xx are retried, other refusals recorded on the
message (`payload["delivery_error"]`) and as a note staff see. A sent message keeps the
platform's id in `external_id`, so a retried task never sends it twice once it got an answer.
"""
from __future__ import annotations

import logging
from datetime import timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..exceptions import MessageRejected
from ..models import Channel, Conversation, Message
from . import messenger, whatsapp
from .common import PlatformError, TransientError

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
PLATFORMS = {Channel.WHATSAPP: whatsapp, Channel.MESSENGER: messenger}


def window_open(conversation: Conversation, *, now=None) -> bool:
    if conversation.last_inbound_at is None:
        return False
    return (now or timezone.now()) - conversation.last_inbound_at < WINDOW


def window_closes_at(conversation: Conversation):
    return conversation.last_inbound_at + WINDOW if conversation.last_inbound_at else None


def template_available(conversation: Conversation) -> bool:
    return conversation.channel == Channel.WHATSAPP and bool(settings.WHATSAPP_TEMPLATE_NAME)


def check_window(conversation: Conversation) -> None:
    if window_open(conversation):
        return
    if conversation.channel == Channel.WHATSAPP:
        raise MessageRejected(_(
            "More than 24 hours have passed since the customer's last WhatsApp message: WhatsApp only "
            "accepts an approved template now. Send the template; free text is possible again once "
            "they answer."))
    raise MessageRejected(_(
        "More than 24 hours have passed since the customer's last Messenger message: Messenger does "
        "not accept a reply now. It is possible again once they write."))


def send_after_commit(message: Message) -> None:
    from ..tasks import send_platform_message_task

    def enqueue() -> None:
        try:
            send_platform_message_task.delay(message.pk)
        except Exception:  # the broker is down: the reply is stored and shown; say it was not sent
            log.exception("Could not queue the platform message %s", message.pk)
            record_failure(message_id=message.pk, error=_("could not be queued"))

    transaction.on_commit(enqueue)


def send_template(*, conversation: Conversation, author) -> Message:
    """Outside the window on WhatsApp: the approved template, stored as a staff message."""
    from .. import services

    if not template_available(conversation):
        raise MessageRejected(_("No approved WhatsApp template is set (WHATSAPP_TEMPLATE_NAME)."))
    with transaction.atomic():
        message = Message.objects.create(
            conversation=conversation, sender=Message.Sender.AGENT, author=author, channel=conversation.channel,
            body=_("[Template “%(name)s” sent]") % {"name": settings.WHATSAPP_TEMPLATE_NAME},
            payload={"template": settings.WHATSAPP_TEMPLATE_NAME},
        )
        Conversation.objects.filter(pk=conversation.pk).update(
            last_message_at=message.created_at, status=Conversation.Status.WAITING, waiting_since=None,
            updated_at=timezone.now())
        services._publish_message(message, conversation)
        send_after_commit(message)
    return message


def text_with_links(message: Message) -> str:
    """The reply as the platform shows it: plain text, with the addresses of any product cards or
    order links staff attached (the inbox shows those as cards; the apps only show text)."""
    from shop.site import absolute_url

    urls = [item.get("url", "") for key in ("cards", "orders") for item in message.payload.get(key) or []]
    lines = [message.body] + [absolute_url(url) if url.startswith("/") else url for url in urls if url]
    return "\n".join(lines)


def deliver(*, message_id: int) -> bool:
    """Send one stored staff message; True once the platform took it. Raises TransientError to be
    retried; a refusal is recorded and returns False."""
    message = Message.objects.select_related("conversation").filter(pk=message_id).first()
    if message is None or message.external_id or message.sender != Message.Sender.AGENT or message.is_note:
        return bool(message and message.external_id)
    conversation = message.conversation
    platform = PLATFORMS.get(conversation.channel)
    if platform is None or not conversation.external_sender:
        return False
    if not platform.can_send():
        record_failure(message_id=message.pk, error=_("the platform's access token is not set"))
        return False
    if message.payload.get("template"):
        body = whatsapp.template_body(to=conversation.external_sender)
    else:
        body = platform.text_body(to=conversation.external_sender, text=text_with_links(message))
    try:
        response = requests.post(platform.endpoint(), json=body, headers=platform.headers(),
                                 timeout=settings.MESSAGING_HTTP_TIMEOUT)
    except requests.RequestException as error:
        raise TransientError(str(error)) from error
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientError(f"HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code >= 400:
        detail = (data.get("error") or {}).get("message", "") if isinstance(data, dict) else ""
        record_failure(message_id=message.pk, error=f"HTTP {response.status_code} {detail}".strip())
        return False
    external_id = platform.sent_id(data) or f"sent:{message.pk}"
    Message.objects.filter(pk=message.pk, external_id="").update(external_id=external_id)
    return True


def record_failure(*, message_id: int, error: str) -> None:
    """On the message and as a note in the conversation, so staff see their reply did not go."""
    from .. import realtime

    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        return
    Message.objects.filter(pk=message_id).update(payload={**message.payload, "delivery_error": error[:300]})
    Message.objects.create(conversation_id=message.conversation_id, sender=Message.Sender.SYSTEM, is_note=True,
                           body=_("Not delivered: %(error)s") % {"error": error[:300]}, channel=message.channel)
    event = {"type": "conversation", "id": message.conversation_id}
    transaction.on_commit(lambda: realtime.publish(realtime.INBOX_CHANNEL, event))


__all__ = ["PlatformError", "TransientError", "check_window", "deliver", "send_after_commit", "window_open"]
