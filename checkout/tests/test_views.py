"""The checkout pages through the real views: details, review, place, pay with the demo card."""
import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.utils.html import escape

from carts.models import CartLine
from catalog.models import StockLevel
from checkout.models import TaxRate
from orders.models import Order
from payments.models import Payment

from .conftest import address, fill_cart

pytestmark = pytest.mark.django_db

KEY_INPUT = re.compile(r'name="idempotency_key" value="([^"]+)"')


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def to_review(client, shipping, method: str = "standard", **overrides) -> str:
    """Fill in step 1, open the review and return the idempotency key it rendered."""
    delivery = overrides.pop("delivery", None) or f"method:{getattr(shipping, method).pk}"
    response = client.post("/checkout/", address(delivery=delivery, **overrides))
    assert response.status_code == 302 and response["Location"] == "/checkout/review/", response.content[:3000]
    review = client.get("/checkout/review/")
    assert review.status_code == 200
    return KEY_INPUT.search(review.content.decode())[1]


def pay(client, response, card: str):
    """Follow the place-order redirect to the demo card form and submit `card`."""
    assert response.status_code == 302 and response["Location"].startswith("/payments/demo/"), response
    form = client.get(response["Location"])
    assert b"demo" in form.content.lower()
    return client.post(response["Location"], {"number": card, "expiry": "12/40", "cvc": "123", "name": "Sam"},
                       follow=True)


def test_an_empty_cart_is_sent_back_to_the_cart_with_a_message(client, storefront_catalog, shipping):
    for url in ("/checkout/", "/checkout/review/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == "/cart/"
        assert "Your cart is empty. Add something before checking out." in messages_of(response)
    response = client.post("/checkout/place/", {"idempotency_key": "x" * 32})
    assert response["Location"] == "/cart/" and not Order.objects.exists()


def test_the_cart_page_links_to_checkout(client, storefront_catalog, shipping):
    fill_cart(client, ("LAMP-1", 1))
    assert b'href="/checkout/"' in client.get("/cart/").content


def test_details_list_priced_options_and_which_shops_have_everything(client, storefront_catalog, shipping):
    fill_cart(client, ("SHELL-BLUE-S", 1))

    page = client.get("/checkout/").content.decode()

    assert 'value="method:%d"' % shipping.standard.pk in page and "$5.00" not in page  # 130 is above 100
    assert "Pick up at Downtown shop" in page
    assert "These shops have everything in your cart:" in page
    assert "Old" not in page
    fragment = client.get("/checkout/delivery-options/", {"shipping-country": "DE"}).content.decode()
    assert "EU" in fragment and "$12.00" in fragment and "Standard" not in fragment


def test_the_country_selects_list_every_country_once_with_the_chosen_one_selected(client, storefront_catalog, shipping):
    """The ~250 options are written by a filter (customers/templatetags/account_forms.py), not the
    widget: every country once, escaped, the chosen one `selected`; a page shown again with errors
    keeps the posted country (and still lists the shopper's address book, read only then)."""
    from checkout import selectors

    fill_cart(client, ("LAMP-1", 1))
    countries = selectors.country_choices()

    def selects(html: str) -> dict[str, list[tuple[str, str, bool]]]:
        found = {}
        for name, body in re.findall(r'<select name="(\w+-country)"[^>]*>(.*?)</select>', html, re.S):
            found[name] = [(code, label, bool(sel)) for code, sel, label in
                           re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', body)]
        return found

    page = selects(client.get("/checkout/").content.decode())
    assert set(page) == {"shipping-country", "billing-country"}
    for options in page.values():
        assert [(code, label) for code, label, _ in options] == [(code, escape(name)) for code, name in countries]
        assert [code for code, _, chosen in options if chosen] == ["US"]

    again = client.post("/checkout/", address(delivery=f"method:{shipping.standard.pk}",
                                              **{"shipping-country": "FR", "shipping-postal_code": ""}))
    assert again.status_code == 200 and "A postal code is required for this country." in again.content.decode()
    assert [code for code, _, chosen in selects(again.content.decode())["shipping-country"] if chosen] == ["FR"]


def test_country_rules_postal_code_and_region(client, storefront_catalog, shipping):
    fill_cart(client, ("LAMP-1", 1))
    key = f"method:{shipping.standard.pk}"

    response = client.post("/checkout/", address(delivery=key, **{"shipping-postal_code": "", "shipping-region": "Narnia"}))
    body = response.content.decode()
    assert response.status_code == 200
    assert "A postal code is required for this country." in body
    assert "Enter a state or province of this country" in body

    # Hong Kong has no postal codes and no states; the US region is accepted by name.
    ok = client.post("/checkout/", address(delivery=key, **{"shipping-region": "new york", "shipping-postal_code": "10001"}))
    assert ok.status_code == 302
    assert client.session["checkout"]["shipping_address"]["region"] == "NY"
    no_method = client.post("/checkout/", address(delivery=key, **{"shipping-country": "HK", "shipping-postal_code": "",
                                                                    "shipping-region": ""}))
    assert "Choose one of the delivery options shown." in no_method.content.decode()  # no zone lists HK
    assert "postal code is required" not in no_method.content.decode()


def test_full_flow_with_the_demo_card_ends_paid_and_empties_the_cart(client, storefront_catalog, shipping, settings):
    settings.STORE_PRICES_INCLUDE_TAX = False
    TaxRate.objects.create(country="US", rate=Decimal("10"))
    fill_cart(client, ("LAMP-1", 2))  # 70.00: below the free threshold
    key = to_review(client, shipping)
    review = client.get("/checkout/review/").content.decode()
    assert "$70.00" in review and "$7.00" in review and "$5.00" in review and "$82.00" in review

    response = client.post("/checkout/place/", {"idempotency_key": key})
    order = Order.objects.get()
    assert (order.payment_status, order.fulfilment_status, order.total, order.tax_total, order.shipping_total) == (
        "unpaid", "unfulfilled", Decimal("82.00"), Decimal("7.00"), Decimal("5.00"))
    assert order.shipping_address["postal_code"] == "62701" and order.shipping_method_name == "Standard"
    assert not CartLine.objects.exists()
    assert "checkout" not in client.session

    final = pay(client, response, "4242 4242 4242 4242")

    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    assert final.redirect_chain[-1][0].endswith("/thanks/")
    assert order.number in final.content.decode()
    detail = client.get(final.redirect_chain[-1][0].removesuffix("thanks/"))
    assert detail.status_code == 200 and "Paid" in detail.content.decode()


def test_a_declined_card_leaves_no_paid_order(client, storefront_catalog, shipping):
    fill_cart(client, ("LAMP-1", 1))
    response = client.post("/checkout/place/", {"idempotency_key": to_review(client, shipping)})

    final = pay(client, response, "4000 0000 0000 0002")

    assert final.status_code == 200 and "declined" in final.content.decode().lower()
    assert not Order.objects.exclude(payment_status=Order.PaymentStatus.UNPAID).exists()
    assert Payment.objects.get().status == Payment.Status.FAILED


def test_a_double_submit_returns_the_same_order_and_payment(client, storefront_catalog, shipping):
    fill_cart(client, ("LAMP-1", 1))
    key = to_review(client, shipping)

    first = client.post("/checkout/place/", {"idempotency_key": key})
    second = client.post("/checkout/place/", {"idempotency_key": key})

    assert Order.objects.count() == 1 and Payment.objects.count() == 1
    assert first["Location"] == second["Location"]
    assert StockLevel.objects.get(variant__sku="LAMP-1").reserved == 1
    # After paying, a retried POST shows the order instead of a second payment page.
    pay(client, first, "4242424242424242")
    third = client.post("/checkout/place/", {"idempotency_key": key})
    assert third["Location"].endswith("/thanks/") and Order.objects.count() == 1


def test_posted_prices_and_quantities_are_ignored(client, storefront_catalog, shipping):
    fill_cart(client, ("LAMP-1", 1))
    key = to_review(client, shipping)

    client.post("/checkout/place/", {"idempotency_key": key, "price": "0.01", "total": "0.01", "unit_price": "0",
                                     "quantity": "-5", "shipping_price": "-100", "lines": "999"})

    order = Order.objects.get()
    assert order.total == Decimal("40.00")  # 35.00 + 5.00 shipping, from the server
    assert list(order.lines.values_list("quantity", "unit_price")) == [(1, Decimal("35.00"))]


def test_a_tampered_cart_quantity_is_refused_before_any_order(client, storefront_catalog, shipping):
    fill_cart(client, ("LAMP-1", 1))
    key = to_review(client, shipping)
    CartLine.objects.update(quantity=1_000_000)  # forged past the cart's own checks

    response = client.post("/checkout/place/", {"idempotency_key": key})

    assert response["Location"] == "/cart/"
    assert not Order.objects.exists() and StockLevel.objects.get(variant__sku="LAMP-1").reserved == 0
    assert any("Only 8 of Camp Lamp left" in m for m in messages_of(response))
    assert client.post("/cart/lines/%d/" % CartLine.objects.get().pk, {"quantity": "-3"}).status_code in (302, 400)
    assert CartLine.objects.get().quantity == 1_000_000  # a negative quantity changed nothing


def test_a_forged_delivery_option_is_rejected(client, storefront_catalog, shipping):
    fill_cart(client, ("LAMP-1", 1))
    for forged in (f"method:{shipping.old.pk}", f"method:{shipping.eu.pk}", f"pickup:{storefront_catalog.warehouse.pk}"):
        response = client.post("/checkout/", address(delivery=forged))
        assert response.status_code == 200 and "checkout" not in client.session
    # A delivery option that disappears between review and place sends the shopper back to step 1.
    key = to_review(client, shipping)
    shipping.standard.is_active = False
    shipping.standard.save()
    response = client.post("/checkout/place/", {"idempotency_key": key})
    assert response["Location"] == "/checkout/" and not Order.objects.exists()


def test_out_of_stock_at_placement_names_each_item_and_creates_nothing(client, storefront_catalog, shipping):
    fill_cart(client, ("LAMP-1", 2), ("PARKA-BLUE-L", 1))
    key = to_review(client, shipping)
    # Someone else bought them meanwhile: reserved under the shopper's feet.
    StockLevel.objects.filter(variant__sku__in=["LAMP-1", "PARKA-BLUE-L"]).update(reserved=0, on_hand=1)
    StockLevel.objects.filter(variant__sku="PARKA-BLUE-L").update(reserved=1)

    # The cart notices first (its availability check) ...
    response = client.post("/checkout/place/", {"idempotency_key": key})
    assert response["Location"] == "/cart/" and not Order.objects.exists()

    # ... and if the stock goes between that check and the reservation, placement refuses.
    from unittest import mock

    from checkout import services

    StockLevel.objects.filter(variant__sku__in=["LAMP-1", "PARKA-BLUE-L"]).update(on_hand=5, reserved=0)
    real_checkout_cart = services.checkout_cart

    def then_sold_out(**kwargs):
        cart = real_checkout_cart(**kwargs)
        StockLevel.objects.filter(variant__sku__in=["LAMP-1", "PARKA-BLUE-L"]).update(on_hand=1, reserved=1)
        return cart

    with mock.patch.object(services, "checkout_cart", then_sold_out):
        response = client.post("/checkout/place/", {"idempotency_key": key})
    messages = messages_of(response)
    assert response["Location"] == "/cart/"
    assert "Camp Lamp (LAMP-1): you wanted 2, 0 left." in messages
    assert "Harbour Parka (PARKA-BLUE-L): you wanted 1, 0 left." in messages
    assert not Order.objects.exists() and CartLine.objects.count() == 2


def test_pick_up_reserves_at_the_shop_and_keeps_no_shipping_address(client, storefront_catalog, shipping):
    fill_cart(client, ("SHELL-BLUE-S", 1))
    key = to_review(client, shipping, delivery=f"pickup:{storefront_catalog.downtown.pk}",
                    **{"shipping-line1": "", "shipping-city": "", "shipping-postal_code": "", "shipping-region": ""})

    client.post("/checkout/place/", {"idempotency_key": key})

    order = Order.objects.get()
    assert order.pickup_location == storefront_catalog.downtown and order.shipping_total == Decimal("0.00")
    assert order.shipping_address == {}
    assert StockLevel.objects.get(variant__sku="SHELL-BLUE-S").reserved == 1


def test_a_signed_in_customer_gets_their_email_and_the_order(client, storefront_catalog, shipping, django_user_model):
    user = django_user_model.objects.create_user(username="ada", email="ada@example.com", password="pw-123456789")
    client.force_login(user)
    fill_cart(client, ("LAMP-1", 1))
    assert 'value="ada@example.com"' in client.get("/checkout/").content.decode()
    client.post("/checkout/place/", {"idempotency_key": to_review(client, shipping, email="ada@example.com")})
    assert Order.objects.get().user == user


def test_every_post_needs_the_csrf_token(storefront_catalog, shipping):
    client = Client(enforce_csrf_checks=True)
    fill_cart_client = Client()
    fill_cart(fill_cart_client, ("LAMP-1", 1))
    client.cookies = fill_cart_client.cookies
    assert client.post("/checkout/", address()).status_code == 403
    assert client.post("/checkout/place/", {"idempotency_key": "x" * 32}).status_code == 403
    page = client.get("/checkout/").content.decode()
    assert 'name="csrfmiddlewaretoken"' in page


def test_an_old_review_form_posted_over_a_new_cart_returns_the_old_order_and_keeps_the_cart(
    client, storefront_catalog, shipping
):
    fill_cart(client, ("LAMP-1", 1))
    key = to_review(client, shipping)
    client.post("/checkout/place/", {"idempotency_key": key})
    fill_cart(client, ("SHELL-RED-S", 1))

    response = client.post("/checkout/place/", {"idempotency_key": key})

    assert Order.objects.count() == 1 and response["Location"].startswith("/payments/demo/")
    assert list(CartLine.objects.values_list("variant__sku", flat=True)) == ["SHELL-RED-S"]
