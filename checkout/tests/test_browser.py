"""A guest buys in a real Chromium: cart, checkout, demo card, confirmation, order page; a declined
card; and staff shipping the order in the back office, which the shopper then sees.

Playwright drives Debian's Chromium (never a downloaded one) against pytest-django's live server.
Every wait is on a condition (Playwright's auto-waiting `expect`), never on a clock.
"""
import re

import pytest

from conftest import sign_in_to_admin
from orders.models import Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shop_and_check_out(page, card: str):
    """Add the lamp and the shell, make it two lamps, check out with `card`; return the page after paying."""
    from playwright.sync_api import expect

    mini_cart = page.locator("#mini-cart")
    page.goto("/p/camp-lamp/")
    page.get_by_role("button", name="Add to cart").click()
    expect(mini_cart.locator(".cart-count")).to_have_attribute("data-count", "1")
    page.goto("/p/storm-shell/")
    expect(page.locator("#product-purchase")).to_contain_text("SHELL-RED-S")
    page.get_by_role("button", name="Add to cart").click()
    expect(mini_cart.locator(".cart-count")).to_have_attribute("data-count", "2")

    mini_cart.click()
    expect(page.locator("#cart-subtotal")).to_have_text("$155.00")
    lamp = page.locator('.cart-line[data-sku="LAMP-1"]')
    lamp.get_by_label(re.compile("Quantity")).fill("2")
    # Tab, not Enter: Enter fires both the form's "change" and "submit" triggers, two POSTs at once
    # (reported to the cart's owner), which the live server's shared SQLite answers with a lock error.
    lamp.get_by_label(re.compile("Quantity")).press("Tab")
    expect(page.locator("#cart-subtotal")).to_have_text("$190.00")

    page.get_by_role("link", name="Checkout").click()
    expect(page).to_have_url(re.compile(r"/checkout/$"))
    page.get_by_label("Email").fill("guest@example.com")
    page.locator("#id_shipping-name").fill("Grace Guest")
    page.locator("#id_shipping-line1").fill("12 Harbour Road")
    page.locator("#id_shipping-city").fill("Portland")
    page.locator("#id_shipping-region").fill("OR")
    page.locator("#id_shipping-postal_code").fill("97201")
    # Changing the country refreshes the delivery options in place (htmx); back to the US.
    page.locator("#id_shipping-country").select_option("JP")
    expect(page.locator("#delivery-options")).to_contain_text("We do not deliver to this country yet")
    page.locator("#id_shipping-country").select_option("DE")
    expect(page.locator("#delivery-options")).to_contain_text("$12.00")
    page.locator("#id_shipping-country").select_option("US")
    expect(page.locator("#delivery-options")).to_contain_text("Standard")
    page.locator("#delivery-options label", has_text="Express").click()
    page.get_by_role("button", name="Continue to review").click()

    expect(page).to_have_url(re.compile(r"/checkout/review/$"))
    expect(page.locator("#review-shipping")).to_have_text("$15.00")  # shipping: checkout/tests/conftest.py
    expect(page.locator("#review-total")).to_have_text("$205.00")
    page.get_by_role("button", name="Place order").click()

    expect(page.locator("#demo-notice")).to_be_visible()
    page.get_by_label("Card number").fill(card)
    page.get_by_label(re.compile("Expiry")).fill("12/40")
    page.get_by_label(re.compile("Security code")).fill("123")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()


def test_a_guest_checks_out_pays_and_staff_ship_the_order(new_page, storefront_catalog, shipping, django_user_model):
    from playwright.sync_api import expect

    page = new_page()
    shop_and_check_out(page, "4242 4242 4242 4242")

    expect(page.locator("h1")).to_have_text("Thank you for your order")
    order = Order.objects.get()
    expect(page.locator(".order-number")).to_have_text(order.number)
    expect(page.locator("#order-status")).to_have_attribute("data-payment-status", "paid")
    page.get_by_role("link", name="View your order").click()
    expect(page.locator("h1")).to_contain_text(order.number)
    order_url = page.url
    assert order.total == 205 and order.payment_status == Order.PaymentStatus.PAID

    # Staff ship it from the back office, with a tracking number.
    admin = sign_in_to_admin(new_page, django_user_model)
    admin.goto(f"/admin/orders/order/{order.pk}/change/")
    admin.locator("#ship-link").click()
    admin.get_by_label("Carrier").fill("UPS")
    admin.get_by_label("Tracking number").fill("1Z999AA10123456784")
    admin.get_by_role("button", name="Create shipment").click()
    expect(admin.locator(".messagelist")).to_be_visible()

    # The shopper's order page shows it.
    page.goto(order_url)
    expect(page.locator(".shipment-tracking-number")).to_have_text("1Z999AA10123456784")
    order.refresh_from_db()
    assert order.fulfilment_status == Order.FulfilmentStatus.FULFILLED


def test_a_declined_card_says_so_and_leaves_no_paid_order(new_page, storefront_catalog, shipping):
    from playwright.sync_api import expect

    page = new_page()
    shop_and_check_out(page, "4000 0000 0000 0002")

    expect(page.locator("#payment-error")).to_contain_text(re.compile("declined", re.I))
    assert not Order.objects.exclude(payment_status=Order.PaymentStatus.UNPAID).exists()
    assert Order.objects.count() == 1
