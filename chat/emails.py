"""Staff replies by email to shoppers who are not in the chat, with a signed link back."""
from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from shop.site import absolute_url

from .identity import link_token
from .models import Message


def conversation_link(public_id: str) -> str:
    return absolute_url(reverse("chat:conversation", args=[link_token(public_id)]))


def email_reply(*, message_id: int) -> bool:
    """Email the agent's message `message_id` to the conversation's address, once: the message
    row is claimed (`emailed_at`) in the same transaction that sends, so a retried task whose
    first run sent does not send again, and one that failed before sending rolls the claim back.
    Plain text only: what staff typed is never HTML."""
    with transaction.atomic():
        message = (Message.objects.select_for_update(of=("self",)).select_related("conversation", "author")
                   .filter(pk=message_id, emailed_at__isnull=True, is_note=False).first())
        if message is None or not message.conversation.email:
            return False
        conversation = message.conversation
        context = {
            "store_name": settings.STORE_NAME, "body": message.body,
            "author": (message.author.first_name if message.author else "") or settings.STORE_NAME,
            "link": conversation_link(conversation.public_id),
        }
        text = render_to_string("chat/email_reply.txt", context)
        subject = render_to_string("chat/email_reply_subject.txt", context).strip()
        EmailMessage(subject=subject, body=text, to=[conversation.email],
                     headers={"Message-ID": f"<chat-{message.pk}@{settings.STORE_NAME.replace(' ', '-').lower()}>"}).send()
        Message.objects.filter(pk=message.pk).update(emailed_at=timezone.now())
    return True
