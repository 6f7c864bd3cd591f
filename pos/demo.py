"""Demo registers: one till per active shop, so `make demo` leaves a sell screen to try at /pos/."""
from __future__ import annotations

from django.db import transaction

from catalog.models import Location
from saleschannels.services import ensure_counter_channels

from .models import Register


def seed_demo_registers() -> int:
    """A counter channel and a "Till 1" for every active shop without a register; returns how many
    registers were created. Idempotent."""
    with transaction.atomic():
        ensure_counter_channels()
        shops = Location.objects.filter(kind=Location.Kind.SHOP, is_active=True).exclude(
            pk__in=Register.objects.values("location_id")).order_by("pk")
        return len([Register.objects.create(name="Till 1", location=shop) for shop in shops])
