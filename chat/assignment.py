"""Round robin: a conversation handed to people goes to the online agent with the fewest open
conversations, under the per-agent limit (`ChatSettings`, else `CHAT_AGENT_LIMIT`), the one given a conversation longest ago first among
equals. With nobody free it waits unassigned, and `assign_queued` hands out the oldest waiting
ones as soon as a slot frees (a conversation resolved, an agent comes online) - the queue
Chatwoot forgot (chatwoot#10583)."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q

from . import config, presence
from .models import Conversation

LAST_GIVEN = "chat:last-assigned"


def agents_who_answer():
    """Active staff who may answer chat (directly or through a group such as Support)."""
    from django.contrib.auth.models import Permission

    User = get_user_model()
    permission = Permission.objects.filter(content_type__app_label="chat", codename="reply_conversation")
    return User.objects.filter(is_active=True, is_staff=True).filter(
        Q(is_superuser=True) | Q(user_permissions__in=permission) | Q(groups__permissions__in=permission)
    ).distinct()


def _pick(online: list[int]) -> int | None:
    from .services import open_counts_by_agent

    if not online:
        return None
    counts = open_counts_by_agent(online)
    limit = config.current().agent_limit
    free = [uid for uid in online if counts[uid] < limit]
    if not free:
        return None
    last = cache.get(LAST_GIVEN) or {}
    return min(free, key=lambda uid: (counts[uid], last.get(uid, 0), uid))


def _note_given(agent_id: int) -> None:
    import time

    last = cache.get(LAST_GIVEN) or {}
    last[agent_id] = time.time()
    cache.set(LAST_GIVEN, last, None)


def assign_next(*, conversation: Conversation):
    """Assign `conversation` (the caller holds its row lock) to the next free online agent;
    returns the agent or None when everyone is full or away."""
    online = list(agents_who_answer().filter(pk__in=presence.online_agent_ids()).values_list("pk", flat=True))
    agent_id = _pick(online)
    if agent_id is None:
        return None
    conversation.assignee_id = agent_id
    conversation.save(update_fields=["assignee", "updated_at"])
    _note_given(agent_id)
    from . import realtime

    event = {"type": "conversation", "id": conversation.pk}
    transaction.on_commit(lambda: realtime.publish(realtime.INBOX_CHANNEL, event))
    return conversation.assignee


def assign_queued() -> int:
    """Give waiting, unassigned conversations (handed to people, oldest wait first) to free
    online agents; returns how many were assigned. Safe to call any time (idempotent)."""
    given = 0
    while True:
        with transaction.atomic():
            waiting = (Conversation.objects.select_for_update(skip_locked=True)
                       .filter(assignee__isnull=True, bot_active=False, status=Conversation.Status.OPEN)
                       .order_by("waiting_since", "pk").first())
            if waiting is None or assign_next(conversation=waiting) is None:
                return given
            given += 1
