"""Cart pages and actions over HTTP: plain form posts and htmx, messages, bad input, tampering."""
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.db import IntegrityError, transaction
from django.test import Client

from carts.models import Cart, CartLine
from carts.selectors import CART_SESSION_KEY
from catalog.models import StockLevel, Variant

from conftest import html_tags

pytestmark = pytest.mark.django_db


def variant(sku: str) -> Variant:
    return Variant.objects.get(sku=sku)


def post_add(client, sku: str, quantity="1", *, htmx: bool = False, **extra):
    v = variant(sku)
    data = {"variant": v.pk, "product": v.product_id, "quantity": quantity, "next": v.product.get_absolute_url()}
    data.update(extra)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post("/cart/add/", {k: val for k, val in data.items() if val is not None}, **headers)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def line(sku: str) -> CartLine:
    return CartLine.objects.get(variant__sku=sku)


# --- Adding --------------------------------------------------------------------------------------


def test_a_plain_post_adds_redirects_back_and_says_so(client, storefront_catalog):
    response = post_add(client, "LAMP-1", "2")

    assert response.status_code == 302
    assert response["Location"] == "/p/camp-lamp/"
    page = client.get(response["Location"])
    assert "Added 2 × Camp Lamp to your cart." in page.content.decode()
    [mini] = html_tags(page.content, "a", id="mini-cart")
    assert mini["href"] == "/cart/"
    assert b'data-count="2"' in page.content
    assert page["X-Cache"] == "miss"  # the shared page, with this shopper's count and message
    assert "private" in page["Cache-Control"]
    again = client.get(response["Location"])
    assert again["X-Cache"] == "hit" and b'data-count="2"' in again.content
    assert "Added 2" not in again.content.decode()  # the message was shown once


def test_an_htmx_add_answers_with_a_fragment_and_announces_the_change(client, storefront_catalog):
    response = post_add(client, "SHELL-RED-S", "1", htmx=True)

    assert response.status_code == 200
    assert response["HX-Trigger"] == "cart-changed"
    body = response.content.decode()
    assert "Added 1 × Storm Shell to your cart." in body and 'href="/cart/"' in body
    assert "<html" not in body
    assert messages_of(response) == []  # said in the fragment, not saved for the next page
    assert line("SHELL-RED-S").quantity == 1

    mini = client.get("/cart/mini/", HTTP_HX_REQUEST="true")
    assert b'data-count="1"' in mini.content
    assert html_tags(mini.content, "a", id="mini-cart")


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("0", "Enter a quantity of at least 1"),
        ("-1", "Enter a quantity of at least 1"),
        ("1e9", "Enter the quantity as a whole number"),
        ("1000000000", "You can have at most 20 of one item in your cart."),
        ("abc", "Enter the quantity as a whole number"),
        ("", "Enter a quantity."),
        ("9", "Only 8 of Camp Lamp are available."),
    ],
)
def test_bad_quantities_get_a_clear_message_and_change_nothing(client, storefront_catalog, cart_settings, quantity,
                                                               message):
    plain = post_add(client, "LAMP-1", quantity)
    htmx = post_add(client, "LAMP-1", quantity, htmx=True)

    assert plain.status_code == 302
    assert any(message in text for text in messages_of(plain)), messages_of(plain)
    assert htmx.status_code == 200 and message in htmx.content.decode()
    assert "HX-Trigger" not in htmx
    assert not Cart.objects.exists() and not CartLine.objects.exists()


def test_an_add_refused_for_a_guest_still_shows_its_message(client, storefront_catalog):
    response = post_add(client, "LAMP-1", "0")
    page = client.get(response["Location"])

    assert "Enter a quantity of at least 1" in page.content.decode()
    assert "sessionid" not in client.cookies  # and no session was made for nothing
    # The message came from its cookie, filled into the shared page; the cached copy has none.
    assert "Enter a quantity" not in Client().get(response["Location"]).content.decode()
    assert "Enter a quantity" not in client.get(response["Location"]).content.decode()  # shown once


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"variant": None}, "Choose the options you want first."),
        ({"variant": "999999"}, "Sorry, this item is not available."),
        ({"variant": "nope"}, "Sorry, this item is not available."),
    ],
)
def test_a_missing_or_unknown_variant_is_refused(client, storefront_catalog, data, message):
    response = post_add(client, "LAMP-1", "1", **data)

    assert message in messages_of(response)
    assert not CartLine.objects.exists()


@pytest.mark.parametrize("sku", ["PROTO-1", "ATTIC-1"])
def test_draft_or_hidden_products_cannot_be_added(client, storefront_catalog, sku):
    response = post_add(client, sku)

    assert "Sorry, this item is not available." in messages_of(response)
    assert not CartLine.objects.exists()


def test_an_inactive_variant_cannot_be_added(client, storefront_catalog):
    Variant.objects.filter(sku="SHELL-RED-S").update(is_active=False)

    response = post_add(client, "SHELL-RED-S")

    assert "Sorry, this item is not available." in messages_of(response)
    assert not CartLine.objects.exists()


def test_a_variant_of_another_product_is_refused(client, storefront_catalog):
    response = post_add(client, "LAMP-1", product=storefront_catalog.shell.pk)

    assert "Sorry, this item is not available." in messages_of(response)
    assert not CartLine.objects.exists()


def test_a_posted_price_is_ignored(client, storefront_catalog):
    post_add(client, "LAMP-1", "2", price="0.01", unit_price="0.01", line_total="0.02", subtotal="0.02")

    assert line("LAMP-1").unit_price == Decimal("35.00")
    page = client.get("/cart/")
    assert page.context["cart"].subtotal == Decimal("70.00")
    assert "$70.00" in page.content.decode() and "0.01" not in page.content.decode()


def test_next_never_leaves_the_store(client, storefront_catalog):
    response = post_add(client, "LAMP-1", next="https://evil.example/phish")

    assert response["Location"] == "/p/camp-lamp/"


def test_adding_needs_a_csrf_token(storefront_catalog):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    v = variant("LAMP-1")

    response = client.post("/cart/add/", {"variant": v.pk, "quantity": 1})

    assert response.status_code == 403
    assert not CartLine.objects.exists()


def test_only_posts_change_the_cart(client, storefront_catalog):
    assert client.get("/cart/add/", {"variant": variant("LAMP-1").pk, "quantity": 1}).status_code == 405
    assert not Cart.objects.exists()


# --- The product page's form ----------------------------------------------------------------------


def test_the_product_page_posts_the_selected_variant(client, storefront_catalog):
    page = client.get("/p/storm-shell/?colour=blue&size=s")

    [form] = html_tags(page.content, "form", action="/cart/add/")
    assert form["data-hx-post"] == "/cart/add/" and form["method"] == "post"
    [chosen] = html_tags(page.content, "input", name="variant")
    assert chosen["value"] == str(variant("SHELL-BLUE-S").pk)
    [quantity] = html_tags(page.content, "input", name="quantity")
    assert (quantity["min"], quantity["max"], quantity["id"]) == ("1", "3", "add-quantity")
    assert html_tags(page.content, "label", for_="add-quantity")


@pytest.mark.parametrize(
    ("url", "button"),
    [("/p/trail-tee/", "Out of stock"), ("/p/storm-shell/?colour=blue&size=m", "Choose an option")],
)
def test_no_form_when_the_variant_is_out_of_stock_or_not_chosen(client, storefront_catalog, url, button):
    page = client.get(url)

    assert html_tags(page.content, "form", action="/cart/add/") == []
    [disabled] = [b for b in html_tags(page.content, "button") if "disabled" in b]
    assert button in page.content.decode()


# --- The cart page ---------------------------------------------------------------------------------


def test_viewing_an_empty_cart_creates_nothing(client, storefront_catalog):
    response = client.get("/cart/")

    assert response.status_code == 200
    assert "Your cart is empty" in response.content.decode()
    assert "sessionid" not in response.cookies
    assert not Cart.objects.exists()
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_the_cart_page_lists_lines_and_totals(client, storefront_catalog):
    post_add(client, "LAMP-1", "2")
    post_add(client, "SHELL-RED-S", "1")

    page = client.get("/cart/")

    body = page.content.decode()
    assert [item.sku for item in page.context["cart"].items] == ["LAMP-1", "SHELL-RED-S"]
    assert "Colour: Red · Size: S" in body
    assert html_tags(page.content, "dd", id="cart-subtotal")
    assert "$190.00" in body.split('id="cart-subtotal">')[1].split("<")[0]
    for item in page.context["cart"].items:
        [quantity] = html_tags(page.content, "input", id=f"quantity-{item.line_id}")
        assert quantity["value"] == str(item.quantity)
        assert html_tags(page.content, "label", for_=f"quantity-{item.line_id}")


def test_the_cart_page_says_what_changed_and_adjusts(client, storefront_catalog):
    post_add(client, "LAMP-1", "5")
    post_add(client, "SHELL-RED-S", "1")
    post_add(client, "PARKA-BLUE-L", "1")
    StockLevel.objects.filter(variant__sku="LAMP-1").update(on_hand=2)
    StockLevel.objects.filter(variant__sku="PARKA-BLUE-L").update(on_hand=0)
    Variant.objects.filter(sku="SHELL-RED-S").update(price=Decimal("125.00"))

    body = client.get("/cart/").content.decode()

    assert "Only 2 of Camp Lamp left: quantity reduced from 5 to 2." in body
    assert "The price of Storm Shell went from $120.00 to $125.00." in body
    assert "Harbour Parka is out of stock." in body
    assert "$195.00" in body  # 2 x 35 + 125; the parka is not counted
    assert line("LAMP-1").quantity == 2
    # Said once: the next visit has nothing new to report.
    again = client.get("/cart/").content.decode()
    assert "quantity reduced" not in again and "went from" not in again
    assert "Harbour Parka is out of stock." in again


def test_changing_a_quantity_with_a_plain_post(client, storefront_catalog):
    post_add(client, "LAMP-1", "1")

    response = client.post(f"/cart/lines/{line('LAMP-1').pk}/", {"quantity": "3"})

    assert response.status_code == 302 and response["Location"] == "/cart/"
    assert "Camp Lamp: quantity set to 3." in messages_of(response)
    assert line("LAMP-1").quantity == 3


def test_changing_a_quantity_with_htmx_returns_the_updated_cart(client, storefront_catalog):
    post_add(client, "LAMP-1", "1")
    post_add(client, "SHELL-RED-S", "1")

    response = client.post(f"/cart/lines/{line('LAMP-1').pk}/", {"quantity": "3"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert response["HX-Trigger"] == "cart-changed"
    body = response.content.decode()
    assert html_tags(body, "div", id="cart-body")
    assert "<html" not in body
    assert 'id="cart-subtotal">$225.00<' in body
    assert "Camp Lamp: quantity set to 3." in body
    assert "Camp Lamp: quantity set to 3." not in messages_of(response)  # said in the fragment only


@pytest.mark.parametrize(
    ("quantity", "message"),
    [("0", "at least 1"), ("-1", "at least 1"), ("abc", "whole number"), ("1e9", "whole number"),
     ("21", "at most 20"), ("9", "Only 8 of Camp Lamp are available.")],
)
def test_bad_quantity_changes_nothing(client, storefront_catalog, cart_settings, quantity, message):
    post_add(client, "LAMP-1", "2")
    url = f"/cart/lines/{line('LAMP-1').pk}/"

    plain = client.post(url, {"quantity": quantity})
    htmx = client.post(url, {"quantity": quantity}, HTTP_HX_REQUEST="true")

    assert any(message in text for text in messages_of(plain))
    assert message in htmx.content.decode()
    assert line("LAMP-1").quantity == 2


def test_removing_with_a_plain_post_and_with_htmx(client, storefront_catalog):
    post_add(client, "LAMP-1", "1")
    post_add(client, "SHELL-RED-S", "1")

    plain = client.post(f"/cart/lines/{line('LAMP-1').pk}/remove/")
    htmx = client.post(f"/cart/lines/{line('SHELL-RED-S').pk}/remove/", HTTP_HX_REQUEST="true")

    assert "Removed Camp Lamp from your cart." in messages_of(plain)
    assert htmx["HX-Trigger"] == "cart-changed"
    assert "Removed Storm Shell from your cart." in htmx.content.decode()
    assert "Your cart is empty" in htmx.content.decode()
    assert not CartLine.objects.exists()


def test_another_shoppers_line_is_out_of_reach(client, storefront_catalog, customer):
    from django.test import Client

    other = Client()
    post_add(other, "LAMP-1", "1")
    theirs = line("LAMP-1")

    changed = client.post(f"/cart/lines/{theirs.pk}/", {"quantity": "5"})
    removed = client.post(f"/cart/lines/{theirs.pk}/remove/")

    assert "That item is no longer in your cart." in messages_of(changed)
    assert "That item is no longer in your cart." in messages_of(removed)
    theirs.refresh_from_db()
    assert theirs.quantity == 1


# --- Signing in ---------------------------------------------------------------------------------


@pytest.mark.urls("carts.tests.urls")
def test_signing_in_merges_the_guest_cart_though_the_session_key_changes(client, storefront_catalog, customer):
    # given a customer whose saved cart has a lamp, shopping as a guest before signing in
    Cart.objects.create(user=customer.user).lines.create(
        variant=variant("LAMP-1"), quantity=7, unit_price=Decimal("35.00")
    )
    post_add(client, "LAMP-1", "3")
    post_add(client, "SHELL-RED-S", "1")
    guest_key = client.cookies["sessionid"].value

    # when they sign in through Django's own login view (by email: the only way anyone signs in)
    response = client.post("/login/", {"username": "ada@example.com", "password": customer.password})

    # then the session key rotated, the carts are one, and the lamp is capped by its 8 in stock
    assert response.status_code == 302
    assert client.cookies["sessionid"].value != guest_key
    cart = Cart.objects.get()
    assert cart.user == customer.user
    assert dict(cart.lines.values_list("variant__sku", "quantity")) == {"LAMP-1": 8, "SHELL-RED-S": 1}
    assert CART_SESSION_KEY not in client.session
    page = client.get("/cart/")
    assert "Camp Lamp: you had 10 in your carts, 8 are in your cart now." in page.content.decode()
    assert b'data-count="9"' in page.content


@pytest.mark.urls("carts.tests.urls")
def test_signing_in_without_a_guest_cart_keeps_the_customers_cart(client, storefront_catalog, customer):
    Cart.objects.create(user=customer.user).lines.create(
        variant=variant("LAMP-1"), quantity=2, unit_price=Decimal("35")
    )

    client.post("/login/", {"username": "ada@example.com", "password": customer.password})

    assert Cart.objects.get().lines.get().quantity == 2
    assert b'data-count="2"' in client.get("/p/trail-tee/").content


def test_a_signed_in_customer_adds_to_their_own_cart(client, storefront_catalog, customer):
    client.force_login(customer.user)

    post_add(client, "LAMP-1", "1")

    assert Cart.objects.get().user == customer.user


# --- Database constraints ------------------------------------------------------------------------


def test_the_database_refuses_a_quantity_below_one(storefront_catalog):
    cart = Cart.objects.create()
    for bad in (0, -1):
        with pytest.raises(IntegrityError), transaction.atomic():
            CartLine.objects.create(cart=cart, variant=variant("LAMP-1"), quantity=bad, unit_price=Decimal("35"))


def test_the_database_refuses_two_lines_for_one_variant(storefront_catalog):
    cart = Cart.objects.create()
    CartLine.objects.create(cart=cart, variant=variant("LAMP-1"), quantity=1, unit_price=Decimal("35"))

    with pytest.raises(IntegrityError), transaction.atomic():
        CartLine.objects.create(cart=cart, variant=variant("LAMP-1"), quantity=2, unit_price=Decimal("35"))


def test_the_database_refuses_two_carts_for_one_customer(storefront_catalog):
    user = get_user_model().objects.create_user(username="cy", password="x")
    Cart.objects.create(user=user)

    with pytest.raises(IntegrityError), transaction.atomic():
        Cart.objects.create(user=user)
