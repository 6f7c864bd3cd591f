"""A shopper applies a discount code in the cart, sees the discount, pays part with a gift card and
the rest with the demo card, in a real Chromium; the order page and the emails show the discount
and the instruments (the confirmation, sent at placement, the gift card; "payment received" both).

Same set-up as giftcards/tests/test_browser.py and checkout/tests/test_browser.py (Debian's
Chromium through conftest's new_page; every wait is Playwright's auto-waiting `expect`, never a
clock).
"""
import re
from decimal import Decimal

import pytest
from django.core import mail

from checkout.tests.browser_steps import enter_us_details, pay_with_demo_card
from giftcards.models import GiftCard
from giftcards.tests.conftest import checkout_rules, issue, staff  # noqa: F401 (fixtures)
from orders.models import Order
from promotions.models import Promotion

from .factories import CodeFactory, PromotionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_shopper_applies_a_code_then_pays_with_a_gift_card_and_the_demo_card(new_page, storefront_catalog,
                                                                               checkout_rules, issue):  # noqa: F811
    from playwright.sync_api import expect

    promotion = PromotionFactory(name="Lamp week", trigger=Promotion.Trigger.CODE, value=Decimal("10"))
    promotion.products.add(storefront_catalog.lamp)
    CodeFactory(code="LAMP10", promotion=promotion)
    card, code = issue("25.00")

    page = new_page()
    page.goto("/p/camp-lamp/")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#mini-cart .cart-count")).to_have_attribute("data-count", "1")
    page.goto("/cart/")
    page.get_by_label("Discount code").fill("lamp 10")  # typed case and spaces do not matter
    page.locator("#promo-code").get_by_role("button", name="Apply").click()
    expect(page.locator("#promo-code")).to_contain_text("Applied.")
    expect(page.locator(".promo-discount")).to_contain_text("Lamp week")
    expect(page.locator(".promo-discount [data-discount]")).to_have_text("−$3.50")
    expect(page.locator("#cart-discounted")).to_have_text("$31.50")

    page.goto("/checkout/")
    enter_us_details(page, email="shopper@example.com", name="Sam Shopper")
    expect(page.locator(".promo-discount [data-discount]").first).to_have_text("−$3.50")
    expect(page.locator("#review-total")).to_have_text("$36.50")

    page.get_by_label("Gift card code").fill(code.lower())
    page.get_by_role("region", name="Gift cards").get_by_role("button", name="Apply").click()
    expect(page.locator(".gift-card-applied")).to_contain_text("−$25.00")
    expect(page.locator("#review-due")).to_have_text("$11.50")
    page.get_by_role("button", name="Place order").click()

    expect(page.locator("#demo-notice")).to_be_visible()
    expect(page.locator("body")).to_contain_text("$11.50")
    pay_with_demo_card(page)

    expect(page.locator("h1")).to_have_text("Thank you for your order")
    page.get_by_role("link", name="View your order").click()
    expect(page.locator(".order-line-discount")).to_have_text("Lamp week: −$3.50")
    expect(page.locator(".order-items .order-totals").first).to_contain_text("You saved$3.50")
    instruments = page.locator("#order-instruments")
    expect(instruments.locator('[data-provider="gift_card"]')).to_contain_text("$25.00")
    expect(instruments.locator('[data-provider="demo"]')).to_contain_text("$11.50")

    order = Order.objects.get()
    assert (order.payment_status, order.discount_total, order.total) == (
        Order.PaymentStatus.PAID, Decimal("3.50"), Decimal("36.50"))
    assert GiftCard.objects.get(pk=card.pk).balance == Decimal("0.00")
    emails = {m.subject: m.body for m in mail.outbox if order.number in m.subject}
    [confirmation] = [body for subject, body in emails.items() if "ayment" not in subject]
    [received] = [body for subject, body in emails.items() if "ayment" in subject]
    for body in (confirmation, received):
        assert "Lamp week: −$3.50" in body and "You saved: $3.50" in body
    # The confirmation leaves at placement, when the gift card has paid and the card not yet;
    # "payment received" follows the card and names both instruments.
    assert re.search(r"Paid with:\n- Gift card [^\n]*: \$25\.00\n\n", confirmation)
    assert "Paid by gift card: $25.00. Left to pay: $11.50." in confirmation
    assert "not paid yet" not in confirmation and "nothing was charged" not in confirmation
    assert re.search(r"Paid with:\n- Gift card [^\n]*: \$25\.00\n- Demo \(test cards\): \$11\.50\n", received)
