"""One-click unsubscribe: a signed link per customer, no sign-in, RFC 8058 one-click POST."""
import pytest
from django.test import Client

from customers.models import Activity, ConsentRecord, Customer
from customers.tests.factories import CustomerFactory
from customers.unsubscribe import customer_from_unsubscribe_token, unsubscribe_token, unsubscribe_url

from conftest import html_tags

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscriber(db):
    customer = CustomerFactory(accepts_marketing=True)
    ConsentRecord.objects.create(customer=customer, granted=True, source=ConsentRecord.Source.CHECKOUT)
    return customer


def _path(customer) -> str:
    return f"/account/unsubscribe/{unsubscribe_token(customer)}/"


def test_the_url_is_absolute_and_leads_back_to_the_customer(settings, subscriber):
    settings.SITE_URL = "https://shop.example.com/"

    url = unsubscribe_url(subscriber)

    assert url == f"https://shop.example.com{_path(subscriber)}"
    assert customer_from_unsubscribe_token(unsubscribe_token(subscriber)) == subscriber


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature changed
    lambda t: "9" + t,  # another id with this signature
    lambda t: t.split(":")[0],  # id alone
    lambda t: "x:" + t.split(":")[1],
])
def test_a_tampered_token_is_refused(subscriber, mangle):
    token = mangle(unsubscribe_token(subscriber))

    assert customer_from_unsubscribe_token(token) is None
    for response in (Client().get(f"/account/unsubscribe/{token}/"), Client().post(f"/account/unsubscribe/{token}/")):
        assert response.status_code == 404
        assert "This unsubscribe link is not recognised" in response.content.decode()
    assert Customer.objects.get(pk=subscriber.pk).accepts_marketing


def test_another_salt_does_not_open_it(subscriber):
    from django.core import signing

    assert customer_from_unsubscribe_token(signing.Signer(salt="orders.detail").sign(str(subscriber.pk))) is None


def test_get_shows_one_button_and_changes_nothing(subscriber):
    response = Client().get(_path(subscriber))

    assert response.status_code == 200
    [form] = html_tags(response.content, "form", method="post", action=_path(subscriber))
    assert form
    assert Customer.objects.get(pk=subscriber.pk).accepts_marketing
    assert ConsentRecord.objects.filter(customer=subscriber).count() == 1


def test_pressing_the_button_unsubscribes_without_signing_in(subscriber):
    browser = Client(enforce_csrf_checks=True)  # a mail client's one-click POST has no token

    response = browser.post(_path(subscriber), {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.accepts_marketing is False and subscriber.marketing_consent_at is None
    latest = ConsentRecord.objects.filter(customer=subscriber).first()
    assert (latest.granted, latest.source) == (False, ConsentRecord.Source.UNSUBSCRIBE_LINK)
    [activity] = Activity.objects.filter(customer=subscriber, kind=Activity.Kind.CONSENT)
    assert activity.data == {"purpose": "marketing_email", "granted": False, "source": "unsubscribe_link"}


def test_unsubscribing_twice_is_harmless(subscriber):
    Client().post(_path(subscriber))
    again = Client().post(_path(subscriber))

    assert again.status_code == 200
    assert ConsentRecord.objects.filter(customer=subscriber, granted=False).count() == 1
    assert Activity.objects.filter(customer=subscriber, kind=Activity.Kind.CONSENT).count() == 1
    assert not Customer.objects.get(pk=subscriber.pk).accepts_marketing


def test_one_customers_link_unsubscribes_only_them(subscriber):
    other = CustomerFactory(accepts_marketing=True)

    Client().post(_path(subscriber))

    assert Customer.objects.get(pk=other.pk).accepts_marketing
    assert not ConsentRecord.objects.filter(customer=other).exists()
