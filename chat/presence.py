"""Who is online, in the shared cache with a time to live: agents (their inbox or a conversation
page is open) and shoppers (their chat stream is open). Nothing here touches the database.

The entries expire on their own: a closed tab or a killed process leaves nobody "online" for
longer than the TTL. Each open stream refreshes its entry every few seconds.
"""
from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

AGENTS_KEY = "chat:agents-online"


def _ttl() -> int:
    return settings.CHAT_STREAM_SECONDS + 15


def agent_seen(user_id: int) -> None:
    """The agent has the inbox open now. One cache entry holds every agent's last beat."""
    beats = cache.get(AGENTS_KEY) or {}
    now = time.time()
    beats = {uid: at for uid, at in beats.items() if now - at < _ttl()}
    beats[user_id] = now
    cache.set(AGENTS_KEY, beats, _ttl())


def agent_away(user_id: int) -> None:
    beats = cache.get(AGENTS_KEY) or {}
    beats.pop(user_id, None)
    cache.set(AGENTS_KEY, beats, _ttl())


def online_agent_ids() -> list[int]:
    now = time.time()
    return [uid for uid, at in (cache.get(AGENTS_KEY) or {}).items() if now - at < _ttl()]


def shopper_seen(conversation_id: int) -> None:
    cache.set(f"chat:shopper-online:{conversation_id}", 1, _ttl())


def shopper_online(conversation_id: int) -> bool:
    return bool(cache.get(f"chat:shopper-online:{conversation_id}"))
