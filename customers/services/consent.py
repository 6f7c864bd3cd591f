"""Marketing consent: the one way it changes, whoever changes it (sign-up, account page,
checkout, unsubscribe link, staff, erasure)."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ..models import Activity, ConsentRecord, Customer
from . import record_activity


@transaction.atomic
def set_marketing_consent(*, customer: Customer, granted: bool, source: str) -> ConsentRecord | None:
    """Grant or withdraw `customer`'s consent to marketing email, from `source` (a
    ConsentRecord.Source value).

    A change writes a ConsentRecord (when, what, where from), an Activity for the CRM timeline,
    and `Customer.accepts_marketing` / `marketing_consent_at` (the time of the grant; cleared on
    withdrawal). Asking for the state the customer is already in changes nothing and returns None:
    a second unsubscribe click is not a second withdrawal.

    Locks the customer row, so two changes at once are recorded in the order they happen and the
    stored state always matches the newest record. `customer` is refreshed in place.
    Raises ValueError for an unknown source (nothing written).
    """
    if source not in ConsentRecord.Source.values:
        raise ValueError(f"Unknown consent source: {source!r}")
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    if locked.accepts_marketing == granted:
        customer.accepts_marketing, customer.marketing_consent_at = locked.accepts_marketing, locked.marketing_consent_at
        return None
    now = timezone.now()
    locked.accepts_marketing = granted
    locked.marketing_consent_at = now if granted else None
    locked.save(update_fields=["accepts_marketing", "marketing_consent_at", "updated_at"])
    customer.accepts_marketing, customer.marketing_consent_at = locked.accepts_marketing, locked.marketing_consent_at
    record = ConsentRecord.objects.create(
        customer=locked, purpose=ConsentRecord.Purpose.MARKETING_EMAIL, granted=granted, source=source,
    )
    label = ConsentRecord.Source(source).label
    record_activity(
        customer=locked, kind=Activity.Kind.CONSENT,
        message=(f"Marketing email consent given ({label})" if granted else f"Marketing email consent withdrawn ({label})"),
        purpose=ConsentRecord.Purpose.MARKETING_EMAIL, granted=granted, source=source,
    )
    return record
