"""Opening hours for people (`CHAT_OPENING_HOURS`, e.g. "mon-fri 09:00-17:00") in the store's time
zone: whether someone should answer now, and when they will next."""
from __future__ import annotations

import datetime
import re

from django.conf import settings
from django.utils import timezone

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
SPEC = re.compile(r"^\s*(mon|tue|wed|thu|fri|sat|sun)(?:-(mon|tue|wed|thu|fri|sat|sun))?\s+(\d\d):(\d\d)-(\d\d):(\d\d)\s*$")


def _parse(spec: str) -> tuple[set[int], datetime.time, datetime.time] | None:
    found = SPEC.match(spec.lower())
    if not found:
        return None
    first, last = DAYS.index(found[1]), DAYS.index(found[2] or found[1])
    days = {d % 7 for d in range(first, last + 1 if last >= first else last + 8)}
    return days, datetime.time(int(found[3]), int(found[4])), datetime.time(int(found[5]), int(found[6]))


def is_open(now: datetime.datetime | None = None) -> bool:
    hours = _parse(settings.CHAT_OPENING_HOURS) if settings.CHAT_OPENING_HOURS else None
    if hours is None:
        return True
    days, start, end = hours
    local = timezone.localtime(now or timezone.now())
    return local.weekday() in days and start <= local.time() < end


def next_opening(now: datetime.datetime | None = None) -> datetime.datetime | None:
    """When people are next in, in local time (None when always open)."""
    hours = _parse(settings.CHAT_OPENING_HOURS) if settings.CHAT_OPENING_HOURS else None
    if hours is None:
        return None
    days, start, _end = hours
    local = timezone.localtime(now or timezone.now())
    for ahead in range(8):
        day = local.date() + datetime.timedelta(days=ahead)
        opening = timezone.make_aware(datetime.datetime.combine(day, start), local.tzinfo)
        if day.weekday() in days and opening > local:
            return opening
    return None
