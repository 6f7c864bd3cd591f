"""Staff replies out to WhatsApp and Messenger.

The 24-hour window: a business may write free text to a customer for 24 hours after the
customer's last message (the platform's timestamp, `Conversation.last_inbound_at`); after that
WhatsApp accepts only an approved template (`WHATSAPP_TEMPLATE_NAME`, with its body parameters
`WHATSAPP_TEMPLATE_PARAMETERS`) and Messenger a reply tagged HUMAN_AGENT for up to 7 days
(`MESSENGER_HUMAN_AGENT`), then nothing. A reply that cannot be delivered is refused here, with
a clear message, before anything is stored; which form a Messenger reply takes is decided when
it is sent (a reply queued at 23:59 and sent at 24:01 goes tagged).

Sending happens after commit, in `tasks.send_platform_message_task` (eager unless a broker is
set), with a bounded timeout; timeouts, 429 and 5xx are retried, other refusals recorded on the
message (`payload["delivery_error"]`) and as a note staff see. A sent message keeps the
platform's id in `external_id`, so a retried task never sends it twice once it got an answer.
A message with files sends them through `media.send_files` (uploaded and sent step by step,
each step's id kept, so a retry resends nothing that went).
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
from ..models import Attachment, Channel, Conversation, Message
from . import messenger, whatsapp
from .common import PlatformError, TransientError, graph_refusal

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
HUMAN_AGENT = "HUMAN_AGENT"
PLATFORMS = {Channel.WHATSAPP: whatsapp, Channel.MESSENGER: messenger}


def window_open(conversation: Conversation, *, now=None) -> bool:
    if conversation.last_inbound_at is None:
        return False
    return (now or timezone.now()) - conversation.last_inbound_at < WINDOW


def window_closes_at(conversation: Conversation):
    return conversation.last_inbound_at + WINDOW if conversation.last_inbound_at else None


def human_agent_allowed(conversation: Conversation, *, now=None) -> bool:
    """Messenger, outside the 24 hours: the HUMAN_AGENT tag carries a person's reply for 7 days."""
    if conversation.channel != Channel.MESSENGER or not settings.MESSENGER_HUMAN_AGENT:
        return False
    if conversation.last_inbound_at is None:
        return False
    return (now or timezone.now()) - conversation.last_inbound_at < HUMAN_AGENT_WINDOW


def human_agent_closes_at(conversation: Conversation):
    return conversation.last_inbound_at + HUMAN_AGENT_WINDOW if conversation.last_inbound_at else None


def message_tag(conversation: Conversation, *, now=None) -> str | None:
    """How a reply goes now: "" (a plain response), HUMAN_AGENT (Messenger, 24 hours to 7 days),
    or None (it cannot be delivered)."""
    if window_open(conversation, now=now):
        return ""
    if human_agent_allowed(conversation, now=now):
        return HUMAN_AGENT
    return None


def template_available(conversation: Conversation) -> bool:
    return conversation.channel == Channel.WHATSAPP and bool(settings.WHATSAPP_TEMPLATE_NAME)


def check_window(conversation: Conversation) -> None:
    if message_tag(conversation) is not None:
        return
    if conversation.channel == Channel.WHATSAPP:
        raise MessageRejected(_(
            "More than 24 hours have passed since the customer's last WhatsApp message: WhatsApp only "
            "accepts an approved template now. Send the template; free text is possible again once "
            "they answer."))
    if settings.MESSENGER_HUMAN_AGENT:
        raise MessageRejected(_(
            "More than 7 days have passed since the customer's last Messenger message: this reply can no "
            "longer be delivered (Messenger's HUMAN_AGENT tag allows 7 days). It is possible again once "
            "they write."))
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


def template_parameters(*, conversation: Conversation, author) -> list[str]:
    """`WHATSAPP_TEMPLATE_PARAMETERS` filled in for this conversation ({first_name}, {store_name},
    {agent_name}); WhatsApp refuses an empty parameter, so an unknown name becomes "there"."""
    first_name = (conversation.customer.first_name if conversation.customer_id else "") or \
        (conversation.name.split()[0] if conversation.name.strip() and not conversation.name.startswith("+") else "")
    values = {
        "first_name": first_name or _("there"),
        "store_name": settings.STORE_NAME,
        "agent_name": (getattr(author, "first_name", "") or settings.STORE_NAME) if author else settings.STORE_NAME,
    }
    filled = []
    for text in settings.WHATSAPP_TEMPLATE_PARAMETERS:
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        filled.append(text.strip() or "-")
    return filled


def send_template(*, conversation: Conversation, author) -> Message:
    """Outside the window on WhatsApp: the approved template with its parameters filled in, stored
    as a staff message (name, language and parameters on it, so a retry sends the same)."""
    from .. import services

    if not template_available(conversation):
        raise MessageRejected(_("No approved WhatsApp template is set (WHATSAPP_TEMPLATE_NAME)."))
    parameters = template_parameters(conversation=conversation, author=author)
    name = settings.WHATSAPP_TEMPLATE_NAME
    body = _("[Template “%(name)s” sent]") % {"name": name}
    if parameters:
        body = _("[Template “%(name)s” sent: %(parameters)s]") % {"name": name, "parameters": ", ".join(parameters)}
    with transaction.atomic():
        message = Message.objects.create(
            conversation=conversation, sender=Message.Sender.AGENT, author=author, channel=conversation.channel,
            body=body[:2000],
            payload={"template": name, "language": settings.WHATSAPP_TEMPLATE_LANGUAGE, "parameters": parameters},
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
    tag = ""
    if platform is messenger:
        tag = message_tag(conversation)
        if tag is None:  # queued in time, but the 7 days ran out before it could go
            record_failure(message_id=message.pk, error=_(
                "more than 7 days since the customer's last message: Messenger no longer accepts a reply"))
            return False
    # Only a message with files lists them in its payload (`attachments.add_with_attachment`): a
    # text reply costs no query for files it cannot have.
    files = (list(Attachment.objects.filter(message=message).order_by("pk"))
             if message.payload.get("attachments") else [])
    if files:
        from .media import send_files

        external_id = send_files(message=message, files=files, tag=tag, record_failure=record_failure)
        if not external_id:
            return False
    else:
        if message.payload.get("template"):
            body = whatsapp.template_body(
                to=conversation.external_sender, name=message.payload["template"],
                language=message.payload.get("language") or settings.WHATSAPP_TEMPLATE_LANGUAGE,
                parameters=message.payload.get("parameters") or [])
        elif platform is messenger:
            body = messenger.text_body(to=conversation.external_sender, text=text_with_links(message), tag=tag)
        else:
            body = platform.text_body(to=conversation.external_sender, text=text_with_links(message))
        status, data = _graph_call(requests.post, platform.endpoint(), json=body, headers=platform.headers())
        if status >= 400:
            record_failure(message_id=message.pk, error=graph_refusal(status, data))
            return False
        external_id = platform.sent_id(data) or f"sent:{message.pk}"
    updates = {"external_id": external_id}
    if tag:  # the inbox shows that it went tagged
        updates["payload"] = {**message.payload, "tag": tag}
    Message.objects.filter(pk=message.pk, external_id="").update(**updates)
    return True


def fetch_sender_name(*, conversation_id: int) -> str:
    """Messenger's webhook carries no name: read the sender's first and last name once from the
    User Profile API and record it on the conversation. Safe twice (a named conversation is left
    alone). A refusal (no permission, a user who blocked it) leaves the name empty; a timeout,
    429 or 5xx raises TransientError to be retried."""
    conversation = Conversation.objects.filter(pk=conversation_id, channel=Channel.MESSENGER).first()
    if conversation is None or conversation.name or not conversation.external_sender or not messenger.can_send():
        return conversation.name if conversation else ""
    status, data = _graph_call(requests.get, messenger.profile_url(conversation.external_sender),
                               params={"fields": messenger.PROFILE_FIELDS}, headers=messenger.headers())
    if status >= 400 or not isinstance(data, dict):
        log.warning("Messenger profile of conversation %s: HTTP %s", conversation_id, status)
        return ""
    name = _clean_name(messenger.profile_name(data))
    if name:
        Conversation.objects.filter(pk=conversation_id, name="").update(name=name, updated_at=timezone.now())
        event = {"type": "conversation", "id": conversation_id}
        transaction.on_commit(lambda: _publish_inbox(event))
    return name


def _clean_name(name: str) -> str:
    from ..services import CONTROL

    return CONTROL.sub("", name).strip()[:100]


def _publish_inbox(event: dict) -> None:
    from .. import realtime

    realtime.publish(realtime.INBOX_CHANNEL, event)


def _graph_call(method, url: str, **kwargs) -> tuple[int, object]:
    """One Graph API request (`requests.post` or `requests.get`, looked up when called so tests
    can replace them) with `MESSAGING_HTTP_TIMEOUT`: (status, JSON or {}). Raises TransientError
    for a timeout, a connection error, 429 and 5xx."""
    try:
        response = method(url, timeout=settings.MESSAGING_HTTP_TIMEOUT, **kwargs)
    except requests.RequestException as error:
        raise TransientError(str(error)) from error
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientError(f"HTTP {response.status_code}")
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, {}


def record_failure(*, message_id: int, error: str) -> None:
    """On the message and as a note in the conversation, so staff see their reply did not go.
    Each refusal is counted (`payload.failures`): the Resend button names the one it answers."""
    from .. import realtime
    from .media import publish_updated

    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        return
    message.payload = {**message.payload, "delivery_error": error[:300],
                       "failures": int(message.payload.get("failures") or 0) + 1}
    Message.objects.filter(pk=message_id).update(payload=message.payload)
    Message.objects.create(conversation_id=message.conversation_id, sender=Message.Sender.SYSTEM, is_note=True,
                           body=_("Not delivered: %(error)s") % {"error": error[:300]}, channel=message.channel)
    event = {"type": "conversation", "id": message.conversation_id}
    transaction.on_commit(lambda: realtime.publish(realtime.INBOX_CHANNEL, event))
    publish_updated(message)  # an open conversation page shows "Not delivered" and Resend


def can_resend(message: Message) -> bool:
    """A staff message with files that the platform refused (or that could not be queued)."""
    return (message.sender == Message.Sender.AGENT and not message.is_note and not message.external_id
            and message.channel in PLATFORMS and bool(message.payload.get("attachments"))
            and bool(message.payload.get("delivery_error")))


def resend(*, conversation: Conversation, message_id, failure, by) -> bool:
    """Send again a staff message whose files the platform refused: the inbox's Resend button on
    it. `failure` is the refusal the button was shown for (`payload.failures`; a message refused
    before they were counted has had one): when that refusal was already resent, or the message
    has gone since, nothing happens and False comes back, so a double click sends once. Checked
    against the reply window like a new reply (MessageRejected, nothing changed); ChatError for
    a message of another conversation or one that is not a refused file.

    One transaction under the message's row lock: the refusal is cleared, an internal note says
    who resent it, and the send is queued after commit (`send_after_commit`); what had already
    gone (`payload.sent_parts`: Messenger's text, an uploaded file's media id) is not sent again."""
    from .. import services
    from ..exceptions import ChatError
    from .media import publish_updated

    with transaction.atomic():
        message = (Message.objects.select_for_update().filter(pk=int(message_id), conversation=conversation).first()
                   if str(message_id).isdigit() else None)
        if message is None or not (can_resend(message) or message.payload.get("resent")):
            raise ChatError(_("Only a file the platform refused can be resent."))
        if not can_resend(message) or str(int(message.payload.get("failures") or 1)) != str(failure):
            return False
        check_window(conversation)
        payload = {key: value for key, value in message.payload.items() if key != "delivery_error"}
        message.payload = {**payload, "resent": int(payload.get("resent") or 0) + 1}
        Message.objects.filter(pk=message.pk).update(payload=message.payload)
        names = ", ".join(str(item.get("name", "")) for item in message.payload.get("attachments") or [])
        note = Message.objects.create(
            conversation=conversation, sender=Message.Sender.SYSTEM, is_note=True, channel=message.channel,
            body=(_("%(agent)s resent %(files)s.") % {"agent": by.get_username(), "files": names})[:2000])
        services._publish_message(note, conversation)
        publish_updated(message)
        send_after_commit(message)
    return True


__all__ = ["PlatformError", "TransientError", "check_window", "deliver", "send_after_commit", "window_open"]
