"""One customer across channels: web, phone and counter orders attach to the same record (by email,
or by a verified phone), and the CRM's figures, scores, segments and customer page include them all."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import Location
from catalog.tests import factories as f
from customers.models import Customer, Segment
from customers.selectors.segments import segment_customers
from customers.services import customer_for_order, normalise_phone, verify_phone
from customers.services.rfm import score_customers
from customers.services.stats import refresh_customer_stats
from orders.models import Order
from orders.tests.factories import OrderFactory
from saleschannels.models import Channel

pytestmark = pytest.mark.django_db
P = Order.PaymentStatus


@pytest.fixture
def counter():
    shop = f.LocationFactory(code="uptown", name="Uptown shop", kind=Location.Kind.SHOP)
    channel, _created = Channel.objects.get_or_create(
        code="pos-uptown", defaults={"name": "Uptown counter", "kind": Channel.Kind.POS, "location": shop})
    return channel, shop


def _paid(customer, *, total, channel="web", **fields) -> Order:
    return OrderFactory(customer=customer, email=customer.email, total=Decimal(total), subtotal=Decimal(total),
                        payment_status=P.PAID, paid_at=timezone.now(), channel_id=channel, **fields)


def test_orders_from_every_channel_attach_to_one_customer_by_email():
    web = customer_for_order(email="Ada@Example.com", name="Ada Lovelace")
    phone = customer_for_order(email="ada@example.com ", phone="+1 555 0100")
    counter = customer_for_order(email="ADA@example.com", phone="555-0100", phone_verified=True)

    assert web.pk == phone.pk == counter.pk
    assert Customer.objects.count() == 1


def test_a_verified_phone_finds_the_customer_when_the_email_is_new():
    ada = customer_for_order(email="ada@example.com", name="Ada Lovelace")
    verify_phone(customer_id=ada.pk, phone="+1 (555) 010-0100")

    at_the_counter = customer_for_order(email="ada.work@example.com", phone="+1 555 010 0100", phone_verified=True)
    unverified = customer_for_order(email="someone@example.com", phone="+1 555 010 0100")
    known_email = customer_for_order(email="bob@example.com", name="Bob")
    email_wins = customer_for_order(email="bob@example.com", phone="+15550100100", phone_verified=True)

    assert at_the_counter.pk == ada.pk
    assert unverified.pk != ada.pk
    assert email_wins.pk == known_email.pk != ada.pk
    ada.refresh_from_db()
    assert ada.verified_phone == normalise_phone("+1 555 010 0100") == "+15550100100"
    assert ada.activities.filter(kind="phone_verified").exists()


def test_a_number_is_verified_for_one_customer_only():
    ada = customer_for_order(email="ada@example.com")
    bob = customer_for_order(email="bob@example.com")
    verify_phone(customer_id=ada.pk, phone="(201) 555 0100")

    with pytest.raises(ValueError, match="already verified for another customer"):
        verify_phone(customer_id=bob.pk, phone="+1 201-555-0100")
    with pytest.raises(ValueError, match="needs digits"):
        verify_phone(customer_id=bob.pk, phone="n/a")
    with pytest.raises(ValueError, match="555 0100 is not a whole phone number: give it with its area code"):
        verify_phone(customer_id=bob.pk, phone="555 0100")
    bob.refresh_from_db()
    assert bob.verified_phone == ""


def test_lifetime_value_rfm_and_segments_count_every_channel(counter):
    channel, shop = counter
    ada = customer_for_order(email="ada@example.com")
    others = [customer_for_order(email=f"c{n}@example.com") for n in range(4)]
    _paid(ada, total="100.00")
    _paid(ada, total="50.00", channel="phone")
    _paid(ada, total="30.00", channel=channel.code, sale_location=shop)
    for n, other in enumerate(others):
        _paid(other, total=f"{10 + n}.00")

    refresh_customer_stats()
    score_customers()

    ada.refresh_from_db()
    assert (ada.order_count, ada.total_spent) == (3, Decimal("180.00"))
    assert ada.frequency_score == 5 and ada.monetary_score == 5
    big_spenders = Segment.objects.create(name="Spent 150+", kind=Segment.Kind.RULES,
                                          min_total_spent=Decimal("150"), min_orders=3)
    assert list(segment_customers(big_spenders)) == [ada]


def test_the_crm_customer_page_names_each_orders_channel(admin_app, counter):
    channel, shop = counter
    ada = customer_for_order(email="ada@example.com")
    _paid(ada, total="100.00")
    _paid(ada, total="50.00", channel="phone")
    _paid(ada, total="30.00", channel=channel.code, sale_location=shop)

    page = admin_app.get(f"/admin/customers/customer/{ada.pk}/change/")

    cells = [cell.text for cell in page.html.select("#crm-orders td.crm-order-channel")]
    web, phone = Channel.objects.get(code="web").name, Channel.objects.get(code="phone").name
    assert sorted(cells) == sorted([web, phone, "Uptown counter · Uptown shop"])
    assert f"({phone})" in page.text  # the timeline says it too


def test_a_number_verified_without_its_country_code_is_stored_in_e164_with_the_stores_country(settings):
    settings.STORE_LOCALE = "en_GB"
    ada = customer_for_order(email="ada@example.com")

    verify_phone(customer_id=ada.pk, phone="07700 900123")

    ada.refresh_from_db()
    assert ada.verified_phone == "+447700900123"
    assert normalise_phone("0044 7700 900123") == normalise_phone("+44 7700 900123") == "+447700900123"
    assert customer_for_order(email="ada.work@example.com", phone="+447700900123", phone_verified=True).pk == ada.pk
    assert normalise_phone("06 1234 5678", country="IT") == "+390612345678"  # Italy keeps its 0


def test_the_migration_puts_verified_numbers_in_e164_and_keeps_the_first_of_two_claims(settings):
    import importlib

    from django.apps import apps

    settings.STORE_LOCALE = "en_GB"
    migration = importlib.import_module("customers.migrations.0009_verified_phones_e164")
    typed_at_the_counter = customer_for_order(email="ada@example.com")
    already = customer_for_order(email="bo@example.com")
    clash = customer_for_order(email="cy@example.com")
    unreadable = customer_for_order(email="di@example.com")
    # As the old rule stored them: the digits, with "+" only when it was typed.
    for customer, number, days in ((typed_at_the_counter, "07700900123", 3), (already, "+16315551181", 2),
                                   (clash, "01632960001", 1), (unreadable, "5550", 0)):
        Customer.objects.filter(pk=customer.pk).update(verified_phone=number,
                                                       phone_verified_at=timezone.now() - timedelta(days=days))
    Customer.objects.filter(pk=already.pk).update(phone_verified_at=timezone.now() - timedelta(days=5))
    holder = customer_for_order(email="el@example.com")
    Customer.objects.filter(pk=holder.pk).update(verified_phone="+441632960001",
                                                 phone_verified_at=timezone.now() - timedelta(days=9))

    migration.verified_phones_to_e164(apps, None)

    numbers = dict(Customer.objects.values_list("email", "verified_phone"))
    assert numbers == {"ada@example.com": "+447700900123", "bo@example.com": "+16315551181",
                       "cy@example.com": "01632960001", "di@example.com": "5550", "el@example.com": "+441632960001"}
