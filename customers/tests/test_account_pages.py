"""allauth's remaining pages and emails render in the store's layout."""
from __future__ import annotations

import pytest
from django.core import mail

from .helpers import PASSWORD, sign_up, verified_account

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url, text", [
    ("/account/login/", "Sign in"),
    ("/account/signup/", "Create an account"),
    ("/account/password/reset/", "Reset your password"),
    ("/account/password/reset/done/", "Check your email"),
    ("/account/password/reset/key/done/", "Password changed"),
    ("/account/confirm-email/", "Check your email"),
    ("/account/confirm-email/not-a-key/", "This confirmation link has expired or was already used."),
    ("/account/password/reset/key/1-bogus/", "Link expired"),
])
def test_entrance_pages_use_the_store_layout(client, url, text):
    page = client.get(url, follow=True).content.decode()

    assert text in page
    assert 'class="site-header"' in page and "css/account.css" in page


@pytest.mark.parametrize("url, text, menu", [
    ("/account/logout/", "Sign out of your account on this device?", True),
    ("/account/password/change/", "Change password", True),
    ("/account/email/", "You sign in and receive emails at", True),
    ("/account/reauthenticate/", "enter your password again", False),
])
def test_signed_in_pages_use_the_store_layout(client, url, text, menu):
    user, _customer = verified_account("pages@example.com")
    client.force_login(user)

    page = client.get(url).content.decode()

    assert text in page and 'class="site-header"' in page
    assert ('class="account-nav"' in page) is menu


def test_a_sign_up_with_a_taken_address_mails_its_owner_instead_of_saying_so(client):
    verified_account("taken@example.com")

    response = sign_up(client, "taken@example.com")

    # The page is the same as for a new address (nobody learns who has an account) ...
    assert response["Location"] == "/account/confirm-email/"
    message = mail.outbox[-1]
    # ... and the owner is told, with a way back in.
    assert message.to == ["taken@example.com"] and "you already have one" in message.body
    assert "/account/password/reset/" in message.alternatives[0][0]


def test_a_reset_for_an_unknown_address_says_so_by_email_only(client):
    response = client.post("/account/password/reset/", {"email": "nobody@example.com"})

    assert response["Location"] == "/account/password/reset/done/"
    message = mail.outbox[-1]
    assert message.to == ["nobody@example.com"] and "there is no account with it" in message.body
    assert "/account/signup/" in message.alternatives[0][0]


def test_the_reauthentication_form_accepts_the_password(client):
    user, _customer = verified_account("reauth@example.com")
    client.force_login(user)

    response = client.post("/account/reauthenticate/", {"password": PASSWORD, "next": "/account/email/"})

    assert response.status_code == 302 and response["Location"] == "/account/email/"
