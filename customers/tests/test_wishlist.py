"""The wishlist: saving from shared (cached) storefront pages, the wishlist page, nobody reaches
another's items."""
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.cache import CSRF_PLACEHOLDER
from catalog.models import StockLevel, Variant
from customers.models import WishlistItem
from customers.services import customer_for_user
from customers.services.wishlist import WishlistError, add_to_wishlist
from customers.tests.factories import UserFactory

from conftest import html_tags

pytestmark = pytest.mark.django_db

ADD = "/account/wishlist/add/"
WISHLIST = "/account/wishlist/"


@pytest.fixture
def shopper(client):
    user = UserFactory()
    client.force_login(user)
    return customer_for_user(user=user)


def test_an_anonymous_press_goes_to_sign_in_and_back_to_the_page(client, storefront_catalog):
    shell = storefront_catalog.shell

    response = client.post(ADD, {"product": shell.pk, "next": "/p/storm-shell/?colour=blue"})

    assert response.status_code == 302
    assert response["Location"] == "/account/login/?next=%2Fp%2Fstorm-shell%2F%3Fcolour%3Dblue"
    assert not WishlistItem.objects.exists()


def test_an_anonymous_htmx_press_redirects_the_whole_page(client, storefront_catalog):
    response = client.post(ADD, {"product": storefront_catalog.shell.pk, "next": "https://evil.example/"},
                           HTTP_HX_REQUEST="true")

    assert response["HX-Redirect"] == "/account/login/?next=%2Faccount%2Fwishlist%2F"  # never off-site


def test_saving_keeps_the_cheapest_price_and_stock_and_twice_is_once(client, shopper, storefront_catalog):
    shell = storefront_catalog.shell

    first = client.post(ADD, {"product": shell.pk, "next": "/p/storm-shell/"})
    second = client.post(ADD, {"product": shell.pk, "next": "/p/storm-shell/"})

    assert first.status_code == second.status_code == 302
    assert first["Location"] == "/p/storm-shell/"
    [item] = WishlistItem.objects.all()
    assert (item.customer, item.product, item.price_when_added, item.was_in_stock) == (
        shopper, shell, Decimal("120.00"), True
    )


def test_htmx_save_toggles_the_button_in_place(client, shopper, storefront_catalog):
    tee = storefront_catalog.tee

    saved = client.post(ADD, {"product": tee.pk, "next": "/p/trail-tee/"}, HTTP_HX_REQUEST="true")
    [button] = html_tags(saved.content, "button", aria_pressed="true")
    [form] = html_tags(saved.content, "form")
    assert form["action"] == "/account/wishlist/remove/"
    item = WishlistItem.objects.get()
    assert item.was_in_stock is False  # the tee has none: the wishlist will say when it is back

    unsaved = client.post(form["action"], {"product": tee.pk, "next": "/p/trail-tee/"}, HTTP_HX_REQUEST="true")
    assert html_tags(unsaved.content, "button", aria_pressed="false")
    assert not WishlistItem.objects.exists()


def test_a_hidden_or_draft_product_cannot_be_saved(shopper, storefront_catalog):
    for product in (storefront_catalog.draft, storefront_catalog.attic):
        with pytest.raises(WishlistError, match="not available"):
            add_to_wishlist(customer=shopper, product_id=product.pk)
    assert not WishlistItem.objects.exists()


def test_a_refused_save_says_why(client, shopper, storefront_catalog):
    response = client.post(ADD, {"product": storefront_catalog.draft.pk, "next": "/"}, follow=True)

    assert "Sorry, this product is not available." in response.content.decode()
    assert not WishlistItem.objects.exists()


def test_cached_pages_show_the_same_save_form_to_everyone_with_each_visitors_token(storefront_catalog):
    saver = UserFactory()
    customer_for_user(user=saver)
    signed_in = Client()
    signed_in.force_login(saver)
    signed_in.post(ADD, {"product": storefront_catalog.lamp.pk})
    alice, bob = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)

    for url in ("/p/camp-lamp/", "/c/gear/", "/"):
        first, second = alice.get(url), bob.get(url)
        assert (first["X-Cache"], second["X-Cache"]) == ("miss", "hit")
        forms = html_tags(second.content, "form", action=ADD)
        assert forms, url
        assert not html_tags(second.content, "button", aria_pressed="true")  # nobody's saved state
        assert CSRF_PLACEHOLDER not in second.content.decode()
    # The shared page's form works with the visitor's own token: it asks them to sign in.
    page = bob.get("/p/camp-lamp/")
    [token] = {f["value"] for f in html_tags(page.content, "input", name="csrfmiddlewaretoken")}
    response = bob.post(ADD, {"csrfmiddlewaretoken": token, "product": storefront_catalog.lamp.pk,
                              "next": "/p/camp-lamp/"})
    assert response.status_code == 302 and response["Location"].startswith("/account/login/?next=")
    # The signed-in saver's own page still shows the shared "Save" form (no per-user state).
    assert html_tags(signed_in.get("/p/camp-lamp/").content, "form", action=ADD)


def test_the_wishlist_page_shows_price_drops_stock_and_actions(client, shopper, storefront_catalog):
    c = storefront_catalog
    for product in (c.shell, c.tee, c.lamp, c.parka):
        add_to_wishlist(customer=shopper, product_id=product.pk)
    # The shell gets cheaper, the tee comes back, the parka sells out.
    Variant.objects.filter(sku="SHELL-RED-S").update(price=Decimal("99.00"))
    StockLevel.objects.filter(variant__sku="TEE-RED-M").update(on_hand=4)
    StockLevel.objects.filter(variant__sku="PARKA-BLUE-L").update(on_hand=0)

    page = client.get(WISHLIST)

    html = page.content.decode()
    assert page.status_code == 200
    items = {item.product_id: item.pk for item in WishlistItem.objects.all()}
    [dropped] = html_tags(html, "span", data_notice="price-dropped")
    assert "Price dropped from $120.00" in html
    assert "$99.00" in html
    assert len(html_tags(html, "span", data_notice="back-in-stock")) == 1
    assert len(html_tags(html, "span", data_notice="out-of-stock")) == 1
    for item_id in items.values():
        assert html_tags(html, "form", action=f"/account/wishlist/{item_id}/remove/")
    # One variant and in stock: added from here; several options: chosen on the product page.
    assert len(html_tags(html, "form", action="/cart/add/")) == 2  # the lamp and the tee
    for product in (c.lamp, c.tee):
        assert html_tags(html, "input", name="variant", value=str(product.variants.get().pk))
    assert html_tags(html, "a", href="/p/storm-shell/", class_="button button-small")
    assert not html_tags(html, "a", href="/p/harbour-parka/", class_="button button-small")  # sold out


def test_four_items_cost_what_one_does(client, shopper, storefront_catalog, django_assert_max_num_queries):
    c = storefront_catalog
    add_to_wishlist(customer=shopper, product_id=c.lamp.pk)
    client.get(WISHLIST)
    with CaptureQueriesContext(connection) as one_item:
        client.get(WISHLIST)
    for product in (c.shell, c.tee, c.parka):
        add_to_wishlist(customer=shopper, product_id=product.pk)

    with django_assert_max_num_queries(len(one_item)):
        page = client.get(WISHLIST)
    assert page.content.decode().count('class="wishlist-item"') == 4


def test_removing_an_item(client, shopper, storefront_catalog):
    item, _ = add_to_wishlist(customer=shopper, product_id=storefront_catalog.lamp.pk)

    response = client.post(f"/account/wishlist/{item.pk}/remove/")

    assert response.status_code == 302 and response["Location"] == WISHLIST
    assert not WishlistItem.objects.exists()


def test_another_customers_item_answers_404_and_stays(client, shopper, storefront_catalog):
    other = customer_for_user(user=UserFactory())
    theirs, _ = add_to_wishlist(customer=other, product_id=storefront_catalog.lamp.pk)

    response = client.post(f"/account/wishlist/{theirs.pk}/remove/")
    htmx = client.post(f"/account/wishlist/{theirs.pk}/remove/", HTTP_HX_REQUEST="true")
    missing = client.post("/account/wishlist/999999/remove/")

    assert response.status_code == htmx.status_code == missing.status_code == 404
    assert WishlistItem.objects.filter(pk=theirs.pk).exists()
    # Removing "by product" only ever touches the shopper's own list.
    client.post("/account/wishlist/remove/", {"product": storefront_catalog.lamp.pk})
    assert WishlistItem.objects.filter(pk=theirs.pk).exists()
    # And the page lists only the shopper's own items.
    assert 'class="wishlist-item"' not in client.get(WISHLIST).content.decode()


@pytest.mark.parametrize("method,url", [
    ("get", WISHLIST), ("post", "/account/wishlist/1/remove/"),
])
def test_anonymous_visitors_are_sent_to_sign_in(client, method, url):
    response = getattr(client, method)(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login") + "?next=")
