"""The shared storefront page cache and CSRF tokens: every visitor's form carries their own token.

A product page with the add-to-cart form is rendered once for every anonymous visitor without a
session. The cached copy holds a placeholder; each response gets the visitor's own token, and the
CSRF cookie to match.
"""
import hashlib

import pytest
from django.core.cache import cache
from django.test import Client

from carts.models import CartLine
from catalog import versions
from catalog.cache import CSRF_PLACEHOLDER, personal_marker

from conftest import html_tags

pytestmark = pytest.mark.django_db

URL = "/p/camp-lamp/"


def _cached_entry(url: str = URL, *, fragment: str = "page") -> bytes:
    path_hash = hashlib.sha256(f"http://testserver{url}".encode()).hexdigest()[:32]
    stamp, _status, _type, content = cache.get(f"catalog:page:en:{fragment}:{path_hash}")
    assert versions.is_current(stamp)
    return content


def _token(response) -> str:
    # Every form on the page (add to cart, save to wishlist) carries the same visitor's token.
    values = {field["value"] for field in html_tags(response.content, "input", name="csrfmiddlewaretoken")}
    [value] = values
    return value


def _add(client: Client, token: str, variant_id: int):
    return client.post("/cart/add/", {"csrfmiddlewaretoken": token, "variant": variant_id, "quantity": 1})


def test_two_anonymous_visitors_get_working_tokens_and_the_cache_holds_none(storefront_catalog):
    alice, bob = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)

    first = alice.get(URL)
    second = bob.get(URL)

    assert (first["X-Cache"], second["X-Cache"]) == ("miss", "hit")
    stored = _cached_entry()
    assert CSRF_PLACEHOLDER.encode() in stored
    assert b'name="csrfmiddlewaretoken" value="' + CSRF_PLACEHOLDER.encode() + b'"' in stored
    alice_token, bob_token = _token(first), _token(second)
    assert alice_token != bob_token
    for token in (alice_token, bob_token):
        assert token.encode() not in stored
        assert CSRF_PLACEHOLDER not in first.content.decode() + second.content.decode()
    assert alice.cookies["csrftoken"].value != bob.cookies["csrftoken"].value

    # Each visitor's token works with their own cookie...
    lamp = storefront_catalog.lamp.variants.get().pk
    assert _add(alice, alice_token, lamp).status_code == 302
    assert _add(bob, bob_token, lamp).status_code == 302
    assert CartLine.objects.count() == 2
    # ... and not with someone else's.
    carol = Client(enforce_csrf_checks=True)
    carol.get(URL)
    assert _add(carol, alice_token, lamp).status_code == 403
    assert CartLine.objects.count() == 2


def test_the_htmx_purchase_fragment_gets_a_token_too(storefront_catalog):
    client = Client(enforce_csrf_checks=True)
    url = "/p/storm-shell/?colour=blue&size=s"

    client.get(url, HTTP_HX_REQUEST="true")
    again = client.get(url, HTTP_HX_REQUEST="true")

    assert again["X-Cache"] == "hit"
    assert CSRF_PLACEHOLDER.encode() in _cached_entry(url, fragment="htmx")
    shell_blue = storefront_catalog.shell_blue_s.pk
    assert _add(client, _token(again), shell_blue).status_code == 302


def test_after_adding_to_the_cart_the_shared_page_shows_the_shoppers_own_count(storefront_catalog):
    client = Client(enforce_csrf_checks=True)
    page = client.get(URL)
    assert page["X-Cache"] == "miss"

    _add(client, _token(page), storefront_catalog.lamp.variants.get().pk)
    after = client.get(URL)

    assert after["X-Cache"] == "hit"  # the shopper with a session is served the shared page...
    assert b'data-count="1"' in after.content  # ... with their own count filled in
    assert _token(after) != CSRF_PLACEHOLDER
    # The shared copy holds a marker, not a count, and everyone else sees an empty cart.
    assert b'data-count=' not in _cached_entry()
    assert personal_marker("mini_cart").encode() in _cached_entry()
    assert b'data-count="0"' in Client().get(URL).content


def test_pages_without_a_form_set_no_csrf_cookie(storefront_catalog):
    client = Client()

    # Listing cards carry a "Save to wishlist" form; the search page without a query has none.
    response = client.get("/search/")

    assert response.status_code == 200
    assert "csrftoken" not in response.cookies
