"""Writes for chat: starting conversations, messages from each side, seen, hand-off, assignment,
resolving and rating. Views, the admin inbox and (later) webhooks all call these.

Every function runs in one transaction holding the conversation's row lock (so two messages in
one conversation update its times in order), and publishes its live events after commit
(`realtime.publish`): a rolled-back message is never shown.
"""
from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Activity, Customer

from . import presence, realtime
from .exceptions import MessageRejected, NotAllowed, RateLimited
from .models import MESSAGE_MAX_LENGTH, Channel, Conversation, Message, Tag
from .selectors import message_data

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_body(body: str) -> str:
    """Plain text as the shopper meant it: control characters out, ends trimmed, length checked.
    HTML is not removed but never interpreted: every page and email shows it as text."""
    text = CONTROL.sub("", body or "").strip()
    if not text:
        raise MessageRejected(_("Write a message first."))
    if len(text) > MESSAGE_MAX_LENGTH:
        raise MessageRejected(_("Messages can be at most %(limit)d characters.") % {"limit": MESSAGE_MAX_LENGTH})
    return text


def check_rate(*, who: str) -> None:
    """Count one message from `who` (a visitor key or "user:<id>"); raise RateLimited past the
    per-minute or per-hour limit. Counted in the shared cache, fixed windows."""
    now = int(timezone.now().timestamp())
    for window, limit in ((60, settings.CHAT_RATE_PER_MINUTE), (3600, settings.CHAT_RATE_PER_HOUR)):
        key = f"chat:rate:{window}:{now // window}:{who}"
        cache.add(key, 0, window + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, window + 5)
            count = 1
        if count > limit:
            raise RateLimited(_("You are sending messages too fast. Please wait a minute and try again."))


def _customer_of(user) -> Customer | None:
    if user is None or not user.is_authenticated:
        return None
    from customers.services import customer_for_user

    return customer_for_user(user=user)


def start_conversation(
    *, visitor_key: str, user=None, channel: str = Channel.WEB, page_url: str = "",
    email: str = "", name: str = "", subject: str = "",
) -> Conversation:
    """A new open conversation for this visitor (and their customer when signed in), the
    assistant answering first. Recorded on the customer's CRM timeline when there is one."""
    customer = _customer_of(user)
    if customer is None and email:
        customer = Customer.objects.filter(email=email.lower()).first()
    with transaction.atomic():
        conversation = Conversation.objects.create(
            visitor_key=visitor_key, customer=customer, channel=channel, page_url=page_url[:300],
            email=(email or (customer.email if customer and user is not None else "")).lower(),
            name=name[:100], subject=subject[:200],
        )
        if customer is not None:
            record_on_timeline(conversation, customer)
    return conversation


def record_on_timeline(conversation: Conversation, customer: Customer) -> None:
    """A "conversation started" row on the customer's CRM timeline."""
    Activity.objects.create(
        customer=customer, kind=Activity.Kind.CHAT,
        message=_("Conversation started (%(channel)s)") % {"channel": conversation.get_channel_display()},
        data={"conversation": conversation.pk},
    )


def _locked(conversation: Conversation) -> Conversation:
    return Conversation.objects.select_for_update().get(pk=conversation.pk)


def _publish_message(message: Message, conversation: Conversation) -> None:
    data = message_data(message)
    transaction.on_commit(lambda: realtime.publish(realtime.conversation_channel(conversation.pk), data))
    inbox = {"type": "conversation", "id": conversation.pk}
    transaction.on_commit(lambda: realtime.publish(realtime.INBOX_CHANNEL, inbox))


def add_shopper_message(*, conversation: Conversation, body: str, rate_key: str, external_id: str = "",
                        payload: dict | None = None) -> Message:
    """The shopper wrote `body`. Checks length and the visitor's rate (raises MessageRejected,
    RateLimited; nothing is stored then). Reopens a resolved or waiting conversation; starts
    the waiting clock if nobody was waiting."""
    text = clean_body(body)
    if rate_key:  # messaging apps' webhooks pass none: the platform limits its senders
        check_rate(who=rate_key)
    with transaction.atomic():
        locked = _locked(conversation)
        message = Message.objects.create(
            conversation=locked, sender=Message.Sender.SHOPPER, body=text, channel=locked.channel,
            external_id=external_id, payload=payload or {},
        )
        now = message.created_at
        locked.last_message_at = now
        locked.waiting_since = locked.waiting_since or now
        reopened = locked.status == Conversation.Status.RESOLVED
        locked.status = Conversation.Status.OPEN
        fields = ["last_message_at", "waiting_since", "status", "updated_at"]
        if reopened:
            locked.resolved_at = None
            locked.rating = None
            locked.rating_comment = ""
            fields += ["resolved_at", "rating", "rating_comment"]
        locked.save(update_fields=fields)
        _publish_message(message, locked)
    conversation.refresh_from_db()
    return message


def add_bot_message(*, conversation: Conversation, body: str, payload: dict | None = None,
                    sender: str = Message.Sender.BOT) -> Message:
    """The assistant (or the system) answers; does not stop the shopper's waiting clock: a bot
    answer is not a person's."""
    with transaction.atomic():
        locked = _locked(conversation)
        message = Message.objects.create(
            conversation=locked, sender=sender, body=body[:MESSAGE_MAX_LENGTH], payload=payload or {},
            channel=locked.channel,
        )
        locked.last_message_at = message.created_at
        locked.save(update_fields=["last_message_at", "updated_at"])
        _publish_message(message, locked)
    return message


def add_agent_message(
    *, conversation: Conversation, author: AbstractBaseUser, body: str, is_note: bool = False,
    payload: dict | None = None,
) -> Message:
    """A staff member answers (or writes an internal note, which the shopper never sees).

    A reply stops the assistant, ends the wait, puts the conversation on the customer's turn and
    assigns it to its author if nobody had it. A shopper who is not connected and gave an email
    is emailed the reply through the outbox (`emails.enqueue_reply_email`, once per message).
    """
    text = clean_body(body)
    if not is_note and conversation.channel in (Channel.WHATSAPP, Channel.MESSENGER):
        from .messaging import outbound

        outbound.check_window(conversation)  # raises MessageRejected outside the 24 hours
    with transaction.atomic():
        locked = _locked(conversation)
        message = Message.objects.create(
            conversation=locked, sender=Message.Sender.AGENT, author=author, body=text, is_note=is_note,
            payload=payload or {}, channel=locked.channel,
        )
        fields = ["updated_at"]
        if not is_note:
            now = message.created_at
            locked.last_message_at = now
            locked.waiting_since = None
            locked.first_reply_at = locked.first_reply_at or now
            locked.status = Conversation.Status.WAITING
            locked.bot_active = False
            fields += ["last_message_at", "waiting_since", "first_reply_at", "status", "bot_active"]
            if locked.assignee_id is None:
                locked.assignee = author
                fields.append("assignee")
        locked.agent_last_seen_id = message.pk
        fields.append("agent_last_seen_id")
        locked.save(update_fields=fields)
        _publish_message(message, locked)
        if not is_note and locked.channel in (Channel.WHATSAPP, Channel.MESSENGER):
            from .messaging import outbound

            outbound.send_after_commit(message)
        elif not is_note and locked.email and not presence.shopper_online(locked.pk):
            from .emails import enqueue_reply_email

            enqueue_reply_email(message=message)
    conversation.refresh_from_db()
    return message


def mark_seen(*, conversation: Conversation, by: str, up_to_id: int) -> int:
    """The shopper (`by="shopper"`) or staff (`by="agent"`) have read up to message `up_to_id`:
    the other side's messages up to it get `seen_at`, and the other side is told live. Returns
    how many messages were newly seen. No lock: the last-seen id only moves forward."""
    others = [Message.Sender.AGENT, Message.Sender.BOT] if by == "shopper" else [Message.Sender.SHOPPER]
    field = "shopper_last_seen_id" if by == "shopper" else "agent_last_seen_id"
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk, **{f"{field}__lt": up_to_id}).update(**{field: up_to_id})
        seen = Message.objects.filter(
            conversation=conversation, pk__lte=up_to_id, sender__in=others, seen_at__isnull=True, is_note=False,
        ).update(seen_at=timezone.now())
        if seen:
            event = {"type": "seen", "by": by, "up_to": up_to_id}
            transaction.on_commit(lambda: realtime.publish(realtime.conversation_channel(conversation.pk), event))
    return seen


def typing(*, conversation: Conversation, by: str) -> None:
    """A live hint only: nothing is stored."""
    realtime.publish(realtime.conversation_channel(conversation.pk), {"type": "typing", "by": by})


def hand_off(*, conversation: Conversation, reason: str) -> Conversation:
    """The shopper wants a person: the assistant stops, and the round robin assigns an online
    agent under their limit (or it waits, unassigned, for the next free one). Says so in the
    chat, with when people answer if nobody is in."""
    from . import assignment, hours

    with transaction.atomic():
        locked = _locked(conversation)
        locked.bot_active = False
        locked.status = Conversation.Status.OPEN
        locked.waiting_since = locked.waiting_since or timezone.now()
        locked.save(update_fields=["bot_active", "status", "waiting_since", "updated_at"])
        Message.objects.create(conversation=locked, sender=Message.Sender.SYSTEM, is_note=True,
                               body=_("Handed to a person: %(reason)s") % {"reason": reason})
        agent = assignment.assign_next(conversation=locked) if locked.assignee_id is None else locked.assignee
    conversation.refresh_from_db()
    if agent is not None:
        body = _("%(name)s from our team will answer you here in a moment.") % {"name": _agent_name(agent)}
        add_bot_message(conversation=conversation, body=body, sender=Message.Sender.SYSTEM)
    elif hours.is_open() and presence.online_agent_ids():
        add_bot_message(conversation=conversation, sender=Message.Sender.SYSTEM,
                        body=_("Everyone is busy right now; you are next in line and a person will answer here."))
    else:
        opening = next_person_at()
        when = (_("from %(when)s") % {"when": opening.strftime("%A %H:%M")}) if opening else _("soon")
        ask = "" if conversation.email else " " + _("Leave your email address here and we will send the answer there too.")
        add_bot_message(
            conversation=conversation, sender=Message.Sender.SYSTEM,
            body=_("Nobody from our team is available right now; a person will answer %(when)s.") % {"when": when} + ask,
            payload={"ask_email": not conversation.email},
        )
    return conversation


def next_person_at():
    """When a person will next answer, in local time (None: not known). Within opening hours with
    every agent away, the time the first of them said they would be back (if that is still within
    opening hours); otherwise the next opening."""
    from . import assignment, hours

    if hours.is_open():
        back = presence.first_back(assignment.agents_who_answer().values_list("pk", flat=True))
        if back is not None and hours.is_open(back):
            return timezone.localtime(back)
    return hours.next_opening()


def _agent_name(user) -> str:
    return (getattr(user, "first_name", "") or _("Someone")).strip()


def set_email(*, conversation: Conversation, email: str) -> None:
    """Where replies go when the shopper is not in the chat."""
    Conversation.objects.filter(pk=conversation.pk).update(email=email.lower(), updated_at=timezone.now())
    conversation.email = email.lower()


def assign(*, conversation: Conversation, agent: AbstractBaseUser | None, by: AbstractBaseUser | None) -> None:
    """Give the conversation to `agent` (None: back to the queue). Recorded as a note."""
    with transaction.atomic():
        locked = _locked(conversation)
        if locked.assignee_id == (agent.pk if agent else None):
            return
        locked.assignee = agent
        locked.save(update_fields=["assignee", "updated_at"])
        who = agent.get_username() if agent else _("nobody")
        Message.objects.create(conversation=locked, sender=Message.Sender.SYSTEM, is_note=True, author=by,
                               body=_("Assigned to %(who)s") % {"who": who})
        event = {"type": "conversation", "id": locked.pk}
        transaction.on_commit(lambda: realtime.publish(realtime.INBOX_CHANNEL, event))
    conversation.refresh_from_db()


def resolve(*, conversation: Conversation, by: AbstractBaseUser | None) -> None:
    """Done: the shopper is asked for a rating; the agent's slot frees for the queue."""
    from . import assignment

    with transaction.atomic():
        locked = _locked(conversation)
        if locked.status == Conversation.Status.RESOLVED:
            return
        locked.status = Conversation.Status.RESOLVED
        locked.resolved_at = timezone.now()
        locked.waiting_since = None
        locked.save(update_fields=["status", "resolved_at", "waiting_since", "updated_at"])
        message = Message.objects.create(
            conversation=locked, sender=Message.Sender.SYSTEM, author=by,
            body=_("This conversation is resolved. How did we do?"), payload={"ask_rating": True},
        )
        _publish_message(message, locked)
        if locked.customer_id:
            Activity.objects.create(customer_id=locked.customer_id, kind=Activity.Kind.CHAT,
                                    message=_("Conversation resolved"), data={"conversation": locked.pk})
        freed = locked.assignee
    conversation.refresh_from_db()
    if freed is not None:
        transaction.on_commit(assignment.assign_queued)


def rate(*, conversation: Conversation, rating: int, comment: str = "") -> None:
    """The shopper's 1-5 and comment for a resolved conversation (again: replaces)."""
    if conversation.status != Conversation.Status.RESOLVED:
        raise NotAllowed(_("You can rate the conversation once it is resolved."))
    if not 1 <= int(rating) <= 5:
        raise MessageRejected(_("Choose from 1 to 5 stars."))
    comment = CONTROL.sub("", comment or "").strip()[:500]
    Conversation.objects.filter(pk=conversation.pk).update(rating=int(rating), rating_comment=comment,
                                                           updated_at=timezone.now())
    conversation.refresh_from_db()


def set_tags(*, conversation: Conversation, names: list[str]) -> None:
    cleaned = sorted({CONTROL.sub("", n).strip().lower()[:40] for n in names if n.strip()})
    tags = [Tag.objects.get_or_create(name=name)[0] for name in cleaned]
    conversation.tags.set(tags)


def attach_visitor_conversations(*, visitor_key: str, user) -> int:
    """On sign-in: this browser's guest conversations become the customer's, and appear on their
    CRM timeline. Conversations already someone's stay theirs."""
    if not visitor_key:
        return 0
    customer = _customer_of(user)
    with transaction.atomic():
        guests = list(Conversation.objects.filter(visitor_key=visitor_key, customer__isnull=True))
        for conversation in guests:
            conversation.customer = customer
            conversation.email = conversation.email or customer.email
            conversation.save(update_fields=["customer", "email", "updated_at"])
            record_on_timeline(conversation, customer)
    return len(guests)


def open_counts_by_agent(agent_ids: list[int]) -> dict[int, int]:
    rows = (Conversation.objects.filter(assignee_id__in=agent_ids).exclude(status=Conversation.Status.RESOLVED)
            .values("assignee_id").annotate(n=Count("pk")))
    counts = {uid: 0 for uid in agent_ids}
    counts.update({row["assignee_id"]: row["n"] for row in rows})
    return counts



def erase_for_customer(*, customer: Customer) -> int:
    """Erasure: the customer's conversations and every message in them are deleted (what they
    wrote and what was written to them is about them). Call inside the erasure's transaction."""
    from .attachments import delete_files_after_commit
    from .models import Attachment

    files = list(Attachment.objects.filter(conversation__customer=customer).values_list("file", flat=True))
    deleted, _per_model = Conversation.objects.filter(customer=customer).delete()
    delete_files_after_commit(files)  # the rows are gone with the conversations; the files after commit
    return deleted
