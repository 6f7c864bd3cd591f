"""Opening hours for people in the store's time zone: whether someone should answer now, and when
they will next. The hours are Support managers' (`ChatSettings`, through `config.current()`), or
`CHAT_OPENING_HOURS` (e.g. "mon-fri 09:00-17:00") until they first save them."""
from __future__ import annotations

import datetime
import re

from django.utils import timezone

from . import config

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
SPEC = re.compile(r"^\s*(mon|tue|wed|thu|fri|sat|sun)(?:-(mon|tue|wed|thu|fri|sat|sun))?\s+(\d\d):(\d\d)-(\d\d):(\d\d)\s*$")


def parse(spec: str) -> tuple[set[int], datetime.time, datetime.time] | None:
    found = SPEC.match(spec.lower())
    if not found:
        return None
    first, last = DAYS.index(found[1]), DAYS.index(found[2] or found[1])
    days = {d % 7 for d in range(first, last + 1 if last >= first else last + 8)}
    return days, datetime.time(int(found[3]), int(found[4])), datetime.time(int(found[5]), int(found[6]))


def is_open(now: datetime.datetime | None = None) -> bool:
    hours = config.current().hours
    if hours is None:
        return True
    local = timezone.localtime(now or timezone.now())
    period = hours.get(local.weekday())
    return period is not None and period[0] <= local.time() < period[1]


def next_opening(now: datetime.datetime | None = None) -> datetime.datetime | None:
    """When people are next in, in local time (None when always open, or never)."""
    hours = config.current().hours
    if hours is None:
        return None
    local = timezone.localtime(now or timezone.now())
    for ahead in range(8):
        day = local.date() + datetime.timedelta(days=ahead)
        period = hours.get(day.weekday())
        if period is None:
            continue
        opening = timezone.make_aware(datetime.datetime.combine(day, period[0]), local.tzinfo)
        if opening > local:
            return opening
    return None
