"""Chat's settings as they apply now: the `ChatSettings` row Support managers edit in the back
office, or, until it is first saved, the environment (`CHAT_OPENING_HOURS`, `CHAT_AGENT_LIMIT`).

Read on every hand-off and assignment, so it comes from the cache (one `get`); saving or deleting
the row clears it (`signals.py`). When there is no row the cache remembers that, and the
environment is read each time (tests and `.env` changes apply at once).
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

CACHE_KEY = "chat:settings:v1"
NO_ROW = "env"


@dataclass(frozen=True)
class ChatConfig:
    # Weekday (Monday 0) -> (opens, closes) in the store's time zone; None: people answer any time.
    hours: dict[int, tuple[datetime.time, datetime.time]] | None
    agent_limit: int


def from_environment() -> ChatConfig:
    from .hours import parse

    parsed = parse(settings.CHAT_OPENING_HOURS) if settings.CHAT_OPENING_HOURS else None
    hours = None
    if parsed is not None:
        days, start, end = parsed
        hours = {day: (start, end) for day in sorted(days)}
    return ChatConfig(hours=hours, agent_limit=settings.CHAT_AGENT_LIMIT)


def environment_initial() -> dict:
    """The environment's values as the settings form's fields (its first version)."""
    from .models import WEEKDAYS

    env = from_environment()
    initial: dict = {"always_open": env.hours is None, "agent_limit": env.agent_limit}
    for n, day in enumerate(WEEKDAYS):
        opens, closes = (env.hours or {}).get(n, (None, None))
        initial[f"{day}_opens"], initial[f"{day}_closes"] = opens, closes
    return initial


def current() -> ChatConfig:
    from .models import ChatSettings

    saved = cache.get(CACHE_KEY)
    if saved is None:
        row = ChatSettings.objects.filter(pk=1).first()
        # The values, not the model instance: a cached row would outlive a new field.
        saved = NO_ROW if row is None else ChatConfig(
            hours=None if row.always_open else row.opening_hours(), agent_limit=row.agent_limit)
        cache.set(CACHE_KEY, saved, None)
    return from_environment() if saved == NO_ROW else saved


def forget() -> None:
    cache.delete(CACHE_KEY)
