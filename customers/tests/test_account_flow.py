"""The whole account flow through allauth's real views and the emails Django captures."""
from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail

from customers.models import Activity, ConsentRecord, Customer, PendingSignup
from orders.tests.factories import OrderFactory

from .helpers import (
    CONFIRM_LINK,
    PASSWORD,
    RESET_LINK,
    link_in_last_email,
    sign_in,
    sign_up,
    verified_account,
)

pytestmark = pytest.mark.django_db
User = get_user_model()


def kinds(customer) -> list[str]:
    return sorted(customer.activities.values_list("kind", flat=True))


def test_sign_up_verify_by_the_emailed_link_and_land_signed_in_with_a_linked_customer(client):
    # given / when: the sign-up form
    response = sign_up(client, "New.Shopper@Example.com")

    # then: not signed in yet, told to check the email, one email with text and HTML parts
    assert response.status_code == 302 and response["Location"] == "/account/confirm-email/"
    assert "_auth_user_id" not in client.session
    page = client.get("/account/confirm-email/").content.decode()
    assert "Check your email" in page
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.shopper@example.com"]
    assert message.subject == "Confirm your email address for Northwind Supply"
    assert message.alternatives[0][1] == "text/html" and "Northwind Supply" in message.alternatives[0][0]
    user = User.objects.get(email__iexact="new.shopper@example.com")
    assert not Customer.objects.filter(user=user).exists()

    # when: the link, then its confirm button
    link = link_in_last_email(CONFIRM_LINK, "new.shopper@example.com")
    assert "Confirm" in client.get(link).content.decode()
    response = client.post(link)

    # then: signed in, the customer record is the account's, and the timeline says so
    assert response.status_code == 302 and response["Location"] == "/account/"
    assert client.session["_auth_user_id"] == str(user.pk)
    customer = Customer.objects.get(user=user)
    assert customer.email == "new.shopper@example.com"
    assert {"signed_up", "email_verified", "signed_in"} <= set(kinds(customer))
    assert not PendingSignup.objects.exists()
    account_page = client.get("/account/").content.decode()
    assert "new.shopper@example.com" in account_page and "Your account" in account_page


def test_passwords_are_hashed_with_argon2(client, store_password_hashers):
    sign_up(client, "hash@example.com")

    assert User.objects.get(email="hash@example.com").password.startswith("argon2")


def test_a_weak_password_is_refused_with_the_validators_message_and_no_account_is_made(client):
    response = sign_up(client, "weak@example.com", password="password")

    assert response.status_code == 200
    assert "This password is too common." in response.content.decode()
    assert not User.objects.filter(email="weak@example.com").exists() and not mail.outbox


def test_the_marketing_box_is_optional_unticked_and_becomes_consent_only_once_verified(client):
    page = client.get("/account/signup/").content.decode()
    assert 'name="accepts_marketing"' in page and "Email me offers and news" in page
    assert "checked" not in page.split('name="accepts_marketing"')[1].split(">")[0]

    sign_up(client, "offers@example.com", marketing=True)
    # Unverified: nobody has shown the address is theirs, so nothing is consented yet.
    assert not ConsentRecord.objects.exists()

    client.post(link_in_last_email(CONFIRM_LINK, "offers@example.com"))

    customer = Customer.objects.get(email="offers@example.com")
    assert customer.accepts_marketing and customer.marketing_consent_at is not None
    record = ConsentRecord.objects.get(customer=customer)
    assert record.granted and record.source == ConsentRecord.Source.SIGNUP
    assert customer.activities.filter(kind=Activity.Kind.CONSENT).count() == 1


def test_without_the_box_no_consent_is_recorded(client):
    sign_up(client, "quiet@example.com")
    client.post(link_in_last_email(CONFIRM_LINK, "quiet@example.com"))

    customer = Customer.objects.get(email="quiet@example.com")
    assert not customer.accepts_marketing and not customer.consents.exists()


def test_guest_orders_attach_once_the_same_email_is_verified_and_not_before(client):
    # given: a guest who bought twice, and someone else's guest order
    guest = Customer.objects.create(email="guest@example.com", first_name="Gus")
    mine = [OrderFactory(customer=guest, email="Guest@Example.com") for _ in range(2)]
    other = OrderFactory(customer=Customer.objects.create(email="other@example.com"), email="other@example.com")

    # when: a sign-up with the guest's email, not verified
    sign_up(client, "guest@example.com")
    user = User.objects.get(email="guest@example.com")

    # then: it owns nothing, and cannot even sign in
    assert all(order.user_id is None for order in mine)
    guest.refresh_from_db()
    assert guest.user_id is None
    response = sign_in(client, "guest@example.com")
    assert response["Location"] == "/account/confirm-email/" and "_auth_user_id" not in client.session
    assert client.get("/orders/")["Location"].startswith("/account/login/")

    # when: the address is verified
    client.post(link_in_last_email(CONFIRM_LINK, "guest@example.com"))

    # then: the guest's record is the account's, with both orders; the other order is untouched
    guest.refresh_from_db()
    assert guest.user_id == user.pk and guest.first_name == "Gus"
    assert Customer.objects.filter(email="guest@example.com").count() == 1
    for order in mine:
        order.refresh_from_db()
        assert order.user_id == user.pk
    other.refresh_from_db()
    assert other.user_id is None
    attached = guest.activities.get(kind=Activity.Kind.GUEST_ORDERS_ATTACHED)
    assert attached.data["count"] == 2
    history = client.get("/orders/").content.decode()
    assert all(order.number in history for order in mine) and other.number not in history


def test_password_reset_by_email_end_to_end(client):
    user, customer = verified_account("reset@example.com")

    response = client.post("/account/password/reset/", {"email": "RESET@example.com"})
    assert response["Location"] == "/account/password/reset/done/"
    assert mail.outbox[-1].subject == "Reset your Northwind Supply password"

    link = link_in_last_email(RESET_LINK, "reset@example.com")
    form_url = client.get(link)["Location"]  # allauth moves the key into the session
    page = client.get(form_url).content.decode()
    assert "Choose a new password" in page
    response = client.post(form_url, {"password1": "a brand new passphrase 7", "password2": "a brand new passphrase 7"})
    assert response["Location"] == "/account/password/reset/key/done/"

    # The old password no longer works, the new one does; the link is spent.
    assert "_auth_user_id" not in sign_in(client, "reset@example.com").wsgi_request.session
    response = sign_in(client, "reset@example.com", "a brand new passphrase 7")
    assert response["Location"] == "/account/" and client.session["_auth_user_id"] == str(user.pk)
    assert customer.activities.filter(kind=Activity.Kind.PASSWORD_CHANGED, data__via="reset").count() == 1
    client.logout()
    assert "Link expired" in client.get(link).content.decode()


def test_password_change_signed_in_is_recorded_and_notified(client, store_password_hashers):
    user, customer = verified_account("change@example.com")
    client.force_login(user)

    response = client.post("/account/password/change/", {
        "oldpassword": PASSWORD, "password1": "another fine passphrase 9", "password2": "another fine passphrase 9",
    })

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another fine passphrase 9") and user.password.startswith("argon2")
    assert customer.activities.filter(kind=Activity.Kind.PASSWORD_CHANGED, data__via="change").exists()
    assert mail.outbox[-1].to == ["change@example.com"] and "Your password was changed." in mail.outbox[-1].alternatives[0][0]


def test_an_email_change_takes_effect_only_once_the_new_address_is_verified(client):
    user, customer = verified_account("old@example.com")
    client.force_login(user)
    client.post("/account/reauthenticate/", {"password": PASSWORD})

    response = client.post("/account/email/", {"email": "New@Example.com", "action_add": ""})

    assert response.status_code == 302
    user.refresh_from_db()
    customer.refresh_from_db()
    assert user.email == "old@example.com" and customer.email == "old@example.com"
    assert mail.outbox[-1].to == ["new@example.com"]
    assert "Changing to" in client.get("/account/email/").content.decode()

    client.post(link_in_last_email(CONFIRM_LINK, "new@example.com"))

    user.refresh_from_db()
    customer.refresh_from_db()
    assert user.email == "new@example.com" and customer.email == "new@example.com"
    assert list(EmailAddress.objects.filter(user=user).values_list("email", flat=True)) == ["new@example.com"]
    changed = customer.activities.get(kind=Activity.Kind.EMAIL_CHANGED)
    assert changed.data["old_email"] == "old@example.com" and changed.data["new_email"] == "new@example.com"
    # The old address is told, in case it was not its owner who did it.
    assert any(m.to == ["old@example.com"] and "new@example.com" in m.body for m in mail.outbox)


def test_changing_to_a_guests_email_merges_the_guest_record_into_the_account(client):
    from customers.models import Address, Note, WishlistItem
    from customers.services.consent import set_marketing_consent
    from customers.tests.factories import AddressFactory, NoteFactory

    user, customer = verified_account("me@example.com")
    AddressFactory(customer=customer, is_default_shipping=True)
    guest = Customer.objects.create(email="shared@example.com", phone="555-1234")
    order = OrderFactory(customer=guest, email="shared@example.com")
    NoteFactory(customer=guest)
    AddressFactory(customer=guest, is_default_shipping=True, line1="9 Guest St")
    set_marketing_consent(customer=guest, granted=True, source=ConsentRecord.Source.CHECKOUT)
    client.force_login(user)
    client.post("/account/reauthenticate/", {"password": PASSWORD})

    client.post("/account/email/", {"email": "shared@example.com", "action_add": ""})
    assert Customer.objects.filter(pk=guest.pk).exists(), "nothing merges before verification"
    client.post(link_in_last_email(CONFIRM_LINK, "shared@example.com"))

    assert not Customer.objects.filter(pk=guest.pk).exists()
    customer.refresh_from_db()
    order.refresh_from_db()
    assert customer.email == "shared@example.com" and customer.phone == "555-1234"
    assert order.customer_id == customer.pk and order.user_id == user.pk
    assert Note.objects.filter(customer=customer).count() == 1
    assert Address.objects.filter(customer=customer).count() == 2
    assert Address.objects.get(customer=customer, is_default_shipping=True).line1 == "12 Analytical Row"
    assert customer.consents.count() == 1 and customer.accepts_marketing
    assert not WishlistItem.objects.exists()
    assert customer.activities.filter(kind=Activity.Kind.CONSENT).exists()  # the guest's history came along
    assert customer.activities.get(kind=Activity.Kind.EMAIL_CHANGED).data["merged"]["orders"] == 1


def test_sign_in_records_the_activity_and_remember_me_decides_the_session_lifetime(client):
    user, customer = verified_account("remember@example.com")
    page = client.get("/account/login/").content.decode()
    assert 'name="remember"' in page and "Remember Me" in page

    sign_in(client, "remember@example.com")
    assert client.session.get_expire_at_browser_close()
    client.logout()
    sign_in(client, "remember@example.com", remember=True)
    assert not client.session.get_expire_at_browser_close()
    assert customer.activities.filter(kind=Activity.Kind.SIGNED_IN).count() == 2


def test_the_header_links_to_sign_in_or_to_the_account(client):
    assert 'href="/account/login/"' in client.get("/account/login/").content.decode()
    user, _customer = verified_account("header@example.com")
    client.force_login(user)
    page = client.get("/account/").content.decode()
    assert 'class="account-link" href="/account/"' in page and "Your account" in page


def test_changing_the_email_asks_for_the_password_first(client):
    """Whoever holds the email holds the account (a password reset goes there) and its orders: a
    session left signed in must not be enough to move it."""
    user, customer = verified_account("kept@example.com")
    client.force_login(user)

    response = client.post("/account/email/", {"email": "taker@example.com", "action_add": ""})

    assert response.status_code == 302 and response["Location"].startswith("/account/reauthenticate/")
    assert not EmailAddress.objects.filter(email="taker@example.com").exists()
    assert not any("taker@example.com" in m.to for m in mail.outbox)

    resumed = client.post(response["Location"], {"password": PASSWORD})
    assert resumed.status_code == 302
    assert EmailAddress.objects.filter(user=user, email="taker@example.com", verified=False).exists()
