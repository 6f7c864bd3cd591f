"""Product cards: one template loop over values computed once per grid (catalog/cards.py, issue 9).

The grid prints what the per-card include, the `picture` tag and the wishlist button printed; the
HTML of the large pages is compared byte for byte by `bench/cold_render.py --compare-html`. These
tests pin what a card shows in each case, and that its wishlist form stays the shared button.
"""
import datetime
import re

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from catalog import selectors
from catalog.cards import card_picture
from catalog.models import Product, ProductImage

pytestmark = pytest.mark.django_db

CSRF = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+')


def _cards(response) -> dict[str, str]:
    """Each card's HTML by the product page it links to."""
    cards = re.findall(r'<article class="product-card[^"]*">.*?</article>', response.content.decode(), re.S)
    return {re.search(r'<a href="([^"]+)"', card).group(1): card for card in cards}


def test_a_cards_wishlist_form_is_the_wishlist_button(client, storefront_catalog):
    # given: a listing, whose cards print the wishlist form inline
    response = client.get("/c/clothing/?sort=price_asc")
    card = _cards(response)["/p/trail-tee/"]

    # then: the form is what customers/_wishlist_button.html renders for a page shown to everyone
    form = card[card.index("<form"):card.index("</form>") + len("</form>")]
    button = render_to_string(
        "customers/_wishlist_button.html",
        {"product_id": Product.objects.get(slug="trail-tee").pk, "saved": False, "next": "/c/clothing/?sort=price_asc", "csrf_token": "token"},
    )
    assert CSRF.sub(r"\1-", form) == CSRF.sub(r"\1-", button.strip())


def test_cards_show_prices_sales_stock_and_the_first_row_eagerly(client, storefront_catalog):
    response = client.get("/c/clothing/?sort=price_asc")
    cards = _cards(response)

    # then: in price order, the tee (sold out), the shell (two prices: "from"), the parka (on sale)
    assert list(cards) == ["/p/trail-tee/", "/p/storm-shell/", "/p/harbour-parka/"]
    tee, shell, parka = cards.values()
    assert 'class="product-card is-sold-out"' in tee and "Out of stock" in tee and "$20.00" in tee
    assert '<span class="price-from">from</span>' in shell and "$120.00" in shell and "is-sale" not in shell
    assert 'class="price is-sale"' in parka and "$200.00" in parka
    assert '<s class="price-was"><span class="visually-hidden">was</span>$250.00</s>' in parka
    assert "Sale" in parka and "is-sold-out" not in parka
    assert '<p class="product-card-brand">Summit</p>' in parka
    # a card without a picture shows the placeholder; the first row loads at once
    assert '<span class="product-card-image image-placeholder" aria-hidden="true"></span>' in tee
    assert 'loading="eager"' in shell and 'fetchpriority="high"' in shell


def test_a_colour_filtered_card_links_to_and_shows_that_colour(client, storefront_catalog):
    response = client.get("/c/clothing/?o_colour=blue")
    shell = _cards(response)["/p/storm-shell/?colour=blue"]

    blue = ProductImage.objects.get(product__slug="storm-shell", option_value__slug="blue")
    assert f'<img class="product-card-image" src="{card_picture(blue).src}"' in shell
    assert 'alt=""' in shell


def test_store_wide_picks_never_show_an_unpublished_product(storefront_catalog):
    # given: the draft and the product of a hidden category are the newest and best-selling
    Product.objects.filter(slug__in=["secret-prototype", "attic-coat"]).update(
        created_at=timezone.now() + datetime.timedelta(days=1), units_sold=10_000,
    )

    # then: new arrivals and best sellers are still the published ones, in order
    assert [p.slug for p in selectors.home_page_data()["new_arrivals"]] == [
        "trail-tee", "harbour-parka", "storm-shell", "camp-lamp",
    ]
    assert [p.slug for p in selectors.popular_products()] == ["trail-tee", "storm-shell", "harbour-parka", "camp-lamp"]
