"""A guest pays part of an order with a gift card and the rest with the demo card, in a real
Chromium; the review page, the order page and the "payment received" email show both.

Same set-up as checkout/tests/test_browser.py (Debian's Chromium through conftest's new_page;
every wait is Playwright's auto-waiting `expect`, never a clock).
"""
from decimal import Decimal

import pytest
from django.core import mail

from checkout.tests.browser_steps import enter_us_details, pay_with_demo_card
from giftcards.models import GiftCard
from orders.models import Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_guest_pays_part_with_a_gift_card_and_the_rest_with_the_demo_card(new_page, storefront_catalog,
                                                                              checkout_rules, issue):
    from playwright.sync_api import expect

    card, code = issue("25.00")
    page = new_page()
    page.goto("/p/camp-lamp/")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#mini-cart .cart-count")).to_have_attribute("data-count", "1")
    page.goto("/checkout/")
    enter_us_details(page, email="guest@example.com", name="Grace Guest")
    expect(page.locator("#review-total")).to_have_text("$40.00")

    page.get_by_label("Gift card code").fill("wrong-code")
    page.get_by_role("region", name="Gift cards").get_by_role("button", name="Apply").click()
    expect(page.locator("body")).to_contain_text("We could not find a gift card with this code")
    page.get_by_label("Gift card code").fill(code.lower())
    page.get_by_role("region", name="Gift cards").get_by_role("button", name="Apply").click()
    expect(page.locator(".gift-card-applied")).to_contain_text("−$25.00")
    expect(page.locator("#review-due")).to_have_text("$15.00")
    page.get_by_role("button", name="Place order").click()

    expect(page.locator("#demo-notice")).to_be_visible()
    expect(page.locator("body")).to_contain_text("$15.00")
    pay_with_demo_card(page)

    expect(page.locator("h1")).to_have_text("Thank you for your order")
    page.get_by_role("link", name="View your order").click()
    instruments = page.locator("#order-instruments")
    expect(instruments.locator('[data-provider="gift_card"]')).to_contain_text("$25.00")
    expect(instruments.locator('[data-provider="demo"]')).to_contain_text("$15.00")
    order = Order.objects.get()
    assert order.payment_status == Order.PaymentStatus.PAID
    assert GiftCard.objects.get(pk=card.pk).balance == Decimal("0.00")
    [received] = [m for m in mail.outbox if order.number in m.subject and "ayment" in m.subject]
    assert "$25.00" in received.body and "Demo (test cards): $15.00" in received.body


def test_a_guest_buys_a_gift_card_for_a_friend_without_giving_a_shipping_address(new_page, storefront_catalog,
                                                                                 checkout_rules, gift_card_product):
    """Gift cards only: the details page asks for no address and no delivery; the card is emailed
    to the friend once the demo card has paid; the order is fulfilled without a shipment."""
    from playwright.sync_api import expect

    page = new_page()
    page.goto("/p/gift-card-25/")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#mini-cart .cart-count")).to_have_attribute("data-count", "1")
    page.goto("/checkout/")
    expect(page.get_by_role("heading", name="Billing details")).to_be_visible()
    expect(page.locator("#id_shipping-line1")).to_have_count(0)
    expect(page.locator("#delivery-options")).to_have_count(0)
    page.get_by_label("Email").fill("guest@example.com")
    page.locator("#id_billing-name").fill("Grace Guest")
    page.get_by_role("button", name="Continue to review").click()

    expect(page.locator("#review-total")).to_have_text("$25.00")
    expect(page.locator("#review-shipping")).to_have_count(0)
    page.get_by_label("Recipient's email").fill("friend@example.com")
    page.locator("#id_message").fill("Enjoy!")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("body")).to_contain_text("Sent to friend@example.com")
    page.get_by_role("button", name="Place order").click()
    pay_with_demo_card(page)

    expect(page.locator("h1")).to_have_text("Thank you for your order")
    order = Order.objects.get()
    assert (order.payment_status, order.fulfilment_status) == ("paid", "fulfilled")
    assert order.shipping_address == {} and not order.shipments.exists()
    card = GiftCard.objects.get(order=order)
    assert card.is_active and card.balance == Decimal("25.00") and card.delivered_at is not None
    [gift] = [m for m in mail.outbox if m.to == ["friend@example.com"]]
    assert "Enjoy!" in gift.body and card.last4 in gift.body
