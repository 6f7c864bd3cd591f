"""set_marketing_consent: every change recorded with its time and source; no-ops record nothing."""
from __future__ import annotations

import pytest

from customers.models import Activity, ConsentRecord
from customers.services.consent import set_marketing_consent
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_a_grant_sets_the_state_and_records_it_with_its_source():
    customer = CustomerFactory()

    record = set_marketing_consent(customer=customer, granted=True, source=ConsentRecord.Source.CHECKOUT)

    customer.refresh_from_db()
    assert customer.accepts_marketing and customer.marketing_consent_at is not None
    assert (record.granted, record.source, record.purpose) == (True, "checkout", "marketing_email")
    activity = customer.activities.get(kind=Activity.Kind.CONSENT)
    assert activity.data == {"purpose": "marketing_email", "granted": True, "source": "checkout"}


def test_a_withdrawal_clears_the_time_and_keeps_the_history():
    customer = CustomerFactory()
    set_marketing_consent(customer=customer, granted=True, source=ConsentRecord.Source.SIGNUP)

    set_marketing_consent(customer=customer, granted=False, source=ConsentRecord.Source.UNSUBSCRIBE_LINK)

    customer.refresh_from_db()
    assert not customer.accepts_marketing and customer.marketing_consent_at is None
    assert list(customer.consents.order_by("pk").values_list("granted", "source")) == [
        (True, "signup"), (False, "unsubscribe_link")]


def test_asking_for_the_current_state_changes_nothing():
    customer = CustomerFactory()

    assert set_marketing_consent(customer=customer, granted=False, source=ConsentRecord.Source.ACCOUNT) is None
    assert not customer.consents.exists() and not customer.activities.exists()


def test_an_unknown_source_is_refused_and_writes_nothing():
    customer = CustomerFactory()

    with pytest.raises(ValueError, match="Unknown consent source"):
        set_marketing_consent(customer=customer, granted=True, source="carrier_pigeon")

    customer.refresh_from_db()
    assert not customer.accepts_marketing and not customer.consents.exists()
