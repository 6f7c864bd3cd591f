"""A superuser's first sign-in to the back office in production mode, in a real Chromium: the
admin sends them to the store's sign-in page, then to set up an authenticator app (the key read
off the page, the code computed as the app would), recovery codes, the back office; the next
sign-in asks for a code.

Tests run with DEBUG off (pytest-django), as production does.
"""
import re

import pytest
from allauth.account.models import EmailAddress

from .helpers import totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_superuser_sets_up_two_factor_sign_in_then_signs_in_with_a_code(page, django_user_model, settings):
    from playwright.sync_api import expect

    settings.DEBUG = False
    user = django_user_model.objects.create_superuser(username="ops", email="ops@example.com",
                                                      password="a long admin passphrase")
    EmailAddress.objects.create(user=user, email="ops@example.com", verified=True, primary=True)

    page.goto("/admin/")
    expect(page.locator("h1")).to_have_text("Sign in")
    page.get_by_label("Email").fill("ops@example.com")
    page.get_by_label("Password").fill("a long admin passphrase")
    page.get_by_role("button", name="Sign in").click()

    # Sent to set up the app before anything else; the back office stays shut meanwhile.
    expect(page.locator("h1")).to_have_text("Set up an authenticator app")
    expect(page.locator(".messages")).to_contain_text("Superusers sign in with an authenticator app")
    page.goto("/admin/orders/order/")
    expect(page.locator("h1")).to_have_text("Set up an authenticator app")
    expect(page.locator(".mfa-qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Authenticator code").fill(totp_code(secret))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()

    expect(page.locator("h1")).to_have_text("Recovery codes")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="Continue to the back office").click()
    expect(page.locator("#user-tools")).to_contain_text("Two-factor sign-in")

    # Next time: password, then a code.
    page.get_by_role("button", name="Log out").click()
    page.goto("/admin/")
    page.get_by_label("Email").fill("ops@example.com")
    page.get_by_label("Password").fill("a long admin passphrase")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("Enter your code")
    page.get_by_label("Code").fill(totp_code(secret))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.locator("#user-tools")).to_be_visible()
