"""Delete my account / erase a customer: the person is gone, the books still add up."""
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import Count, Sum
from django.urls import reverse

from carts.models import Cart
from customers.models import Activity, Address, AuditLog, ConsentRecord, Customer, Note, WishlistItem
from customers.services.privacy import ErasureRefused, erase_customer
from customers.tests.factories import AddressFactory, UserFactory
from notifications.models import OutboundEmail
from orders.models import Order, OrderLine
from payments.models import Payment, Refund

from .privacy_data import full_customer

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # UserFactory's


@pytest.fixture
def two_customers(db):
    ada = full_customer("zebedee", first="Zebedee", last="Quillfeather", total=Decimal("123.45"))
    bob = full_customer("philomena", first="Philomena", last="Brightwater", total=Decimal("678.90"))
    return ada, bob


def _books() -> dict:
    return {
        "orders": Order.objects.aggregate(n=Count("pk"), total=Sum("total"), tax=Sum("tax_total"),
                                          subtotal=Sum("subtotal")),
        "lines": list(OrderLine.objects.order_by("pk").values_list("sku", "quantity", "unit_price", "line_total",
                                                                   "unit_tax")),
        "payments": list(Payment.objects.order_by("pk").values_list("amount", "status")),
        "refunds": list(Refund.objects.order_by("pk").values_list("amount", "status")),
    }


def _database_text() -> str:
    """Every row of every table, as text: what a search of the whole database would find."""
    rows = []
    for model in apps.get_models():
        rows += [str(row) for row in model._base_manager.values()]
    return "\n".join(rows).lower()


def test_erasure_removes_the_person_everywhere_and_keeps_the_books(two_customers):
    ada, bob = two_customers
    before = _books()
    everything = _database_text()
    assert all(value.lower() in everything for value in ada.personal)  # the search below can fail

    erase_customer(customer=ada.customer, actor=ada.user, reason="asked")

    everything = _database_text()
    for value in ada.personal:
        assert value.lower() not in everything, value
    for value in ("zebedee quillfeather", "quillfeather"):
        assert value not in everything
    # Nobody else's data was touched.
    for value in bob.personal:
        assert value.lower() in everything, value
    assert _books() == before


def test_what_the_erased_customer_and_their_order_look_like(two_customers):
    ada, _bob = two_customers

    erase_customer(customer=ada.customer, actor=ada.user, reason="asked")

    customer = Customer.objects.get(pk=ada.customer.pk)
    assert customer.email == f"erased-{customer.pk}@invalid"
    assert (customer.first_name, customer.last_name, customer.phone) == ("", "", "")
    assert customer.erased_at is not None and customer.user is None and not customer.accepts_marketing
    order = Order.objects.get(pk=ada.order.pk)
    assert (order.email, order.customer_name, order.phone, order.user) == (customer.email, "", "", None)
    assert order.shipping_address == order.billing_address == {"country": "GB"}
    assert order.customer == customer  # the CRM's figures stay whole
    assert (order.total, order.tax_total, order.payment_status) == (Decimal("123.45"), ada.tax, Order.PaymentStatus.PAID)
    assert not Address.objects.filter(customer=customer).exists()
    assert not WishlistItem.objects.filter(customer=customer).exists()
    assert not Cart.objects.filter(pk__in=[ada.user.pk]).exists() and not Cart.objects.filter(user_id=ada.user.pk)
    assert list(ConsentRecord.objects.filter(customer=customer).values_list("granted", "source")) == [
        (False, "erasure")
    ]
    assert set(Note.objects.filter(customer=customer).values_list("body", flat=True)) == {"[erased]"}
    assert not get_user_model().objects.filter(pk=ada.user.pk).exists()
    assert not EmailAddress.objects.filter(user_id=ada.user.pk).exists()
    # The unsent shipping email is dropped rather than sent to nobody.
    assert OutboundEmail.objects.get(key=f"order:{order.pk}:shipped:1").status == OutboundEmail.Status.SKIPPED
    assert Payment.objects.get(pk=ada.payment.pk).raw["checkout_session"]["customer_details"] is None


def test_erasure_is_logged_without_naming_the_person(two_customers):
    ada, _bob = two_customers
    user_pk = ada.user.pk

    erase_customer(customer=ada.customer, actor=ada.user, reason="asked")

    [entry] = AuditLog.objects.filter(action=AuditLog.Action.ACCOUNT_DELETED)
    assert entry.customer_id == ada.customer.pk
    assert entry.actor_repr == f"the customer (user #{user_pk})"
    [activity] = Activity.objects.filter(customer=ada.customer, kind=Activity.Kind.ERASED)
    assert activity.data == {"by": "customer", "orders_kept": 1}
    # Earlier activity keeps its kind and time, not its details.
    signed_in = Activity.objects.get(customer=ada.customer, kind=Activity.Kind.SIGNED_IN)
    assert (signed_in.message, signed_in.data) == ("", {})


def test_staff_can_erase_a_customer_with_the_same_service(two_customers):
    ada, _bob = two_customers
    staff = UserFactory(username="clerk", is_staff=True)

    erase_customer(customer=ada.customer, actor=staff, reason="Request by letter, ref 42")

    [entry] = AuditLog.objects.filter(action=AuditLog.Action.CUSTOMER_ERASED)
    assert (entry.actor, entry.actor_repr, entry.detail) == (staff, f"clerk (#{staff.pk})", "Request by letter, ref 42")
    assert Customer.objects.get(pk=ada.customer.pk).erased_at is not None


def test_erasing_twice_changes_nothing_more(two_customers):
    ada, _bob = two_customers
    erase_customer(customer=ada.customer, actor=None, reason="")

    erase_customer(customer=ada.customer, actor=None, reason="")

    assert AuditLog.objects.filter(action=AuditLog.Action.CUSTOMER_ERASED).count() == 1


def test_a_staff_account_is_not_erased(two_customers):
    ada, _bob = two_customers
    get_user_model().objects.filter(pk=ada.user.pk).update(is_staff=True)
    ada.customer.refresh_from_db()

    with pytest.raises(ErasureRefused):
        erase_customer(customer=ada.customer, actor=None, reason="")

    assert Customer.objects.get(pk=ada.customer.pk).erased_at is None


# --- The page -----------------------------------------------------------------------------------


def _reauthenticate(client):
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 302, response.content.decode()


def test_deleting_the_account_asks_for_the_password_first(client, two_customers):
    ada, _bob = two_customers
    client.force_login(ada.user)

    page = client.get(reverse("customers:privacy-delete"))
    post = client.post(reverse("customers:privacy-delete"), {"confirm": "on"})

    for response in (page, post):
        assert response.status_code == 302
        assert response["Location"] == "/account/reauthenticate/?next=%2Faccount%2Fprivacy%2Fdelete%2F"
    assert Customer.objects.get(pk=ada.customer.pk).erased_at is None


def test_deleting_needs_the_confirmation_box(client, two_customers):
    ada, _bob = two_customers
    client.force_login(ada.user)
    _reauthenticate(client)

    page = client.get(reverse("customers:privacy-delete"))
    refused = client.post(reverse("customers:privacy-delete"), {})

    assert page.status_code == 200 and b'id="delete-account-form"' in page.content
    assert refused.status_code == 200
    assert "Tick the box to confirm" in refused.content.decode()
    assert Customer.objects.get(pk=ada.customer.pk).erased_at is None


def test_deleting_the_account_signs_out_and_confirms(client, two_customers):
    ada, bob = two_customers
    client.force_login(ada.user)
    _reauthenticate(client)

    response = client.post(reverse("customers:privacy-delete"), {"confirm": "on"}, follow=True)

    assert response.redirect_chain == [(reverse("customers:privacy-deleted"), 302)]
    assert "Your account is deleted" in response.content.decode()
    assert Customer.objects.get(pk=ada.customer.pk).erased_at is not None
    assert Customer.objects.get(pk=bob.customer.pk).erased_at is None
    assert client.get(reverse("customers:wishlist")).status_code == 302  # signed out
    assert AuditLog.objects.filter(action=AuditLog.Action.ACCOUNT_DELETED, customer=ada.customer).exists()


def test_a_post_that_needed_the_password_is_carried_out_after_it(client, two_customers):
    ada, _bob = two_customers
    client.force_login(ada.user)
    client.post(reverse("customers:privacy-delete"), {"confirm": "on"})  # suspended: password first

    response = client.post("/account/reauthenticate/?next=%2Faccount%2Fprivacy%2Fdelete%2F", {"password": PASSWORD})

    assert response.status_code == 302 and response["Location"] == reverse("customers:privacy-deleted")
    assert Customer.objects.get(pk=ada.customer.pk).erased_at is not None


def test_erasure_reaches_campaign_messages_charge_events_and_the_admin_history(two_customers):
    """Records outside the order that carry the person: the campaign email sent to them, the
    provider's charge and refund events (their ids are not the session's or the intent's), and
    the back office's history of changes to their record."""
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.contenttypes.models import ContentType

    from marketing.models import Campaign, CampaignMessage
    from payments.models import WebhookEvent

    ada, bob = two_customers
    campaign = Campaign.objects.create(name="Spring", subject="Spring", html_body="<p>Hi</p>", text_body="Hi")
    streets = {}
    for number, person in enumerate((ada, bob), start=11):
        streets[person.email] = f"{number} Quayside Walk"
        AddressFactory(customer=person.customer, name="Gift recipient", line1=streets[person.email])
        CampaignMessage.objects.create(campaign=campaign, customer=person.customer, email=person.email,
                                       error=f"550 mailbox {person.email} full")
        tag = person.email.split(".")[0]
        WebhookEvent.objects.create(provider="stripe", event_id=f"evt_ch_{tag}", type="charge.succeeded", payload={
            "data": {"object": {"id": f"ch_{tag}", "payment_intent": f"pi_{tag}",
                                "billing_details": {"name": f"{person.first} {person.last}"},
                                "description": f"Order for {person.email}"}}})
        LogEntry.objects.create(
            user=UserFactory(is_staff=True), content_type=ContentType.objects.get_for_model(Customer),
            object_id=str(person.customer.pk), object_repr=str(person.customer), action_flag=CHANGE,
            change_message=f'[{{"added": {{"name": "address", "object": "{person.first} {person.last}, '
                           f'{streets[person.email]}"}}}}]',
        )
    assert ada.email in _database_text() and f"{ada.first} {ada.last}".lower() in _database_text()

    erase_customer(customer=ada.customer, actor=None, reason="asked")

    everything = _database_text()
    for value in [*ada.personal, streets[ada.email]]:
        assert value.lower() not in everything, value
    assert f"{ada.first} {ada.last}".lower() not in everything
    for value in [*bob.personal, streets[bob.email]]:
        assert value.lower() in everything, value
    assert CampaignMessage.objects.filter(customer=ada.customer).count() == 2  # this one and full_customer's


def test_erasure_ends_every_session_of_the_account(two_customers):
    """Sessions on other devices hold the account id and what checkout kept (email, addresses)."""
    from django.contrib.sessions.models import Session
    from django.test import Client

    ada, bob = two_customers
    phone, laptop, bobs = Client(), Client(), Client()
    for client, person in ((phone, ada), (laptop, ada), (bobs, bob)):
        client.force_login(person.user)
    mine = {phone.session.session_key, laptop.session.session_key}

    erase_customer(customer=ada.customer, actor=None, reason="asked by phone")

    keys = set(Session.objects.values_list("session_key", flat=True))
    assert not mine & keys and bobs.session.session_key in keys


def test_erasing_a_guest_leaves_orders_of_another_customer_who_once_had_the_address_alone():
    """Orders match by email only when they belong to no customer (placed before the CRM): an
    account that used the address before changing it keeps its orders, name and link."""
    from customers.services.accounts import attach_customer, change_customer_email
    from customers.tests.factories import CustomerFactory
    from orders.tests.factories import OrderFactory

    owner = UserFactory(email="first.owner@example.com")
    account = attach_customer(user=owner, email="first.owner@example.com")
    theirs = OrderFactory(customer=account, user=owner, email="first.owner@example.com", customer_name="First Owner")
    change_customer_email(user=owner, new_email="moved.on@example.com")
    guest = CustomerFactory(email="first.owner@example.com")
    guests = OrderFactory(customer=guest, email="first.owner@example.com", customer_name="Second Person")
    before_crm = OrderFactory(customer=None, email="First.Owner@example.com", customer_name="Second Person")

    erase_customer(customer=guest, actor=None, reason="asked")

    theirs.refresh_from_db()
    assert (theirs.customer_id, theirs.user_id, theirs.customer_name) == (account.pk, owner.pk, "First Owner")
    for order in (guests, before_crm):
        order.refresh_from_db()
        assert order.customer_id == guest.pk and order.customer_name == ""


@pytest.mark.parametrize("status", ["pending", "sending", "failed", "gave_up"])
def test_no_unsent_email_to_the_erased_customer_is_left_to_send(two_customers, status):
    # An email being sent or given up (staff may still press "Send now") is as unsent as a pending one.
    ada, _bob = two_customers
    OutboundEmail.objects.filter(key=f"order:{ada.order.pk}:shipped:1").update(status=status)

    erase_customer(customer=ada.customer, actor=ada.user, reason="asked")

    assert OutboundEmail.objects.get(key=f"order:{ada.order.pk}:shipped:1").status == OutboundEmail.Status.SKIPPED
    # What was sent stays a record of having been sent.
    assert OutboundEmail.objects.get(key=f"order:{ada.order.pk}:confirmation").status == OutboundEmail.Status.SENT


def test_deleting_the_account_takes_this_browsers_events_and_cookie_even_never_signed_in_ones(client, two_customers):
    """The browser they delete their account from is theirs: its events go, those from before
    they ever signed in on it included (linked to nobody), and the visitor cookie is dropped."""
    from django.test import RequestFactory

    from analytics import recorder, services as analytics
    from analytics.models import Event

    ada, _bob = two_customers
    browser, stranger = "d" * 32, "e" * 32
    for visitor in (browser, stranger):
        request = RequestFactory().get("/p/lamp/")
        request.COOKIES[recorder.VISITOR_COOKIE] = visitor
        recorder.record(request, "product_viewed", slug="lamp")
    analytics.flush_events()
    client.cookies[recorder.VISITOR_COOKIE] = browser
    client.force_login(ada.user)
    _reauthenticate(client)

    response = client.post(reverse("customers:privacy-delete"), {"confirm": "on"})

    assert response.status_code == 302
    assert response.cookies[recorder.VISITOR_COOKIE].value == ""  # deleted
    assert list(Event.objects.values_list("visitor_id", flat=True)) == [stranger]
