"""Pictures follow the colour: on the demo catalog, whatever the size, on every page that shows one.

The demo draws each product's pictures in its colours and names the files after them
(`products/demo/rain-jacket-black.jpg`), so a page's <img> tells which colour it shows.
"""
import re

import pytest
from django.core.files.storage import default_storage

from catalog.models import Product, ProductImage, Variant
from conftest import html_tags

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def demo(seeded_demo_module, db):
    """The demo catalog's first 60 products, with their pictures (catalog/tests/conftest.py)."""


def _colour_of_url() -> dict[str, str]:
    """Every URL a demo picture is served at (original and renditions) -> the colour drawn in it."""
    colours = {}
    for name, renditions in ProductImage.objects.values_list("image", "renditions"):
        colour = re.fullmatch(r".*-([a-z]+)\.jpg", name).group(1)
        for path in [name, *renditions.values()]:
            colours[default_storage.url(path)] = colour
    return colours


def _colours_shown(html: bytes | str, *, after: str = "") -> list[str]:
    """The colours of the pictures on the page (or after the text `after`), in page order."""
    html = html.decode() if isinstance(html, bytes) else html
    if after:
        html = html[html.index(after):]
    colours = _colour_of_url()
    return [colours[img["src"]] for img in html_tags(html, "img") if img.get("src") in colours]


def _product_whose_first_picture_is_another_colour(colour: str, size: str) -> Product:
    """A published product sold in `colour` and `size` whose main picture is of another colour."""
    for product in Product.objects.published().filter(
        variants__option_values__slug=colour, variants__is_active=True
    ).filter(variants__option_values__slug=size).distinct().order_by("slug"):
        names = list(product.images.order_by("position", "pk").values_list("image", flat=True))
        if names and not names[0].endswith(f"-{colour}.jpg") and any(n.endswith(f"-{colour}.jpg") for n in names):
            both = Variant.objects.filter(product=product, option_values__slug=colour, is_active=True).filter(
                option_values__slug=size
            )
            if both.exists():
                return product
    raise AssertionError(f"the demo catalog has no {colour}/{size} product whose main picture is another colour")


def test_black_and_large_shows_a_black_picture_first(client, demo):
    # given: a jacket whose main picture is rust (or another colour) but which comes in black, size L
    jacket = _product_whose_first_picture_is_another_colour("black", "l")
    url = jacket.get_absolute_url()

    # when / then: the gallery leads with black, for black + L, for black alone, and in the htmx swap
    whole = client.get(f"{url}?colour=black&size=l")
    assert _colours_shown(whole.content, after='id="product-gallery"')[0] == "black"
    assert "-BLK" in whole.context["page"].selected_variant.sku

    only_colour = client.get(f"{url}?colour=black")
    assert _colours_shown(only_colour.content, after='id="product-gallery"')[0] == "black"
    assert "-BLK" in only_colour.context["page"].selected_variant.sku

    swapped = client.get(f"{url}?colour=black&size=l", **HTMX)
    assert 'data-hx-swap-oob="true"' in swapped.content.decode()
    assert _colours_shown(swapped.content, after='id="product-gallery"')[0] == "black"

    # and the share preview names the black picture too
    [preview] = html_tags(whole.content, "meta", property="og:image")
    assert preview["content"].endswith("-black.jpg")


def test_a_navy_filtered_listing_shows_navy_pictures_and_links_to_navy(client, demo):
    navy_products = {
        product.slug for product in Product.objects.published().filter(variants__option_values__slug="navy")
    }
    firsts = {
        product.slug: product.images.order_by("position", "pk").first().image.name
        for product in Product.objects.filter(slug__in=navy_products)
    }
    assert any(not name.endswith("-navy.jpg") for name in firsts.values())  # the case the fault showed in

    for root in ("clothing", "outdoor", "home"):
        response = client.get(f"/c/{root}/?o_colour=navy")

        listed = [product.slug for product in response.context["products"]]
        assert listed and set(listed) <= navy_products
        assert _colours_shown(response.content, after='id="listing-results"') == ["navy"] * len(listed)
        links = {a["href"] for a in html_tags(response.content, "a") if a.get("href", "").startswith("/p/")}
        assert {f"/p/{slug}/?colour=navy" for slug in listed} <= links

    # Unfiltered, a card shows the product's main picture.
    response = client.get("/c/home/")
    shown = _colours_shown(response.content, after='id="listing-results"')
    mains = [firsts.get(p.slug) or ProductImage.objects.filter(product_id=p.pk).order_by("position", "pk").first().image.name
             for p in response.context["products"]]
    assert shown == [re.fullmatch(r".*-([a-z]+)\.jpg", name).group(1) for name in mains]


def test_the_cart_shows_the_colour_of_the_line(client, demo):
    jacket = _product_whose_first_picture_is_another_colour("black", "l")
    page = client.get(f"{jacket.get_absolute_url()}?colour=black&size=l")
    html = page.content.decode()
    form = html[html.index('action="/cart/add/"'):]
    form = form[:form.index("</form>")]
    sent = {tag["name"]: tag.get("value") for tag in html_tags(form, "input") if tag.get("name")}

    client.post("/cart/add/", sent)
    cart = client.get("/cart/")

    assert [item.sku for item in cart.context["cart"].items] == [page.context["page"].selected_variant.sku]
    assert _colours_shown(cart.content, after='id="cart-line-') == ["black"]
