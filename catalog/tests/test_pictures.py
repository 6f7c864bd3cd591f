"""Pictures follow the colour: on the demo catalog, whatever the size, on every page that shows one.

The demo draws each product's pictures in its colours and names the files after them
(`products/demo/rain-jacket-black.jpg`), so a page's <img> tells which colour it shows.
"""
import re
from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from catalog.models import Product, ProductImage, Variant
from conftest import html_tags, png_file

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def demo(db):
    """The demo catalog's first 60 products, with their pictures (about a second)."""
    call_command("seed_demo", "--products", "60", "--customers", "0", stdout=StringIO())


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
    mains = [firsts.get(p.slug) or p.images.order_by("position", "pk").first().image.name
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


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_variant_pictures_to_their_colour_and_back():
    executor = MigrationExecutor(connection)
    executor.migrate([("catalog", "0002_search")])
    try:
        apps = executor.loader.project_state([("catalog", "0002_search")]).apps
        model = apps.get_model
        category = model("catalog", "Category").objects.create(name="Jackets", slug="jackets")
        colour = model("catalog", "Option").objects.create(name="Colour", slug="colour", position=1)
        size = model("catalog", "Option").objects.create(name="Size", slug="size", position=0)
        black = model("catalog", "OptionValue").objects.create(option=colour, value="Black", slug="black",
                                                               swatch="#1f2124")
        large = model("catalog", "OptionValue").objects.create(option=size, value="L", slug="l")
        jacket = model("catalog", "Product").objects.create(title="Jacket", slug="jacket", category=category)
        black_l = model("catalog", "Variant").objects.create(product=jacket, sku="J-BLK-L", price=10, position=1)
        black_l.option_values.set([black, large])
        large_only = model("catalog", "Variant").objects.create(product=jacket, sku="J-L", price=10, position=2)
        large_only.option_values.set([large])
        image = model("catalog", "ProductImage")
        of_black = image.objects.create(product=jacket, variant=black_l, image=png_file("b.png"), position=0)
        of_size = image.objects.create(product=jacket, variant=large_only, image=png_file("l.png"), position=1)
        of_all = image.objects.create(product=jacket, image=png_file("all.png"), position=2)

        # when
        executor.loader.build_graph()
        executor.migrate([("catalog", "0003_pictures_follow_the_look_option")])
        apps = executor.loader.project_state([("catalog", "0003_pictures_follow_the_look_option")]).apps
        image = apps.get_model("catalog", "ProductImage")

        # then: colour (it has swatches) is what pictures follow; the black variant's picture is
        # Black's; a picture of a variant with no colour, like one of no variant, is the product's
        assert list(apps.get_model("catalog", "Option").objects.filter(changes_look=True).values_list(
            "slug", flat=True)) == ["colour"]
        assert dict(image.objects.values_list("pk", "option_value_id")) == {
            of_black.pk: black.pk, of_size.pk: None, of_all.pk: None,
        }

        # and back: the picture goes to the first black variant
        executor.loader.build_graph()
        executor.migrate([("catalog", "0002_search")])
        apps = executor.loader.project_state([("catalog", "0002_search")]).apps
        assert dict(apps.get_model("catalog", "ProductImage").objects.values_list("pk", "variant_id")) == {
            of_black.pk: black_l.pk, of_size.pk: None, of_all.pk: None,
        }
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
