"""Every shopper page fits a phone: at 375 and 320 CSS pixels wide nothing is wider than the
screen (checkout's review was 396 px wide on a 375 px phone, its Total column cut off).

Real Chromium, the shopper of journey.py: long product names, a long address, five- and six-figure
amounts."""
from __future__ import annotations

import re

import pytest

from .journey import ENTRANCE_PAGES, account_pages, refill_cart, shopper_with_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (375, 320)


def overflow(tab) -> int:
    """How many CSS pixels the page is wider than the window (0 when it fits)."""
    return tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_every_shopper_page_fits_a_phone(new_page, storefront_catalog, shipping):
    from playwright.sync_api import expect

    history = shopper_with_history(storefront_catalog)
    too_wide: dict[str, int] = {}
    for width in WIDTHS:
        viewport = {"width": width, "height": 740}
        visitor = new_page(viewport=viewport)
        for name, path in ENTRANCE_PAGES.items():
            visitor.goto(path)
            too_wide[f"{name} @{width}"] = overflow(visitor)

        tab = new_page(viewport=viewport)
        tab.goto("/account/login/")
        tab.locator("#id_login").fill(history.email)
        tab.locator("#id_password").fill(history.password)
        tab.locator("form.account-form button[type=submit]").click()
        expect(tab.locator("h1")).not_to_have_text("Sign in")
        for name, path in account_pages(history).items():
            tab.goto(path)
            too_wide[f"{name} @{width}"] = overflow(tab)

        # Checkout's review, reached as a shopper does: the details come from the address book.
        tab.goto("/checkout/")
        tab.locator("#delivery-options label", has_text="Express").click()
        tab.get_by_role("button", name="Continue to review").click()
        expect(tab.locator("h1")).to_have_text("Review your order")
        too_wide[f"checkout review @{width}"] = overflow(tab)
        # The payment step (the demo card form) and the "thank you" page after paying.
        tab.get_by_role("button", name="Place order").click()
        expect(tab.get_by_label("Card number")).to_be_visible()
        too_wide[f"payment @{width}"] = overflow(tab)
        tab.get_by_label("Card number").fill("4242 4242 4242 4242")
        tab.get_by_label(re.compile("Expiry")).fill("12/40")
        tab.get_by_label(re.compile("Security code")).fill("123")
        tab.get_by_role("button", name=re.compile(r"^Pay ")).click()
        expect(tab.locator("h1")).to_have_text("Thank you for your order")
        too_wide[f"thank you @{width}"] = overflow(tab)
        history = refill_cart(history)

    assert {page: pixels for page, pixels in too_wide.items() if pixels > 0} == {}
    assert len(too_wide) == len(WIDTHS) * (len(ENTRANCE_PAGES) + len(account_pages(history)) + 3)
