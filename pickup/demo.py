"""Demo shop details (`manage.py seed_demo`): every pick-up location gets hours and instructions."""
from __future__ import annotations

from datetime import time

from catalog.models import Location

from .models import OpeningHours, PickupShop

WEEKDAYS = [(day, time(10), time(19)) for day in range(5)]
SATURDAY = [(5, time(10), time(13)), (5, time(14), time(18))]


def seed_demo_pickup_shops() -> int:
    """Hours (Monday-Friday 10-19, Saturday with a lunch break, Sunday closed) for each pick-up
    location that has none yet; returns how many shops were set up. Idempotent."""
    made = 0
    for location in Location.objects.filter(pickup_allowed=True).exclude(pickup_shop__isnull=False):
        shop = PickupShop.objects.create(location=location, phone="+1 217 555 0100")
        OpeningHours.objects.bulk_create(OpeningHours(shop=shop, weekday=day, opens=opens, closes=closes)
                                         for day, opens, closes in WEEKDAYS + SATURDAY)
        made += 1
    if made:
        from catalog.cache import bump_catalog_version_on_commit

        bump_catalog_version_on_commit()  # bulk_create sends no signal
    return made
