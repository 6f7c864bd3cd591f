"""Reads for click and collect: the shop directory every storefront page shares, and the pick-ups due."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet
from django.utils.translation import get_language, gettext as _

from catalog import precompiled
from catalog.cache import versioned_key
from catalog.models import Location

from .models import Pickup, Weekday

DIRECTORY_SECONDS = 24 * 3600  # the version in the key changes with every edit; this only bounds memory


@dataclass(frozen=True)
class Period:
    weekday: int
    opens: time
    closes: time


@dataclass
class ShopInfo:
    """A pick-up location as a shopper sees it: plain values only (it lives in the shared cache)."""

    location_id: int
    name: str
    address_lines: list[str]
    instructions: str
    phone: str
    hours: list[Period] = field(default_factory=list)

    @property
    def hours_by_day(self) -> tuple[tuple[str, str], ...]:
        """[("Monday", "09:00–18:00"), ("Sunday", "Closed")], every day of the week in order."""
        return _hours_by_day(tuple(self.hours), get_language())


@lru_cache(maxsize=256)
def _hours_by_day(hours: tuple[Period, ...], _language: str | None) -> tuple[tuple[str, str], ...]:
    """Written once per process, set of hours and language (the day names and "Closed" are
    translated): every product page with a pick-up shop shows them, ~0.2 ms a shop."""
    by_day: dict[int, list[str]] = {number: [] for number in Weekday.values}
    for period in hours:
        by_day[period.weekday].append(f"{period.opens:%H:%M}–{period.closes:%H:%M}")
    return tuple((str(label), ", ".join(by_day[number]) or str(_("Closed"))) for number, label in Weekday.choices)


def _directory_rows():
    return (
        Location.objects.filter(is_active=True, pickup_allowed=True)
        .order_by("position", "name", "pk", "pickup_shop__hours__weekday", "pickup_shop__hours__opens")
        .values_list("pk", "name", "address_line1", "address_line2", "postal_code", "city", "country",
                     "pickup_shop__instructions", "pickup_shop__phone", "pickup_shop__hours__weekday",
                     "pickup_shop__hours__opens", "pickup_shop__hours__closes")
    )


def shop_directory() -> dict[int, ShopInfo]:
    """Every active location customers may pick up from, by location id, with address and hours.

    One query on a miss (the locations LEFT JOINed to their shop details and hours; compiled once
    per process, `catalog.precompiled`: a cold product page read it through the ORM each time),
    then read from the shared cache under the catalog's structure version: a location, hours or
    instructions edited bumps it (catalog/signals.py, pickup/signals.py). Nothing personal: safe
    for pages rendered for everyone.
    """
    key = versioned_key("pickup-shop-directory")
    directory = cache.get(key)
    if directory is not None:
        return directory
    directory = {}
    rows = precompiled.rows("pickup:directory", _directory_rows, model=Location)
    for pk, name, line1, line2, postal_code, city, country, instructions, phone, weekday, opens, closes in rows:
        info = directory.get(pk)
        if info is None:
            locality = " ".join(filter(None, [postal_code, city]))
            info = directory[pk] = ShopInfo(
                location_id=pk, name=name,
                address_lines=[part for part in (line1, line2, locality, country) if part],
                instructions=instructions or "", phone=phone or "",
            )
        if weekday is not None:
            info.hours.append(Period(weekday=weekday, opens=opens, closes=closes))
    cache.set(key, directory, DIRECTORY_SECONDS)
    return directory


def shop_info(location_id: int | None) -> ShopInfo | None:
    if location_id is None:
        return None
    return shop_directory().get(location_id)


def due_for_reminder(*, now: datetime) -> QuerySet[Pickup]:
    cutoff = now - timedelta(days=settings.PICKUP_REMINDER_DAYS)
    return Pickup.objects.filter(status=Pickup.Status.READY, reminded_at__isnull=True, ready_at__lte=cutoff)


def due_for_cancellation(*, now: datetime) -> QuerySet[Pickup]:
    cutoff = now - timedelta(days=settings.PICKUP_CANCEL_AFTER_DAYS)
    return Pickup.objects.filter(status=Pickup.Status.READY, ready_at__lte=cutoff)
