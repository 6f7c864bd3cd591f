"""The same address reads the same, line for line, everywhere the store writes it: checkout's
review, the order page, the confirmation email (HTML and text), the invoice and packing slip, the
back office's order and customer pages, and the shopper's address book (shop/addresses.py).

The address is French on purpose: France writes the company before the name and the postcode
before the city, which none of the four hand-written formats this replaced did everywhere."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from customers.models import Address, Customer
from notifications.services import send_order_email
from orders.links import signed_confirmation_url
from orders.models import Order

from .conftest import fill_cart
from .test_address_book import shopper  # noqa: F401  (the signed-in shopper fixture)
from .test_views import to_review

pytestmark = pytest.mark.django_db

EXPECTED = ["Lumière & Fils", "Ada Lovelace", "12 rue de Rivoli", "Bâtiment B", "75001 Paris", "France"]


def address_blocks(html: bytes | str) -> dict[str, list[str]]:
    """Every `<address>` element's lines (split at <br>), keyed by its id (or its order: "0", "1")."""
    blocks: dict[str, list[str]] = {}

    class Reader(HTMLParser):
        current: list[str] | None = None
        key = ""

        def handle_starttag(self, tag, attrs):
            if tag == "address":
                self.key, self.current = dict(attrs).get("id") or str(len(blocks)), [""]
            elif tag == "br" and self.current is not None:
                self.current.append("")

        def handle_endtag(self, tag):
            if tag == "address" and self.current is not None:
                blocks[self.key] = [" ".join(line.split()) for line in self.current if line.strip()]
                self.current = None

        def handle_data(self, data):
            if self.current is not None:
                self.current[-1] += data

    reader = Reader(convert_charrefs=True)
    reader.feed(html.decode() if isinstance(html, bytes) else html)
    return blocks


def test_one_address_reads_the_same_in_every_place(client, storefront_catalog, shipping, shopper):  # noqa: F811
    # given a shopper who orders to a French address and saves it to their book
    fill_cart(client, ("LAMP-1", 1))
    key = to_review(client, shipping, method="eu", save_address="1", **{
        "shipping-company": "Lumière & Fils", "shipping-name": "Ada Lovelace", "shipping-line1": "12 rue de Rivoli",
        "shipping-line2": "Bâtiment B", "shipping-city": "Paris", "shipping-region": "",
        "shipping-postal_code": "75001", "shipping-country": "FR",
    })
    review = client.get("/checkout/review/")
    client.post("/checkout/place/", {"idempotency_key": key})
    order = Order.objects.get()
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("boss", "boss@example.com", None))

    # when each place shows it
    places = {
        "checkout review": address_blocks(review.content)["review-shipping-address"],
        "order page": address_blocks(client.get(signed_confirmation_url(order)).content)["order-shipping-address"],
        "address book": address_blocks(client.get(reverse("customers:addresses")).content)["0"],
        "invoice": address_blocks(staff.get(reverse("admin:orders_order_invoice", args=[order.pk])).content)[
            "billing-address"],
        "packing slip": address_blocks(staff.get(reverse("admin:orders_order_packing_slip", args=[order.pk])).content)[
            "shipping-address"],
        "admin order page": address_blocks(
            staff.get(reverse("admin:orders_order_change", args=[order.pk])).content)["0"],
        "CRM customer page": address_blocks(staff.get(
            reverse("admin:customers_customer_change", args=[Customer.objects.get(addresses__isnull=False).pk])
        ).content)["0"],
    }
    send_order_email(order_id=order.pk, kind="confirmation")  # (after commit, which this test never reaches)
    [email] = [m for m in mail.outbox if "Thank you for your order" in m.subject]
    places["email (HTML)"] = address_blocks(email.alternatives[0][0])["0"]
    text = email.body.replace("\r\n", "\n")
    places["email (text)"] = re.search(r"Shipping to:\n((?:.+\n)+)", text)[1].splitlines()

    # then it reads the same everywhere, in France's order
    assert Address.objects.filter(company="Lumière & Fils").exists()
    for place, lines in places.items():
        assert lines == EXPECTED, place
