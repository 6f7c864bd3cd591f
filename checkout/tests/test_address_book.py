"""Checkout and the signed-in shopper's address book: defaults pre-fill, a saved address can be
picked without JavaScript, and a typed one can be saved once the order is placed."""
from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress

from customers.models import Address
from customers.services.accounts import attach_customer
from customers.tests.factories import AddressFactory, CustomerFactory, UserFactory
from orders.models import Order

from .conftest import fill_cart
from .test_views import to_review

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopper(client):
    user = UserFactory(username="sam", email="sam@example.com")
    EmailAddress.objects.create(user=user, email="sam@example.com", verified=True, primary=True)
    customer = attach_customer(user=user, email="sam@example.com")
    client.force_login(user)
    return customer


def value_of(page: str, name: str) -> str:
    import re

    match = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]*)"', page) or re.search(
        rf'value="([^"]*)"[^>]*name="{re.escape(name)}"', page)
    return match[1] if match else ""


def test_the_default_shipping_and_billing_addresses_pre_fill_the_form(client, storefront_catalog, shipping, shopper):
    AddressFactory(customer=shopper, name="Sam Home", line1="1 Home Rd", is_default_shipping=True, phone="555-0101")
    AddressFactory(customer=shopper, name="Sam Office", line1="2 Office Park", is_default_billing=True)
    # An older order's address loses to the address book.
    Order.objects.create(email="sam@example.com", user=shopper.user, idempotency_key="k" * 24,
                         shipping_address={"name": "Old", "line1": "Old St", "country": "US"})
    fill_cart(client, ("LAMP-1", 1))

    page = client.get("/checkout/").content.decode()

    assert value_of(page, "shipping-line1") == "1 Home Rd"
    assert value_of(page, "billing-line1") == "2 Office Park"
    assert value_of(page, "phone") == "555-0101"
    assert 'id="id_billing_same" checked' not in page


def test_without_an_address_book_the_last_order_still_pre_fills(client, storefront_catalog, shipping, shopper):
    Order.objects.create(email="sam@example.com", user=shopper.user, idempotency_key="k" * 24,
                         shipping_address={"name": "Old", "line1": "Old St", "country": "US"})
    fill_cart(client, ("LAMP-1", 1))

    assert value_of(client.get("/checkout/").content.decode(), "shipping-line1") == "Old St"


def test_a_saved_address_is_picked_with_a_plain_link_and_only_my_own(client, storefront_catalog, shipping, shopper):
    AddressFactory(customer=shopper, line1="1 Home Rd", is_default_shipping=True)
    cabin = AddressFactory(customer=shopper, name="Sam Cabin", line1="7 Lake Rd", city="Tahoe", region="CA",
                           postal_code="96150")
    theirs = AddressFactory(customer=CustomerFactory(), line1="Their St")
    fill_cart(client, ("LAMP-1", 1))

    page = client.get("/checkout/").content.decode()
    assert f'href="?address={cabin.pk}"' in page and "7 Lake Rd" in page and "Their St" not in page

    picked = client.get("/checkout/", {"address": cabin.pk}).content.decode()
    assert value_of(picked, "shipping-line1") == "7 Lake Rd" and value_of(picked, "shipping-region") == "CA"

    billed = client.get("/checkout/", {"billing": cabin.pk}).content.decode()
    assert value_of(billed, "shipping-line1") == "1 Home Rd" and value_of(billed, "billing-line1") == "7 Lake Rd"

    for forged in (theirs.pk, "x", "", 10**9):
        page = client.get("/checkout/", {"address": forged, "billing": forged}).content.decode()
        assert value_of(page, "shipping-line1") == "1 Home Rd" and "Their St" not in page


def test_a_guest_sees_no_address_book_nor_save_box(client, storefront_catalog, shipping):
    fill_cart(client, ("LAMP-1", 1))
    theirs = AddressFactory(line1="Their St")

    page = client.get("/checkout/", {"address": theirs.pk}).content.decode()

    assert "Their St" not in page and 'name="save_address"' not in page


def test_ticking_save_keeps_the_address_once_the_order_is_placed(client, storefront_catalog, shipping, shopper):
    fill_cart(client, ("LAMP-1", 1))
    assert 'name="save_address"' in client.get("/checkout/").content.decode()

    key = to_review(client, shipping, save_address="1", **{"shipping-line1": "5 New Rd"})
    assert not Address.objects.exists(), "nothing is saved before the order exists"
    client.post("/checkout/place/", {"idempotency_key": key})

    saved = Address.objects.get(customer=shopper)
    assert saved.as_order_address() == Order.objects.get(user=shopper.user).shipping_address
    assert saved.is_default_shipping and saved.line1 == "5 New Rd"

    # The same address again is not saved twice.
    fill_cart(client, ("LAMP-1", 1))
    key = to_review(client, shipping, save_address="1", **{"shipping-line1": "5 New Rd"})
    client.post("/checkout/place/", {"idempotency_key": key})
    assert Address.objects.filter(customer=shopper).count() == 1


def test_without_the_tick_nothing_is_saved(client, storefront_catalog, shipping, shopper):
    fill_cart(client, ("LAMP-1", 1))
    key = to_review(client, shipping)
    client.post("/checkout/place/", {"idempotency_key": key})

    assert Order.objects.filter(user=shopper.user).exists() and not Address.objects.exists()


def test_the_details_page_costs_the_same_with_one_saved_address_or_ten(client, storefront_catalog, shipping, shopper):
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fill_cart(client, ("LAMP-1", 1))
    costs = []
    for count in (1, 10):
        Address.objects.all().delete()
        for n in range(count):
            AddressFactory(customer=shopper, line1=f"{n} Main St", is_default_shipping=(n == 0))
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/checkout/").status_code == 200
        costs.append(len(queries))

    assert costs[0] == costs[1] < 25, costs


def test_a_saved_address_goes_to_my_own_book_even_when_i_type_someone_elses_email(client, storefront_catalog,
                                                                                  shipping):
    # An account without a customer record yet (made before the CRM, or a staff account): placing
    # the order links it to the customer of the email typed at checkout, which may be another
    # shopper's. The address typed must still land in the signed-in shopper's own book.
    alice = UserFactory(username="alice", email="alice@example.com")
    alice_customer = attach_customer(user=alice, email="alice@example.com")
    bob = UserFactory(username="bob", email="bob@example.com")
    client.force_login(bob)
    fill_cart(client, ("LAMP-1", 1))

    key = to_review(client, shipping, save_address="1", email="alice@example.com",
                    **{"shipping-line1": "9 Bob Lane"})
    client.post("/checkout/place/", {"idempotency_key": key})

    assert Order.objects.filter(user=bob).exists()
    assert not Address.objects.filter(customer=alice_customer).exists(), "Bob's address is in Alice's book"
    assert Address.objects.get(customer__user=bob).line1 == "9 Bob Lane"
