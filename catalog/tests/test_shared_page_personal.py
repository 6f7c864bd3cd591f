"""Every shopper is served the shared page cache, with their own bits filled in per response.

A storefront page is rendered once, as for an anonymous visitor, with markers where the account
link, the cart count and the flash messages go, and a placeholder for the CSRF token. Each
response fills them for its own shopper. These tests prove nothing personal enters the shared
copy and no shopper sees another's count, name, token or message; they commit for real
(`transaction=True`) because the cached counts are forgotten after commit.
"""
import hashlib
import re

import pytest
from django.core.cache import cache
from django.test import Client

from carts.models import CartLine
from catalog.cache import CSRF_PLACEHOLDER, PERSONAL_SNIPPETS, personal_marker
from catalog.models import Variant

from conftest import html_tags

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = ["/", "/c/clothing/", "/p/camp-lamp/"]


def _stored(url: str, *, fragment: str = "page") -> bytes:
    path_hash = hashlib.sha256(f"http://testserver{url}".encode()).hexdigest()[:32]
    _version, _status, _type, content = cache.get(f"catalog:page:en:{fragment}:{path_hash}")
    return content


def _tokens(response) -> set[str]:
    return {field["value"] for field in html_tags(response.content, "input", name="csrfmiddlewaretoken")}


def _count(response) -> str:
    [count] = re.findall(rb'class="cart-count[^"]*" data-count="(\d+)"', response.content)
    return count.decode()


def _messages(response) -> list[str]:
    html = response.content.decode()
    return [line for line in ("Added 2 × Camp Lamp", "Added 1 × Storm Shell") if line in html]


def _add(client: Client, sku: str, quantity: int, *, token: str | None = None):
    variant = Variant.objects.select_related("product").get(sku=sku)
    data = {"variant": variant.pk, "quantity": quantity, "next": variant.product.get_absolute_url()}
    if token:
        data["csrfmiddlewaretoken"] = token
    return client.post("/cart/add/", data)


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user(
        username="ada-lovelace", email="ada.lovelace@example.com", first_name="Ada", last_name="Lovelace",
        password="correct horse 42",
    )


def _guest_with_cart() -> Client:
    guest = Client(enforce_csrf_checks=True)
    [token] = _tokens(guest.get("/p/camp-lamp/"))
    assert _add(guest, "LAMP-1", 2, token=token).status_code == 302
    return guest


def _signed_in_with_cart(user) -> Client:
    customer = Client(enforce_csrf_checks=True)
    customer.force_login(user)
    [token] = _tokens(customer.get("/p/camp-lamp/"))
    assert _add(customer, "SHELL-RED-S", 1, token=token).status_code == 302
    return customer


def test_two_shoppers_one_page_neither_sees_the_others_count_name_token_or_message(storefront_catalog, ada):
    # given a guest with 2 lamps and a signed-in customer with 1 shell, each with a message waiting
    guest, customer = _guest_with_cart(), _signed_in_with_cart(ada)

    # when both open the same product page (stored when the guest first opened it)
    guest_page = guest.get("/p/camp-lamp/")
    customer_page = customer.get("/p/camp-lamp/")

    # then both are served the one shared copy...
    assert (guest_page["X-Cache"], customer_page["X-Cache"]) == ("hit", "hit")
    # ... each with their own count, account link and message
    assert (_count(guest_page), _count(customer_page)) == ("2", "1")
    assert html_tags(guest_page.content, "a", href="/account/login/")
    assert not html_tags(guest_page.content, "a", href="/account/")
    assert html_tags(customer_page.content, "a", href="/account/")
    assert not html_tags(customer_page.content, "a", href="/account/login/")
    assert _messages(guest_page) == ["Added 2 × Camp Lamp"]
    assert _messages(customer_page) == ["Added 1 × Storm Shell"]
    # ... and their own CSRF token, which works with their own cookie only
    [guest_token], [customer_token] = _tokens(guest_page), _tokens(customer_page)
    assert guest_token != customer_token and CSRF_PLACEHOLDER not in (guest_token, customer_token)
    for name in ("ada", "Ada", "Lovelace", "ada.lovelace@example.com"):
        assert name not in guest_page.content.decode()
    assert _add(guest, "LAMP-1", 1, token=customer_token).status_code == 403
    assert _add(guest, "LAMP-1", 1, token=guest_token).status_code == 302
    # The shared copy holds markers and the placeholder, nothing of either shopper.
    stored = _stored("/p/camp-lamp/").decode()
    for name in PERSONAL_SNIPPETS:
        assert personal_marker(name) in stored
    for personal in (guest_token, customer_token, "data-count=", "Added ", "Your account", "Lovelace", "ada"):
        assert personal not in stored, personal


def test_a_page_first_rendered_for_a_signed_in_shopper_holds_nothing_of_theirs(storefront_catalog, ada):
    customer = _signed_in_with_cart(ada)

    first = customer.get("/c/clothing/")  # renders and stores the page, with a message waiting
    anonymous = Client().get("/c/clothing/")

    assert (first["X-Cache"], anonymous["X-Cache"]) == ("miss", "hit")
    assert _count(first) == "1" and _messages(first) == ["Added 1 × Storm Shell"]
    assert html_tags(first.content, "a", href="/account/")
    # The anonymous visitor gets the page as anyone without a session would.
    assert _count(anonymous) == "0" and _messages(anonymous) == []
    assert html_tags(anonymous.content, "a", href="/account/login/")
    assert not html_tags(anonymous.content, "a", href="/account/")
    assert not _tokens(first) & _tokens(anonymous)
    assert "Lovelace" not in anonymous.content.decode() and "ada.lovelace" not in anonymous.content.decode()


def test_a_flash_message_is_shown_to_its_shopper_once(storefront_catalog):
    guest = _guest_with_cart()
    Client().get("/p/camp-lamp/")  # the page is in the cache already

    shown = guest.get("/p/camp-lamp/")
    again = guest.get("/p/camp-lamp/")

    assert shown["X-Cache"] == "hit" and _messages(shown) == ["Added 2 × Camp Lamp"]
    assert again["X-Cache"] == "hit" and _messages(again) == []
    assert _count(again) == "2"


def test_an_htmx_fragment_leaves_the_message_for_the_next_full_page(storefront_catalog):
    guest = _guest_with_cart()

    fragment = guest.get("/p/storm-shell/?colour=red&size=s", HTTP_HX_REQUEST="true")
    page = guest.get("/p/storm-shell/")

    assert b"<html" not in fragment.content and _messages(fragment) == []
    assert _messages(page) == ["Added 2 × Camp Lamp"]
    assert personal_marker("messages").encode() not in fragment.content


def test_responses_with_personal_bits_are_private_and_vary_on_the_cookie(storefront_catalog, ada):
    guest, customer = _guest_with_cart(), _signed_in_with_cart(ada)

    for client in (guest, customer, Client()):
        for url in PAGES:
            response = client.get(url)
            cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
            assert "private" in cache_control, url  # a CSRF token at least: every page has a form
            assert "public" not in cache_control
            assert "Cookie" in response["Vary"], url
    # A page without anything of the visitor's stays cacheable by the browser's rules.
    empty_search = Client().get("/search/")
    assert not empty_search.has_header("Cache-Control")


@pytest.mark.parametrize("url", PAGES)
def test_a_cached_page_costs_a_shopper_with_a_cart_one_query_and_a_signed_in_one_two(
    storefront_catalog, ada, url, django_assert_max_num_queries,
):
    guest, customer = _guest_with_cart(), _signed_in_with_cart(ada)
    for client in (guest, customer):
        client.get(url)  # stores the page, shows the message, keeps the count in the cache

    with django_assert_max_num_queries(1):  # the session
        page = guest.get(url)
    assert page["X-Cache"] == "hit" and _count(page) == "2"
    with django_assert_max_num_queries(2):  # the session and the user
        page = customer.get(url)
    assert page["X-Cache"] == "hit" and _count(page) == "1"


def test_the_count_follows_every_change_to_the_cart(storefront_catalog, ada):
    guest = _guest_with_cart()
    assert _count(guest.get("/")) == "2"

    [token] = _tokens(guest.get("/p/camp-lamp/"))
    _add(guest, "SHELL-RED-S", 3, token=token)
    assert _count(guest.get("/")) == "5"

    shell = CartLine.objects.get(variant__sku="SHELL-RED-S")
    guest.post(f"/cart/lines/{shell.pk}/", {"csrfmiddlewaretoken": token, "quantity": 1})
    assert _count(guest.get("/")) == "3"

    guest.post(f"/cart/lines/{shell.pk}/remove/", {"csrfmiddlewaretoken": token})
    assert _count(guest.get("/")) == "2"

    # Signing in merges the guest cart into the customer's: the header shows the sum.
    other_device = _signed_in_with_cart(ada)
    assert _count(other_device.get("/")) == "1"
    guest.force_login(ada)
    assert _count(guest.get("/")) == "3"
    # The customer's other device sees the same cart, although its session never changed.
    assert _count(other_device.get("/")) == "3"

    # Staff delete a variant: it leaves every cart, and the count with it.
    Variant.objects.get(sku="LAMP-1").delete()
    assert _count(guest.get("/")) == "1"
    assert _count(other_device.get("/")) == "1"
