"""A starting shipping set-up, so a fresh store can take an order before staff configure anything.

One zone for the store's own country (from STORE_LOCALE, en_US -> US) with a flat "Standard"
rate, free from a threshold, and a flat "Express". Staff change or replace them in the admin.
Skipped when zones already exist; reversing it leaves staff's data alone.
"""
from decimal import Decimal

from django.conf import settings
from django.db import migrations


def create_defaults(apps, schema_editor):
    ShippingZone = apps.get_model("checkout", "ShippingZone")
    ShippingMethod = apps.get_model("checkout", "ShippingMethod")
    if ShippingZone.objects.exists():
        return
    country = (settings.STORE_LOCALE.partition("_")[2] or "US").upper()
    zone = ShippingZone.objects.create(name="Domestic", countries=country, position=0)
    ShippingMethod.objects.create(
        zone=zone, name="Domestic standard (3–5 days)", kind="flat", price=Decimal("5.00"),
        free_above=Decimal("75.00"), position=0,
    )
    ShippingMethod.objects.create(zone=zone, name="Express (1–2 days)", kind="flat", price=Decimal("15.00"), position=1)


class Migration(migrations.Migration):
    dependencies = [("checkout", "0001_initial")]
    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
