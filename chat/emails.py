"""Staff replies by email to shoppers who are not in the chat, with a signed link back.

Through the store's outbox (`notifications/`): the row is written in the reply's transaction,
the task after commit is the fast path, and the outbox's retry loop sends it later if the mail
server was down; `delivery.deliver` claims the row, so a reply is emailed once, and talks to the
mail server with no lock held.
"""
from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from notifications import delivery
from shop.site import absolute_url

from .identity import link_token
from .models import Message

CHAT_REPLY = "chat.reply"


def reply_key(message_id: int) -> str:
    return f"{CHAT_REPLY}:{message_id}"


def conversation_link(public_id: str) -> str:
    return absolute_url(reverse("chat:conversation", args=[link_token(public_id)]))


def enqueue_reply_email(*, message: Message) -> None:
    """Call inside the transaction that stored the agent's `message`: the outbox row is written
    with it, and the task that sends it is enqueued after commit."""
    from .tasks import email_reply_task

    message_id = message.pk
    delivery.register(key=reply_key(message_id), kind=CHAT_REPLY, params={"message_id": message_id})
    transaction.on_commit(lambda: email_reply_task.delay(message_id=message_id), robust=True)


def send_reply_email(*, message_id: int, due_by=None) -> bool:
    """Email the agent's message `message_id` to the conversation's address (once, see above).
    Plain text only: what staff typed is never HTML. True if this call sent it."""
    from notifications.services import message_id as email_message_id

    def build() -> EmailMultiAlternatives:
        message = (Message.objects.select_related("conversation", "author")
                   .filter(pk=message_id, is_note=False).first())
        if message is None or not message.conversation.email:
            raise delivery.NothingToSend("the message or its conversation's address is gone")
        context = {
            "store_name": settings.STORE_NAME, "body": message.body,
            "author": (message.author.first_name if message.author else "") or settings.STORE_NAME,
            "link": conversation_link(message.conversation.public_id),
        }
        from .messaging.email import reply_address

        # Answering the email continues the conversation (messaging/email.py), when set up.
        reply_to = reply_address(message.conversation_id)
        context["reply_by_email"] = bool(reply_to)
        return EmailMultiAlternatives(
            subject=render_to_string("chat/email_reply_subject.txt", context).strip(),
            body=render_to_string("chat/email_reply.txt", context), from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.conversation.email], headers={"Message-ID": email_message_id(reply_key(message_id))},
            reply_to=[reply_to] if reply_to else None,
        )

    def on_sent(_email) -> None:
        Message.objects.filter(pk=message_id).update(emailed_at=timezone.now())

    return delivery.deliver(key=reply_key(message_id), build=build, on_sent=on_sent, due_by=due_by)
