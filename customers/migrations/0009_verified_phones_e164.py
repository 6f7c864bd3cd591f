"""Verified phone numbers in E.164, as `customers.services.normalise_phone` now stores them.

Before, a number typed without its country code ("07700 900123") was kept as its digits and never
matched a WhatsApp sender ("447700900123"). Each is read here with the store's country (from
STORE_LOCALE, as `checkout.selectors.default_country`). A number that cannot be read stays as it
was (it matches nothing until staff verify it again), and so does one whose E.164 form another
customer already holds (the earlier verification keeps it). The rule is copied here, not imported,
so this migration does tomorrow what it does today.
"""
from django.conf import settings
from django.db import migrations


def _e164(raw: str, country: str) -> str:
    import phonenumbers

    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        return ""
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def verified_phones_to_e164(apps, schema_editor):
    Customer = apps.get_model("customers", "Customer")
    country = settings.STORE_LOCALE.partition("_")[2].upper() or "US"
    rows = list(Customer.objects.exclude(verified_phone="").order_by("phone_verified_at", "pk")
                .values_list("pk", "verified_phone"))
    targets = {pk: _e164(value, country) for pk, value in rows}
    taken = {value for pk, value in rows if targets[pk] == value}
    for pk, value in rows:
        target = targets[pk]
        if not target or target == value or target in taken:
            continue
        taken.add(target)
        Customer.objects.filter(pk=pk).update(verified_phone=target)


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0008_activity_phone_unverified"),
    ]

    operations = [
        migrations.RunPython(verified_phones_to_e164, migrations.RunPython.noop),
    ]
