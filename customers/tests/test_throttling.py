"""Limits on guessing passwords (customers/signin.py; settings: 10/m and 100/h per address, 5 per
5 minutes per account or per known device).

The counters live in Django's cache (Redis on the services pass); the suite's autouse fixture
clears it around every test.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from allauth.core.internal import ratelimit
from django.test import Client

from customers.models import Activity
from customers.signin import DEVICE_COOKIE

from .helpers import PASSWORD, RESET_LINK, link_in_last_email, sign_in, verified_account

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed sign-ins to this account."
ADDRESS_LOCKED = "Too many failed sign-ins from your network."
BASE_DIR = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def account():
    return verified_account("locked@example.com")


def browser(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def later(monkeypatch, seconds: float) -> None:
    """Move the limits' clock on by `seconds` (the counters keep each attempt's time)."""
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(
        time=lambda: time.time() + seconds, monotonic=time.monotonic, sleep=time.sleep,
    ))


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(client, account):
    user, customer = account
    for _attempt in range(5):
        response = sign_in(client, "locked@example.com", "wrong password")
        assert response.status_code == 200 and LOCKED not in response.content.decode()

    response = sign_in(client, "Locked@Example.com", PASSWORD)

    assert response.status_code == 200
    assert LOCKED in response.content.decode() and "reset your password" in response.content.decode()
    assert not signed_in(client)
    assert customer.activities.filter(kind=Activity.Kind.SIGN_IN_FAILED).count() == 5


def test_the_account_lock_holds_from_another_address_and_leaves_other_accounts_alone(client, account):
    for _attempt in range(5):
        sign_in(client, "locked@example.com", "wrong password")
    elsewhere = browser("10.9.8.7")

    assert LOCKED in sign_in(elsewhere, "locked@example.com", PASSWORD).content.decode()
    verified_account("free@example.com")
    assert sign_in(elsewhere, "free@example.com", PASSWORD)["Location"] == "/account/"


def test_the_lock_lifts_when_the_window_passes(client, account, monkeypatch):
    for _attempt in range(5):
        sign_in(client, "locked@example.com", "wrong password")
    assert LOCKED in sign_in(client, "locked@example.com", PASSWORD).content.decode()

    later(monkeypatch, 5 * 60 + 1)

    assert sign_in(client, "locked@example.com", PASSWORD)["Location"] == "/account/"


def test_ten_failures_from_one_address_lock_it_out_for_every_account(client, account):
    for n in range(10):
        response = sign_in(client, f"nobody{n}@example.com", "wrong password")
        assert ADDRESS_LOCKED not in response.content.decode()

    response = sign_in(client, "locked@example.com", PASSWORD)

    assert ADDRESS_LOCKED in response.content.decode() and not signed_in(client)
    # Another address is not affected.
    assert sign_in(browser("10.1.2.3"), "locked@example.com", PASSWORD)["Location"] == "/account/"


def test_an_address_guessing_slowly_across_accounts_is_stopped_by_the_hourly_limit(account, monkeypatch, settings):
    from django.conf import settings as configured

    # The default allows 10 a minute and 100 an hour; the same rule at a tenth (and a fifth) of the
    # size keeps the test quick: each failure costs a password hash.
    assert configured.ACCOUNT_RATE_LIMITS["login_failed_ip"] == "10/m/ip,100/h/ip"
    settings.ACCOUNT_RATE_LIMITS = {**configured.ACCOUNT_RATE_LIMITS, "login_failed_ip": "2/m/ip,5/h/ip"}
    guesser = browser("203.0.113.50")
    for minute, guesses in enumerate([2, 2, 1]):
        later(monkeypatch, minute * 61)
        for n in range(guesses):
            assert ADDRESS_LOCKED not in sign_in(guesser, f"p{minute}-{n}@example.com", "guess").content.decode()

    response = sign_in(guesser, "locked@example.com", PASSWORD)

    assert ADDRESS_LOCKED in response.content.decode() and not signed_in(guesser)
    assert sign_in(browser("203.0.113.51"), "locked@example.com", PASSWORD)["Location"] == "/account/"


def test_a_stranger_guessing_from_many_addresses_cannot_stop_the_owner_on_their_own_browser(account):
    # The owner signed in on their laptop some time ago (and signed out since).
    laptop = browser("198.51.100.4")
    assert sign_in(laptop, "locked@example.com", PASSWORD)["Location"] == "/account/"
    laptop.post("/account/logout/")
    assert laptop.cookies[DEVICE_COOKIE].value

    # A stranger guesses from thirty addresses: the account's budget for strangers is gone.
    for n in range(30):
        sign_in(browser(f"192.0.2.{n + 1}"), "locked@example.com", f"guess {n}")
    assert LOCKED in sign_in(browser("192.0.2.200"), "locked@example.com", PASSWORD).content.decode()

    # The owner's laptop still signs in, and only five attempts from the stranger were checked.
    assert sign_in(laptop, "locked@example.com", PASSWORD)["Location"] == "/account/"
    assert account[1].activities.filter(kind=Activity.Kind.SIGN_IN_FAILED).count() == 5


def test_a_known_browser_has_its_own_budget_then_counts_as_a_stranger(account, monkeypatch):
    laptop = browser("198.51.100.4")
    sign_in(laptop, "locked@example.com", PASSWORD)
    laptop.post("/account/logout/")

    for _attempt in range(5):
        assert LOCKED not in sign_in(laptop, "locked@example.com", "typo").content.decode()
    # Its own five used up, the laptop falls back to the strangers' budget, still untouched ...
    assert sign_in(laptop, "locked@example.com", PASSWORD)["Location"] == "/account/"
    # ... which its next mistakes then use up (after five more of its own: each sign-in renews the
    # browser's budget), for everybody without a known browser.
    laptop.post("/account/logout/")
    later(monkeypatch, 61)  # past the per-address limit of ten a minute
    for _attempt in range(10):
        assert ADDRESS_LOCKED not in sign_in(laptop, "locked@example.com", "typo").content.decode()
    assert LOCKED in sign_in(browser("10.7.7.7"), "locked@example.com", PASSWORD).content.decode()


def test_a_forged_or_borrowed_device_cookie_counts_as_a_stranger(account):
    verified_account("other@example.com")
    others_browser = browser("198.51.100.9")
    assert sign_in(others_browser, "other@example.com", PASSWORD)["Location"] == "/account/"
    borrowed = others_browser.cookies[DEVICE_COOKIE].value
    for n in range(5):
        sign_in(browser(f"192.0.2.{n + 1}"), "locked@example.com", "guess")

    with_borrowed = browser("192.0.2.100")
    with_borrowed.cookies[DEVICE_COOKIE] = borrowed
    forged = browser("192.0.2.101")
    forged.cookies[DEVICE_COOKIE] = borrowed[:-3] + "abc"

    assert LOCKED in sign_in(with_borrowed, "locked@example.com", PASSWORD).content.decode()
    assert LOCKED in sign_in(forged, "locked@example.com", PASSWORD).content.decode()


def test_a_password_reset_lets_the_owner_in_from_a_new_browser(account):
    for n in range(5):
        sign_in(browser(f"192.0.2.{n + 1}"), "locked@example.com", "guess")
    phone = browser("198.51.100.20")
    assert LOCKED in sign_in(phone, "locked@example.com", PASSWORD).content.decode()

    phone.post("/account/password/reset/", {"email": "locked@example.com"})
    key_url = phone.get(link_in_last_email(RESET_LINK, "locked@example.com"))["Location"]
    phone.post(key_url, {"password1": "a new long passphrase", "password2": "a new long passphrase"})

    assert sign_in(phone, "locked@example.com", "a new long passphrase")["Location"] == "/account/"


def test_a_password_reset_does_not_clear_the_count_of_the_address_it_came_from(monkeypatch):
    """allauth clears `login_failed` after a reset; the per-address count is kept apart, so a
    guesser cannot reset their own account's password to go on guessing at others'."""
    verified_account("guesser@example.com")
    guesser = browser("203.0.113.7")
    for n in range(9):
        sign_in(guesser, f"victim{n}@example.com", "guess")

    guesser.post("/account/password/reset/", {"email": "guesser@example.com"})
    key_url = guesser.get(link_in_last_email(RESET_LINK, "guesser@example.com"))["Location"]
    guesser.post(key_url, {"password1": "a new long passphrase", "password2": "a new long passphrase"})
    assert ADDRESS_LOCKED not in sign_in(guesser, "victim9@example.com", "guess").content.decode()

    assert ADDRESS_LOCKED in sign_in(guesser, "victim10@example.com", "guess").content.decode()


def test_the_sites_other_host_names_share_the_accounts_budget(account):
    """allauth's own key names the request's host: each name the site answers to (a wildcard in
    ALLOWED_HOSTS: any number) would have given a guesser five more tries."""
    for n in range(5):
        Client(REMOTE_ADDR=f"192.0.2.{n + 1}", HTTP_HOST="127.0.0.1").post(
            "/account/login/", {"login": "locked@example.com", "password": "guess"})

    response = Client(REMOTE_ADDR="192.0.2.9", HTTP_HOST="localhost").post(
        "/account/login/", {"login": "locked@example.com", "password": PASSWORD})

    assert LOCKED in response.content.decode()


def test_re_entering_the_password_counts_too(client, account):
    user, _customer = account
    client.force_login(user)
    for _attempt in range(5):
        client.post("/account/reauthenticate/", {"password": "wrong", "next": "/account/email/"})

    response = client.post("/account/reauthenticate/", {"password": PASSWORD, "next": "/account/email/"})

    assert response.status_code == 200 and LOCKED in response.content.decode()


def test_password_reset_emails_are_limited_per_account_and_per_address(account):
    for n in range(5):
        assert browser(f"192.0.2.{n + 1}").post(
            "/account/password/reset/", {"email": "locked@example.com"}).status_code == 302

    refused = browser("192.0.2.50").post("/account/password/reset/", {"email": "locked@example.com"})

    assert refused.status_code == 429 and "Too many attempts" in refused.content.decode()
    assert 'class="site-header"' in refused.content.decode()  # the store's page, not a bare one
    one_address = browser("203.0.113.8")
    answers = [one_address.post("/account/password/reset/", {"email": f"p{n}@example.com"}).status_code
               for n in range(21)]
    assert answers == [302] * 20 + [429]


def test_behind_a_proxy_each_shopper_is_counted_by_their_own_address(account, settings):
    """Behind a load balancer every request comes from its address: unless the proxy is trusted
    (TRUSTED_PROXY_COUNT), ten failures anywhere would lock every shopper out of signing in."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    user, customer = account
    attacker = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    for n in range(10):
        sign_in(attacker, f"nobody{n}@example.com", "wrong password")
    assert ADDRESS_LOCKED in sign_in(attacker, "locked@example.com", PASSWORD).content.decode()

    shopper = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert sign_in(shopper, "locked@example.com", PASSWORD)["Location"] == "/account/"
    sign_in(Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7"), "locked@example.com", "wrong")
    assert customer.activities.get(kind=Activity.Kind.SIGN_IN_FAILED).data["ip"] == "198.51.100.7"


def test_a_wrong_password_for_an_unknown_address_records_nothing(client, account):
    sign_in(client, "stranger@example.com", "wrong password")

    assert not Activity.objects.filter(kind=Activity.Kind.SIGN_IN_FAILED).exists()


def test_the_trusted_proxy_count_comes_from_the_environment():
    from django.conf import settings

    assert settings.ALLAUTH_TRUSTED_PROXY_COUNT == 0  # the default: no proxy, REMOTE_ADDR is the shopper


@pytest.mark.redis
def test_every_worker_sees_the_same_counts(client, account, settings):
    """Several gunicorn workers must share the counts, or each gives a guesser its own five tries:
    five failures counted here refuse the sixth in another process reading the same Redis."""
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    for _attempt in range(5):
        sign_in(client, "locked@example.com", "wrong password")
    probe = (
        "import django; django.setup()\n"
        "from django.test import RequestFactory\n"
        "from customers import signin\n"
        "request = RequestFactory().post('/account/login/', REMOTE_ADDR='10.20.30.40')\n"
        "try:\n"
        "    signin.consume_password_attempt(request, login='locked@example.com'); print('allowed')\n"
        "except signin.TooManyAttempts as refused:\n"
        "    print('refused', refused.limit)\n"
    )

    worker = subprocess.run(
        [sys.executable, "-c", probe], cwd=BASE_DIR, capture_output=True, text=True, timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "shop.settings"}, stdin=subprocess.DEVNULL,
    )

    assert worker.stdout.split() == ["refused", "account"], worker.stderr
