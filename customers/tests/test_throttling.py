"""allauth's login_failed rate limits (settings: 10/m per IP, 5 per 5 minutes per account).

The counters live in the cache; the suite's autouse fixture clears it around every test, and
the first test here proves the slate is clean.
"""
from __future__ import annotations

import pytest
from django.core.cache import cache

from customers.models import Activity

from .helpers import PASSWORD, sign_in, verified_account

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed login attempts. Try again later."


@pytest.fixture
def account():
    cache.clear()
    return verified_account("locked@example.com")


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(client, account):
    user, customer = account
    for _attempt in range(5):
        response = sign_in(client, "locked@example.com", "wrong password")
        assert response.status_code == 200 and LOCKED not in response.content.decode()

    response = sign_in(client, "Locked@Example.com", PASSWORD)

    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert customer.activities.filter(kind=Activity.Kind.SIGN_IN_FAILED).count() == 5


def test_the_account_lock_holds_from_another_address_and_leaves_other_accounts_alone(client, account):
    from django.test import Client

    for _attempt in range(5):
        sign_in(client, "locked@example.com", "wrong password")
    elsewhere = Client(REMOTE_ADDR="10.9.8.7")

    assert LOCKED in sign_in(elsewhere, "locked@example.com", PASSWORD).content.decode()
    verified_account("free@example.com")
    assert sign_in(elsewhere, "free@example.com", PASSWORD)["Location"] == "/account/"


def test_ten_failures_from_one_address_lock_it_out_for_every_account(client, account):
    for n in range(10):
        response = sign_in(client, f"nobody{n}@example.com", "wrong password")
        assert LOCKED not in response.content.decode()

    response = sign_in(client, "locked@example.com", PASSWORD)

    assert LOCKED in response.content.decode() and "_auth_user_id" not in client.session
    # Another address is not affected.
    from django.test import Client

    assert sign_in(Client(REMOTE_ADDR="10.1.2.3"), "locked@example.com", PASSWORD)["Location"] == "/account/"


def test_a_wrong_password_for_an_unknown_address_records_nothing(client, account):
    sign_in(client, "stranger@example.com", "wrong password")

    assert not Activity.objects.filter(kind=Activity.Kind.SIGN_IN_FAILED).exists()


def test_behind_a_proxy_each_shopper_is_counted_by_their_own_address(account, settings):
    """Behind a load balancer every request comes from its address: unless the proxy is trusted
    (TRUSTED_PROXY_COUNT), ten failures anywhere would lock every shopper out of signing in."""
    from django.test import Client

    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    user, customer = account
    attacker = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    for n in range(10):
        sign_in(attacker, f"nobody{n}@example.com", "wrong password")
    assert LOCKED in sign_in(attacker, "locked@example.com", PASSWORD).content.decode()

    shopper = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert sign_in(shopper, "locked@example.com", PASSWORD)["Location"] == "/account/"
    sign_in(Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7"), "locked@example.com", "wrong")
    assert customer.activities.get(kind=Activity.Kind.SIGN_IN_FAILED).data["ip"] == "198.51.100.7"


def test_the_trusted_proxy_count_comes_from_the_environment():
    from django.conf import settings

    assert settings.ALLAUTH_TRUSTED_PROXY_COUNT == 0  # the default: no proxy, REMOTE_ADDR is the shopper
