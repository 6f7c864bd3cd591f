"""The account pages: profile, address book, email preferences. Signed in only; nobody reaches
another customer's address."""
from __future__ import annotations

import pytest

from customers.models import Activity, Address, ConsentRecord
from customers.tests.factories import AddressFactory, CustomerFactory

from .helpers import verified_account

pytestmark = pytest.mark.django_db

ADDRESS = {
    "name": "Ada Lovelace", "company": "", "line1": "1 Main St", "line2": "", "city": "Springfield",
    "region": "Illinois", "postal_code": "62701", "country": "US", "phone": "555-0100",
}


@pytest.fixture
def ada(client):
    user, customer = verified_account("ada@example.com")
    client.force_login(user)
    return customer


@pytest.mark.parametrize("url", ["/account/", "/account/profile/", "/account/addresses/", "/account/addresses/new/",
                                 "/account/preferences/", "/account/addresses/1/edit/"])
def test_every_page_asks_a_visitor_to_sign_in(client, url):
    response = client.get(url)

    assert response.status_code == 302 and response["Location"].startswith(f"/account/login/?next={url}")


def test_the_overview_names_the_customer_and_links_every_page(client, ada):
    ada.first_name = "Ada"
    ada.save()

    page = client.get("/account/").content.decode()

    assert "Hello, Ada" in page and "ada@example.com" in page
    for href in ("/orders/", "/account/profile/", "/account/addresses/", "/account/preferences/",
                 "/account/email/", "/account/password/change/", "/account/logout/"):
        assert f'href="{href}"' in page


def test_the_profile_writes_the_customer_and_the_accounts_names(client, ada):
    response = client.post("/account/profile/", {"first_name": " Ada ", "last_name": "Byron", "phone": "555-0199",
                                                 "language": "en"})

    assert response["Location"] == "/account/profile/"
    ada.refresh_from_db()
    ada.user.refresh_from_db()
    assert (ada.first_name, ada.last_name, ada.phone, ada.language) == ("Ada", "Byron", "555-0199", "en")
    assert (ada.user.first_name, ada.user.last_name) == ("Ada", "Byron")


def test_the_profile_refuses_an_unknown_language(client, ada):
    ada.first_name = "Ada"
    ada.save()

    response = client.post("/account/profile/", {"first_name": "A", "last_name": "B", "phone": "", "language": "xx"})

    assert response.status_code == 200 and "Select a valid choice." in response.content.decode()
    ada.refresh_from_db()
    assert ada.first_name == "Ada"


def test_adding_an_address_uses_checkouts_country_rules(client, ada):
    response = client.post("/account/addresses/new/", {**ADDRESS, "postal_code": "ABC", "region": "Narnia"})

    body = response.content.decode()
    assert response.status_code == 200
    assert "Enter a ZIP code like 12345 or 12345-6789." in body
    assert "Enter a state or province of this country" in body
    assert not Address.objects.exists()

    response = client.post("/account/addresses/new/", ADDRESS)

    assert response["Location"] == "/account/addresses/"
    address = Address.objects.get(customer=ada)
    # Stored as checkout stores it: the state as its code; the first address is both defaults.
    assert (address.region, address.phone, address.is_default_shipping, address.is_default_billing) == (
        "IL", "555-0100", True, True)


def test_editing_and_choosing_defaults_keeps_one_of_each(client, ada):
    first = AddressFactory(customer=ada, is_default_shipping=True, is_default_billing=True)
    second = AddressFactory(customer=ada, line1="2 Side St")

    response = client.post(f"/account/addresses/{second.pk}/edit/", {**ADDRESS, "line1": "2 Side Street",
                                                                       "default_billing": "on"})
    assert response["Location"] == "/account/addresses/"
    client.post(f"/account/addresses/{second.pk}/default/shipping/")

    first.refresh_from_db()
    second.refresh_from_db()
    assert second.line1 == "2 Side Street"
    assert (second.is_default_shipping, second.is_default_billing) == (True, True)
    assert (first.is_default_shipping, first.is_default_billing) == (False, False)


def test_setting_a_default_needs_a_post_and_a_known_kind(client, ada):
    address = AddressFactory(customer=ada)

    assert client.get(f"/account/addresses/{address.pk}/default/shipping/").status_code == 405
    assert client.post(f"/account/addresses/{address.pk}/default/gift/").status_code == 404


def test_deleting_asks_first_then_removes(client, ada):
    address = AddressFactory(customer=ada)

    assert "Delete this address?" in client.get(f"/account/addresses/{address.pk}/delete/").content.decode()
    assert Address.objects.filter(pk=address.pk).exists()
    assert client.post(f"/account/addresses/{address.pk}/delete/")["Location"] == "/account/addresses/"
    assert not Address.objects.filter(pk=address.pk).exists()


@pytest.mark.parametrize("method, url", [
    ("get", "/account/addresses/{pk}/edit/"),
    ("post", "/account/addresses/{pk}/edit/"),
    ("get", "/account/addresses/{pk}/delete/"),
    ("post", "/account/addresses/{pk}/delete/"),
    ("post", "/account/addresses/{pk}/default/shipping/"),
    ("post", "/account/addresses/{pk}/default/billing/"),
])
def test_another_customers_address_answers_404_and_stays_as_it_was(client, ada, method, url):
    theirs = AddressFactory(customer=CustomerFactory(), line1="Their St")

    response = getattr(client, method)(url.format(pk=theirs.pk), ADDRESS if method == "post" else None)

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.line1 == "Their St" and not theirs.is_default_shipping and not theirs.is_default_billing


def test_the_address_book_lists_only_mine_in_a_fixed_number_of_queries(client, ada, django_assert_max_num_queries):
    AddressFactory(customer=CustomerFactory(), line1="Not Mine Rd")
    for n in range(8):
        AddressFactory(customer=ada, line1=f"{n} Mine Rd")

    with django_assert_max_num_queries(8):
        page = client.get("/account/addresses/").content.decode()

    assert page.count("Mine Rd") == 8 and "Not Mine Rd" not in page


def test_preferences_turn_marketing_on_and_off_through_the_consent_service(client, ada):
    client.post("/account/preferences/", {"accepts_marketing": "on", "wants_wishlist_alerts": "on"})
    ada.refresh_from_db()
    assert ada.accepts_marketing and ada.wants_wishlist_alerts

    client.post("/account/preferences/", {"wants_wishlist_alerts": ""})
    ada.refresh_from_db()

    assert not ada.accepts_marketing and ada.marketing_consent_at is None and not ada.wants_wishlist_alerts
    records = list(ada.consents.order_by("pk").values_list("granted", "source"))
    assert records == [(True, ConsentRecord.Source.ACCOUNT), (False, ConsentRecord.Source.ACCOUNT)]
    assert ada.activities.filter(kind=Activity.Kind.CONSENT).count() == 2
