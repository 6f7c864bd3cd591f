"""Staff sign in to the back office through the store's sign-in (customers/views/signin.py): the
limits on guessing apply, and superusers need an authenticator app when DEBUG is off.

Codes are computed here from the secret the set-up page shows (RFC 6238, helpers.totp_code).
"""
from __future__ import annotations

import re
import time
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.management import call_command
from django.test import Client

from conftest import html_tags

from .helpers import totp_code
from .test_throttling import LOCKED, later, signed_in

pytestmark = pytest.mark.django_db

EMAIL, PASSWORD = "boss@example.com", "a long admin passphrase"
SECRET = re.compile(r'<code id="totp-secret"[^>]*>([A-Z2-7]+)</code>')


@pytest.fixture
def superuser(django_user_model):
    user = django_user_model.objects.create_superuser(username="boss", email=EMAIL, password=PASSWORD)
    EmailAddress.objects.create(user=user, email=EMAIL, verified=True, primary=True)
    return user


def admin_sign_in(client: Client, email: str = EMAIL, password: str = PASSWORD):
    """What a browser does from /admin/: follow it to the sign-in page, post the form it shows."""
    login_url = client.get(client.get("/admin/")["Location"])["Location"]
    assert login_url == "/account/login/?next=%2Fadmin%2F"
    form = client.get(login_url).content
    assert html_tags(form, "input", name="login") and html_tags(form, "input", name="password")
    return client.post(login_url, {"login": email, "password": password, "next": "/admin/"})


def test_the_admin_login_is_the_stores_sign_in_by_email(client, superuser, settings):
    settings.DEBUG = True

    response = admin_sign_in(client)

    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    # Django's own form (a username, no limit) is gone: its URL sends to the same page.
    assert Client().get("/admin/login/")["Location"] == "/account/login/?next=%2Fadmin%2Flogin%2F"


def test_thirty_wrong_admin_passwords_are_not_all_checked(superuser, monkeypatch):
    checked = []
    check_password = AbstractBaseUser.check_password
    monkeypatch.setattr(AbstractBaseUser, "check_password",
                        lambda user, raw: checked.append(raw) or check_password(user, raw))
    # The owner signed in on their own computer last week.
    own_computer = Client(REMOTE_ADDR="198.51.100.30")
    admin_sign_in(own_computer)
    own_computer.post("/account/logout/")
    checked.clear()

    answers = [admin_sign_in(Client(REMOTE_ADDR=f"192.0.2.{n + 1}"), password=f"guess {n}") for n in range(30)]

    assert len(checked) == 5
    assert all(LOCKED in answer.content.decode() for answer in answers[5:])
    # The right password is refused too until the window passes ...
    stranger = Client(REMOTE_ADDR="192.0.2.99")
    assert LOCKED in admin_sign_in(stranger).content.decode() and not signed_in(stranger)
    # ... except from the owner's own computer;
    assert admin_sign_in(own_computer).status_code == 302 and signed_in(own_computer)
    # and after it anyone with the password gets in.
    later(monkeypatch, 5 * 60 + 1)
    assert admin_sign_in(stranger).status_code == 302 and signed_in(stranger)


def test_a_superuser_in_production_sets_up_an_authenticator_app_before_the_back_office(client, superuser, settings):
    settings.DEBUG = False

    response = admin_sign_in(client)

    assert response["Location"] == "/account/2fa/totp/activate/"
    assert signed_in(client)
    # The back office stays shut until it is done, whatever the address typed.
    for url in ("/admin/", "/admin/orders/order/", "/admin/login/?next=/admin/"):
        assert client.get(url, follow=True).redirect_chain[-1][0] == "/account/2fa/totp/activate/"
    page = client.get("/account/2fa/totp/activate/").content.decode()
    secret = SECRET.search(page)[1]
    assert "<svg" in page  # the QR code

    wrong = client.post("/account/2fa/totp/activate/", {"code": totp_code(secret, at=time.time() + 600)})
    assert "Incorrect code." in wrong.content.decode()
    response = client.post("/account/2fa/totp/activate/", {"code": totp_code(secret)})

    assert response["Location"] == "/account/2fa/recovery-codes/"
    codes = re.findall(r"<li><code>(\d{8})</code></li>", client.get(response["Location"]).content.decode())
    assert len(codes) == 10
    assert client.get("/admin/").status_code == 200
    assert Authenticator.objects.filter(user=superuser, type=Authenticator.Type.TOTP).exists()


def test_with_debug_on_or_for_other_staff_the_app_is_offered_not_required(client, superuser, settings, django_user_model):
    settings.DEBUG = True
    assert admin_sign_in(client)["Location"] == "/admin/"

    settings.DEBUG = False
    clerk = django_user_model.objects.create_user(username="clerk", email="clerk@example.com", password=PASSWORD,
                                                   is_staff=True)
    EmailAddress.objects.create(user=clerk, email="clerk@example.com", verified=True, primary=True)
    other = Client()
    assert admin_sign_in(other, "clerk@example.com")["Location"] == "/admin/"
    assert "Two-factor sign-in" in other.get("/admin/").content.decode()  # offered in the header


@pytest.fixture
def enrolled(superuser):
    secret = generate_totp_secret()
    TOTP.activate(superuser, secret)
    codes = RecoveryCodes.activate(superuser).generate_codes()
    return secret, codes


def test_signing_in_with_an_authenticator_code(client, enrolled, settings):
    settings.DEBUG = False
    secret, _codes = enrolled

    response = admin_sign_in(client)

    assert response["Location"] == "/account/2fa/authenticate/" and not signed_in(client)
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    page = client.get("/account/2fa/authenticate/").content
    assert html_tags(page, "input", name="code", autocomplete="one-time-code")
    response = client.post("/account/2fa/authenticate/", {"code": totp_code(secret)})
    assert response["Location"] == "/admin/" and signed_in(client)
    assert client.get("/admin/").status_code == 200


def test_a_code_from_a_phone_whose_clock_is_half_a_minute_off_works(client, enrolled):
    secret, _codes = enrolled
    admin_sign_in(client)

    response = client.post("/account/2fa/authenticate/", {"code": totp_code(secret, at=time.time() - 30)})

    assert response["Location"] == "/admin/"


def test_a_recovery_code_signs_in_once(client, enrolled):
    _secret, codes = enrolled
    admin_sign_in(client)
    assert client.post("/account/2fa/authenticate/", {"code": codes[3]})["Location"] == "/admin/"
    client.post("/account/logout/")

    admin_sign_in(client)
    response = client.post("/account/2fa/authenticate/", {"code": codes[3]})

    assert response.status_code == 200 and "Incorrect code." in response.content.decode()
    assert not signed_in(client)


def test_wrong_codes_are_limited_like_passwords(client, enrolled):
    secret, _codes = enrolled
    admin_sign_in(client)
    for _attempt in range(5):
        assert "Incorrect code." in client.post("/account/2fa/authenticate/", {"code": "12345"}).content.decode()

    response = client.post("/account/2fa/authenticate/", {"code": totp_code(secret)})

    assert "Too many wrong codes." in response.content.decode() and not signed_in(client)


def test_a_superuser_in_production_cannot_turn_the_app_off(client, enrolled, superuser, settings):
    settings.DEBUG = False
    secret, _codes = enrolled
    admin_sign_in(client)
    client.post("/account/2fa/authenticate/", {"code": totp_code(secret)})
    client.post("/account/reauthenticate/", {"password": PASSWORD})

    response = client.post("/account/2fa/totp/deactivate/")

    assert "Superusers keep two-factor sign-in on." in response.content.decode()
    assert Authenticator.objects.filter(user=superuser, type=Authenticator.Type.TOTP).exists()


def test_the_admins_change_password_is_the_accounts_limited_page(client, superuser, settings):
    settings.DEBUG = True
    admin_sign_in(client)

    assert client.get("/admin/password_change/")["Location"] == "/account/password/change/"


def test_ensure_staff_prints_a_sign_in_that_works(client, settings):
    settings.DEBUG = False
    out = StringIO()

    call_command("ensure_staff", stdout=out)

    printed = re.search(r"email '([^']+)', password '([^']+)'", out.getvalue())
    assert printed, out.getvalue()
    assert "authenticator app" in out.getvalue()
    response = admin_sign_in(client, printed[1], printed[2])
    assert response["Location"] == "/account/2fa/totp/activate/" and signed_in(client)


@pytest.mark.django_db(transaction=True)  # allauth mails the notice after commit, within the request
def test_the_two_factor_pages_and_emails_are_in_the_stores_look(client, superuser, settings):
    from django.core import mail

    settings.DEBUG = False
    admin_sign_in(client)
    page = client.get("/account/2fa/totp/activate/").content.decode()
    secret = SECRET.search(page)[1]
    assert 'class="site-header"' in page and 'class="account-nav"' in page
    assert html_tags(page, "a", href="/account/2fa/")  # staff find it in their account menu
    client.post("/account/2fa/totp/activate/", {"code": totp_code(secret)})

    for url, text in [("/account/2fa/", "Two-factor sign-in"), ("/account/2fa/recovery-codes/", "Recovery codes"),
                      ("/account/2fa/recovery-codes/generate/", "Make new recovery codes"),
                      ("/account/2fa/reauthenticate/", "enter the code your authenticator app shows"),
                      ("/account/reauthenticate/", "Use authenticator app or code")]:
        page = client.get(url).content.decode()
        assert text in page and 'class="site-header"' in page, url
    message = mail.outbox[-1]
    assert message.subject == "Two-factor sign-in turned on at Northwind Supply"
    assert "Two-factor sign-in was turned on" in message.body
    assert "Two-factor sign-in was turned on" in message.alternatives[0][0]


def test_shoppers_account_menu_does_not_offer_it(client):
    from .helpers import verified_account

    user, _customer = verified_account("shopper@example.com")
    client.force_login(user)

    assert not html_tags(client.get("/account/").content, "a", href="/account/2fa/")


def test_a_staff_members_authenticator_is_read_and_removed_in_the_back_office_never_edited(admin_app, django_user_model):
    # allauth's own admin showed the app's secret in an editable box, and saving the page
    # unchanged failed ("last used" is required) for an app never used yet.
    staff = django_user_model.objects.create_user("clerk", "clerk@example.com", None, is_staff=True)
    secret = generate_totp_secret()
    TOTP.activate(staff, secret)
    authenticator = Authenticator.objects.get(user=staff)
    change = f"/admin/mfa/authenticator/{authenticator.pk}/change/"

    page = admin_app.get(change)

    assert secret not in page.text
    assert "clerk" in page.text
    assert "_save" not in page.forms["authenticator_form"].fields
    assert admin_app.get("/admin/mfa/authenticator/add/", expect_errors=True).status_code == 403
    # A lost phone: the app is removed, and the staff member sets up a new one at the next sign-in.
    confirm = admin_app.get(f"/admin/mfa/authenticator/{authenticator.pk}/delete/")
    next(form for form in confirm.forms.values() if "post" in form.fields).submit()
    assert not Authenticator.objects.filter(user=staff).exists()
