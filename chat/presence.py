"""Who is online, in the shared cache with a time to live: agents (their inbox or a conversation
page is open) and shoppers (their chat stream is open). Heartbeats never touch the database.

The entries expire on their own: a closed tab or a killed process leaves nobody "online" for
longer than the TTL. Each open stream refreshes its entry every few seconds.

An agent may also say they are away (the inbox's Online/Away switch), for a while or until they
switch back: with the inbox open they then get no new conversations, and when every agent is
away the shopper is told when the first one is back. The away entry expires when the agent said
they would be back; "until I switch back" lasts `AWAY_MAX_SECONDS` (a day) at most, so a
forgotten switch does not hide an agent for good. The away state is kept in the database
(`AgentAway`), the truth, and in the cache, the fast path: each agent's entry says away (until
when) or not away, so a read is one `get_many`; an agent the cache does not know (it was cleared
or restarted) is read from the database once and cached again, "not away" for
`AWAY_CACHE_SECONDS` (how stale another process's cache of a switch may be when the cache is
per process; with the shared cache every switch writes it at once).
"""
from __future__ import annotations

import datetime
import time

from django.conf import settings
from django.core.cache import cache

AGENTS_KEY = "chat:agents-online"
AWAY_KEY = "chat:agent-away:{}"
AWAY_MAX_SECONDS = 24 * 3600
AWAY_CACHE_SECONDS = 600
NOT_AWAY = {"until": 0, "said": False}


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
    """Agents with the inbox open who have not said they are away."""
    now = time.time()
    beating = [uid for uid, at in (cache.get(AGENTS_KEY) or {}).items() if now - at < _ttl()]
    away = away_until_by_agent(beating)
    return [uid for uid in beating if uid not in away]


def set_away(user_id: int, *, minutes: int | None) -> float:
    """The agent is away for `minutes` (None: until they switch back, at most a day). Returns
    when the away ends (a timestamp). Recorded in the database, then the cache. The end is
    checked when read (the cache's expiry only tidies up), so every cache backend and clock
    agree on it."""
    from .models import AgentAway

    seconds = min(minutes * 60, AWAY_MAX_SECONDS) if minutes else AWAY_MAX_SECONDS
    until = time.time() + seconds
    # `said`: the agent gave a time, so shoppers may be told it; "until I switch back" means nothing to them.
    AgentAway.objects.update_or_create(
        user_id=user_id, defaults={"until": datetime.datetime.fromtimestamp(until, tz=datetime.UTC),
                                   "said": bool(minutes)})
    cache.set(AWAY_KEY.format(user_id), {"until": until, "said": bool(minutes)}, seconds + 60)
    return until


def set_online(user_id: int) -> None:
    from .models import AgentAway

    AgentAway.objects.filter(user_id=user_id).delete()
    cache.set(AWAY_KEY.format(user_id), NOT_AWAY, AWAY_CACHE_SECONDS)
    agent_seen(user_id)


def _from_database(user_ids: list[int]) -> dict[int, dict]:
    """The away state of agents the cache does not know, from the database (one query), cached again."""
    from django.utils import timezone

    from .models import AgentAway

    rows = {row.user_id: row for row in AgentAway.objects.filter(user_id__in=user_ids, until__gt=timezone.now())}
    found = {}
    for uid in user_ids:
        row = rows.get(uid)
        if row is None:
            entry, ttl = NOT_AWAY, AWAY_CACHE_SECONDS
        else:
            entry = {"until": row.until.timestamp(), "said": row.said}
            ttl = max(1, int(entry["until"] - time.time())) + 60
        cache.set(AWAY_KEY.format(uid), entry, ttl)
        found[uid] = entry
    return found


def _away_entries(user_ids) -> dict[int, dict]:
    keys = {AWAY_KEY.format(uid): uid for uid in user_ids}
    entries = {keys[key]: entry for key, entry in cache.get_many(list(keys)).items() if isinstance(entry, dict)}
    missing = [uid for uid in keys.values() if uid not in entries]
    if missing:
        entries.update(_from_database(missing))
    now = time.time()
    return {uid: entry for uid, entry in entries.items() if entry.get("until", 0) > now}


def is_away(user_id: int) -> bool:
    return user_id in _away_entries([user_id])


def away_until_by_agent(user_ids) -> dict[int, float]:
    """The agents among `user_ids` who are away: when each is back (0: not said). One cache read."""
    return {uid: entry["until"] if entry.get("said") else 0 for uid, entry in _away_entries(user_ids).items()}


def first_back(user_ids) -> datetime.datetime | None:
    """When the first of these away agents said they would be back (None: nobody said a time)."""
    times = [until for until in away_until_by_agent(user_ids).values() if until]
    if not times:
        return None
    return datetime.datetime.fromtimestamp(min(times), tz=datetime.UTC)


def shopper_seen(conversation_id: int) -> None:
    cache.set(f"chat:shopper-online:{conversation_id}", 1, _ttl())


def shopper_online(conversation_id: int) -> bool:
    return bool(cache.get(f"chat:shopper-online:{conversation_id}"))
