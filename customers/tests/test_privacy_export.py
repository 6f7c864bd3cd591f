"""Download my data: everything that is the customer's, nothing that is anyone else's."""
import json
import time
from decimal import Decimal

import pytest
from django.urls import reverse

from customers.models import Activity, AuditLog
from conftest import html_tags
from customers.services.data_export import export_customer_data
from customers.views.privacy import DOWNLOAD_SESSION_KEY

from .helpers import PASSWORD
from .privacy_data import full_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_customers(db):
    ada = full_customer("zebedee", first="Zebedee", last="Quillfeather", total=Decimal("123.45"))
    bob = full_customer("philomena", first="Philomena", last="Brightwater", total=Decimal("678.90"))
    return ada, bob


def test_the_export_holds_every_kind_of_personal_data(two_customers):
    ada, _bob = two_customers

    data = export_customer_data(customer=ada.customer)

    text = json.dumps(data)
    assert data["profile"]["email"] == ada.email
    assert (data["profile"]["first_name"], data["profile"]["last_name"], data["profile"]["phone"]) == (
        "Zebedee", "Quillfeather", ada.phone)
    assert data["account"]["email"] == ada.email and data["account"]["date_joined"]
    assert "last_login" in data["account"]
    [address] = data["addresses"]
    assert address["line1"] == "zebedee Lighthouse Lane 7"
    [order] = data["orders"]
    assert (order["number"], order["total"], order["tax"]) == (ada.order.number, "123.45", str(ada.tax))
    assert order["shipping_address"]["city"] == "zebedeeville"
    assert order["lines"][0]["sku"] == "ZEBEDEE-SKU-1"
    assert order["payments"][0]["amount"] == "123.45"
    assert order["payments"][0]["refunds"][0]["amount"] == "1.50"
    assert order["shipments"][0]["tracking_number"] == "RMZEBEDEE123GB"
    assert order["shipments"][0]["lines"] == [{"sku": "ZEBEDEE-SKU-1", "quantity": 1}]
    assert [(c["granted"], c["source"]) for c in data["consents"]] == [(True, "signup")]
    assert [a["what"] for a in data["activities"]] == ["Signed in from zebedee-laptop"]
    assert [w["product"] for w in data["wishlist"]] == ["Zebedee Lantern"]
    assert data["carts"][0]["lines"][0]["quantity"] == 2
    assert data["chat_history"] == []


def test_the_export_holds_what_staff_recorded_about_them_by_role_not_by_name(two_customers):
    """Art. 15 covers what the store records about the person, staff's notes included; the staff
    member behind a note appears as "staff" (their own details are not the customer's data)."""
    ada, _bob = two_customers
    export_customer_data(customer=ada.customer, actor=ada.staff)  # staff downloaded it for them once
    export_customer_data(customer=ada.customer)  # and they did themselves

    data = export_customer_data(customer=ada.customer)

    text = json.dumps(data)
    assert [(n["kind"], n["note"], n["by"], n["shared_with_you"]) for n in data["notes"]] == [
        ("note", ada.visible_note.body, "staff", True),
        ("note", ada.internal_note.body, "staff", False),
        ("call", ada.call.body, "staff", False),
    ]
    [order] = data["orders"]
    assert [(e["kind"], e["by"]) for e in order["history"]] == [("email", "system"), ("note", "staff")]
    assert "wrap as a gift" in order["history"][1]["message"]
    assert [(e["kind"], e["subject"], e["status"]) for e in order["emails"]] == [
        ("confirmation", "Your zebedee order", "sent"), ("shipped", "", "pending")]
    assert order["payments"][0]["refunds"][0]["reason"] == "Goodwill for Zebedee Quillfeather"
    assert order["lines"][0]["quantity_returned"] == 0
    assert [(m["subject"], m["to"], m["status"]) for m in data["marketing_emails"]] == [
        ("Lanterns for zebedee people", ada.email, "sent")]
    assert [(e["action"], e["by"]) for e in data["audit_log"]] == [("data_export", "staff"), ("data_export", "you")]
    assert [(c["action"], c["by"]) for c in data["record_changes"]] == [("changed", "staff")]
    assert "Phone" in data["record_changes"][0]["what"]
    assert {e["email"] for e in data["account"]["email_addresses"]} == {ada.email, "zebedee.old@example.net"}
    for staff_detail in (ada.staff.username, ada.staff.email, ada.staff.last_name, "actor_repr"):
        assert staff_detail.lower() not in text.lower(), staff_detail


def test_a_pending_sign_up_is_in_the_export(two_customers):
    from customers.models import PendingSignup

    ada, _bob = two_customers
    PendingSignup.objects.create(user=ada.user, accepts_marketing=True)

    account = export_customer_data(customer=ada.customer)["account"]

    assert account["pending_signup"]["asked_for_marketing"] is True


def test_the_export_says_how_the_store_profiles_them(two_customers):
    from customers.models import RFMSegment, Segment, Tag

    ada, _bob = two_customers
    customer = ada.customer
    customer.tags.add(Tag.objects.create(name="Lantern collector"))
    type(customer).objects.filter(pk=customer.pk).update(
        recency_score=5, frequency_score=3, monetary_score=4, rfm_segment=RFMSegment.LOYAL)
    customer.refresh_from_db()
    Segment.objects.create(name="Lantern people", kind=Segment.Kind.MANUAL).members.add(customer)
    Segment.objects.create(name="Big spenders", kind=Segment.Kind.RULES, min_total_spent=10_000)

    profiling = export_customer_data(customer=customer)["profiling"]

    assert (profiling["rfm_scores"]["recency"], profiling["rfm_scores"]["frequency"],
            profiling["rfm_scores"]["monetary"]) == (5, 3, 4)
    assert "Lantern people" in profiling["segments"] and "Big spenders" not in profiling["segments"]
    assert profiling["tags"] == ["Lantern collector"]


def test_the_export_holds_nothing_of_another_customer(two_customers):
    ada, bob = two_customers

    text = json.dumps(export_customer_data(customer=ada.customer))

    for value in [*bob.personal, bob.order.number, "PHILOMENA-SKU-1", "678.90", "RMPHILOMENA123GB",
                  "Philomena Lantern", "philomena-laptop", "Philomena"]:
        assert value.lower() not in text.lower(), value
    assert "zebedee" in text.lower()  # the check above would pass on an empty file too


def test_the_export_is_recorded(two_customers):
    ada, _bob = two_customers

    export_customer_data(customer=ada.customer)

    assert Activity.objects.filter(customer=ada.customer, kind=Activity.Kind.DATA_EXPORTED).count() == 1
    [entry] = AuditLog.objects.filter(action=AuditLog.Action.DATA_EXPORT)
    assert (entry.actor, entry.customer) == (ada.user, ada.customer)


def test_the_export_costs_a_fixed_number_of_queries(two_customers, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from customers.tests.factories import NoteFactory
    from orders.models import OrderEvent
    from orders.tests.factories import OrderFactory, OrderLineFactory

    from giftcards.services import debit, issue_gift_card

    def gift_card_spent_on(order):
        card, _code = issue_gift_card(amount=Decimal("20.00"), user=ada.staff, reason="Goodwill",
                                      recipient_email=ada.email)
        debit(card=card, amount=Decimal("5.00"), order=order, payment=None, user=ada.user)

    ada, _bob = two_customers
    gift_card_spent_on(ada.order)
    export_customer_data(customer=ada.customer)
    # 29 and 30: the storefront events (their browsers, then the events); 1 for chat (2 with
    # conversations); 2 for gift cards (the cards, their ledgers); 1 for draft orders staff typed.
    with django_assert_max_num_queries(33):
        export_customer_data(customer=ada.customer)
    with CaptureQueriesContext(connection) as before:
        export_customer_data(customer=ada.customer)

    # More of everything costs no more queries.
    for _ in range(3):
        order = OrderFactory(customer=ada.customer, user=ada.user, email=ada.email)
        OrderLineFactory(order=order)
        OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.NOTE, actor=OrderEvent.Actor.STAFF, message="x")
        NoteFactory(customer=ada.customer, author=ada.staff)
        gift_card_spent_on(order)
    with CaptureQueriesContext(connection) as after:
        export_customer_data(customer=ada.customer)
    assert len(after) == len(before)


def _download_link(page) -> str:
    [link] = html_tags(page.content, "meta", http_equiv="refresh")
    url = link["content"].split("url=", 1)[1]
    assert html_tags(page.content, "a", href=url), "the page offers the same link to click"
    return url


def test_download_my_data_is_a_json_attachment_of_the_signed_in_customer(client, two_customers):
    ada, bob = two_customers
    client.force_login(bob.user)

    page = client.get(reverse("customers:privacy"))
    assert client.post(reverse("account_reauthenticate"), {"password": PASSWORD}).status_code == 302
    pressed = client.post(reverse("customers:privacy"))
    ready = client.get(pressed["Location"])
    response = client.get(_download_link(ready))

    assert page.status_code == 200 and b"download-my-data" in page.content
    assert not html_tags(page.content, "meta", http_equiv="refresh")  # nothing starts before the button
    assert pressed.status_code == 302 and pressed["Location"] == reverse("customers:privacy")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith('attachment; filename="my-data-')
    data = json.loads(response.content)
    assert data["profile"]["email"] == bob.email
    assert ada.email not in response.content.decode()


def test_the_download_link_works_once_in_its_own_session_and_expires(client, two_customers, settings):
    from django.test import Client

    _ada, bob = two_customers
    client.force_login(bob.user)
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    client.post(reverse("customers:privacy"))
    url = _download_link(client.get(reverse("customers:privacy")))
    elsewhere = Client()
    elsewhere.force_login(bob.user)

    stolen = elsewhere.get(url)
    looked = client.head(url)
    first = client.get(url)
    again = client.get(url)

    assert stolen.status_code == 302 and stolen["Location"] == reverse("customers:privacy")
    assert looked.status_code == 200 and not looked.has_header("Content-Disposition")
    assert first["Content-Disposition"].startswith("attachment")
    assert again.status_code == 302 and again["Location"] == reverse("customers:privacy")
    assert AuditLog.objects.filter(action=AuditLog.Action.DATA_EXPORT).count() == 1

    # A link older than its five minutes is refused too.
    client.post(reverse("customers:privacy"))
    url = _download_link(client.get(reverse("customers:privacy")))
    session = client.session
    session[DOWNLOAD_SESSION_KEY]["expires"] = time.time() - 1
    session.save()
    assert client.get(url).status_code == 302
    assert AuditLog.objects.filter(action=AuditLog.Action.DATA_EXPORT).count() == 1


@pytest.mark.parametrize("method,name", [("get", "customers:privacy"), ("post", "customers:privacy"),
                                         ("get", "customers:privacy-delete"), ("post", "customers:privacy-delete")])
def test_anonymous_visitors_are_sent_to_sign_in(client, method, name):
    response = getattr(client, method)(reverse(name))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login") + "?next=")


def test_downloading_my_data_asks_for_the_password_first_and_then_downloads(client, two_customers):
    """The file holds every address, order and phone number: a session left open (or "remember
    me" on a shared computer) must not be enough to take it away. After the password, the replayed
    POST answers with a redirect to the privacy page (a file would leave the browser on the
    password page), which offers the download."""
    _ada, bob = two_customers
    client.force_login(bob.user)

    page = client.get(reverse("customers:privacy"))
    asked = client.post(reverse("customers:privacy"))

    assert page.status_code == 200
    assert asked.status_code == 302 and asked["Location"] == "/account/reauthenticate/?next=%2Faccount%2Fprivacy%2F"
    assert not AuditLog.objects.filter(action=AuditLog.Action.DATA_EXPORT).exists()
    resumed = client.post(asked["Location"], {"password": PASSWORD})
    assert resumed.status_code == 302 and resumed["Location"] == reverse("customers:privacy")
    downloaded = client.get(_download_link(client.get(resumed["Location"])))
    assert downloaded["Content-Disposition"].startswith('attachment; filename="my-data-')
    assert json.loads(downloaded.content)["profile"]["email"] == bob.email
