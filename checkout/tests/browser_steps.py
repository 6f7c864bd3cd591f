"""Checkout steps a browser test takes the same way each time (Playwright pages)."""
from __future__ import annotations

import re


def enter_us_details(page, *, email: str, name: str) -> None:
    """From /checkout/: a guest's email and a Portland, OR address, Standard delivery, Continue."""
    page.get_by_label("Email").fill(email)
    page.locator("#id_shipping-name").fill(name)
    page.locator("#id_shipping-line1").fill("12 Harbour Road")
    page.locator("#id_shipping-city").fill("Portland")
    page.locator("#id_shipping-region").fill("OR")
    page.locator("#id_shipping-postal_code").fill("97201")
    page.locator("#delivery-options label", has_text="Standard").click()
    page.get_by_role("button", name="Continue to review").click()


def pay_with_demo_card(page) -> None:
    """On the demo payment page: the test card that succeeds, then Pay."""
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label(re.compile("Expiry")).fill("12/40")
    page.get_by_label(re.compile("Security code")).fill("123")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
