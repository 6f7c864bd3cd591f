"""A shopper's account in a real Chromium: sign up, verify through the emailed link, add an
address, buy with it, find the order in the history; then staff open that customer in the back
office, see the order and add a note.

Playwright drives Debian's Chromium against pytest-django's live server (same process, so the
locmem outbox holds the emails the store sent). Every wait is on a condition, never on a clock.
"""
import re

import pytest
from django.core import mail

from checkout.tests.conftest import shipping  # noqa: F401  (the shipping rules fixture)
from conftest import sign_in_to_admin
from customers.models import Customer, Note
from orders.models import Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LINK = re.compile(r"https?://[^\s\"'<>]+/account/confirm-email/[^\s\"'<>]+")


def test_sign_up_verify_add_an_address_buy_and_staff_see_it(new_page, storefront_catalog, shipping,
                                                           django_user_model):
    from playwright.sync_api import expect

    page = new_page()
    # Sign up.
    page.goto("/account/signup/")
    page.locator("#id_email").fill("ada@example.com")
    page.locator("#id_password1").fill("analytical-engine-1843")
    page.locator("#id_password2").fill("analytical-engine-1843")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("h1")).to_contain_text(re.compile("check your email|verify", re.I))
    assert not Customer.objects.filter(email="ada@example.com").exists()  # nothing before verification

    # Verify through the emailed link: the confirmation page, then signed in.
    [message] = [m for m in mail.outbox if m.to == ["ada@example.com"]]
    link = LINK.search(message.body)[0]
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()
    page.goto("/account/")
    expect(page.locator("body")).to_contain_text("ada@example.com")
    customer = Customer.objects.get(email="ada@example.com")
    assert customer.user.email == "ada@example.com"

    # Add an address to the address book, as the default for shipping.
    page.goto("/account/addresses/new/")
    page.locator("#id_name").fill("Ada Lovelace")
    page.locator("#id_line1").fill("12 Analytical Row")
    page.locator("#id_city").fill("Springfield")
    page.locator("#id_region").fill("IL")
    page.locator("#id_postal_code").fill("62701")
    page.locator("#id_country").select_option("US")
    page.get_by_label("Use as my default shipping address").check()
    page.get_by_role("button", name="Save address").click()
    expect(page.locator("body")).to_contain_text("12 Analytical Row")

    # Buy: checkout is filled from the account and the address book.
    page.goto("/p/camp-lamp/")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#mini-cart .cart-count")).to_have_attribute("data-count", "1")
    page.goto("/checkout/")
    expect(page.get_by_label("Email")).to_have_value("ada@example.com")
    expect(page.locator("#id_shipping-line1")).to_have_value("12 Analytical Row")
    expect(page.locator("#delivery-options")).to_contain_text("Standard")
    page.locator("#delivery-options label", has_text="Standard").click()
    page.get_by_role("button", name="Continue to review").click()
    page.get_by_role("button", name="Place order").click()
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label(re.compile("Expiry")).fill("12/40")
    page.get_by_label(re.compile("Security code")).fill("123")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.locator("h1")).to_have_text("Thank you for your order")
    order = Order.objects.get()
    assert (order.customer, order.user, order.payment_status) == (customer, customer.user, Order.PaymentStatus.PAID)
    assert order.shipping_address["line1"] == "12 Analytical Row"

    # The order history shows it.
    page.goto("/orders/")
    expect(page.locator("body")).to_contain_text(order.number)

    # Staff open the customer in the back office, see the order, and add a note.
    admin = sign_in_to_admin(new_page, django_user_model)
    admin.goto(f"/admin/customers/customer/{customer.pk}/change/")
    expect(admin.locator("body")).to_contain_text(order.number)
    add_note(admin, "Asked about gift wrapping for the lamp.")
    expect(admin.locator("body")).to_contain_text("Asked about gift wrapping for the lamp.")
    note = Note.objects.get(customer=customer)
    assert note.author.username == "staff"


def add_note(admin, text: str) -> None:
    """Fill and send the note form on the customer page."""
    admin.locator("#note-form textarea").fill(text)
    admin.get_by_role("button", name="Add note").click()
