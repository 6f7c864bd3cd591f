"""The cart page and the mini-cart run a fixed number of queries, whatever the number of lines.

Measured cold (cache cleared, so the category tree is read too). Cart page for a guest: session,
lines (with variant and product), option values, images, stock totals, category tree = 6; for a
customer one more (the user); plus the live promotions (promotions/offers.py: one query when
there are none, two with some; none once cached) = 7. Mini-cart: session and one count (customer:
+ user). With five active promotions and a code: promotions/tests/test_query_budgets.py.
"""
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import ProductImage
from catalog.tests import factories as f

from conftest import png_file

pytestmark = pytest.mark.django_db

BUDGET = {"cart": 7, "cart_customer": 8, "mini": 2, "mini_customer": 3}


@pytest.fixture
def many_variants(db):
    """Ten products in stock, each with two option values and two images."""
    category = f.CategoryFactory(name="Tools", slug="tools")
    warehouse = f.LocationFactory(code="warehouse")
    size = f.OptionFactory(name="Size", slug="size")
    colour = f.OptionFactory(name="Colour", slug="colour")
    variants = []
    for n in range(10):
        product = f.ProductFactory(title=f"Widget {n}", slug=f"widget-{n}", category=category)
        variant = f.VariantFactory(
            product=product, sku=f"W-{n}", price=Decimal(10 + n),
            option_values=[
                f.OptionValueFactory(option=size, slug=f"s{n}", value=f"S{n}"),
                f.OptionValueFactory(option=colour, slug=f"c{n}", value=f"C{n}"),
            ],
        )
        f.StockLevelFactory(variant=variant, location=warehouse, on_hand=5)
        for k in range(2):
            ProductImage.objects.create(product=product, image=png_file(f"w{n}-{k}.png"), alt_text=f"Widget {n}")
        variants.append(variant)
    return variants


def _fill(client, variants) -> None:
    for variant in variants:
        response = client.post("/cart/add/", {"variant": variant.pk, "quantity": 1})
        assert response.status_code == 302


def _count(client, url: str, **headers) -> int:
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    assert response.status_code == 200
    return len(captured), response


@pytest.mark.parametrize("signed_in", [False, True])
def test_the_cart_page_costs_the_same_for_one_line_and_ten(client, many_variants, django_user_model, signed_in):
    if signed_in:
        client.force_login(django_user_model.objects.create_user(username="ada", password="x"))
    budget = BUDGET["cart_customer" if signed_in else "cart"]

    _fill(client, many_variants[:1])
    one, response = _count(client, "/cart/")
    assert len(response.context["cart"].items) == 1

    _fill(client, many_variants[1:])
    ten, response = _count(client, "/cart/")
    assert len(response.context["cart"].items) == 10

    assert one == ten <= budget, (one, ten)


@pytest.mark.parametrize("signed_in", [False, True])
def test_the_mini_cart_costs_the_same_for_one_line_and_ten(client, many_variants, django_user_model, signed_in):
    if signed_in:
        client.force_login(django_user_model.objects.create_user(username="ada", password="x"))
    budget = BUDGET["mini_customer" if signed_in else "mini"]

    _fill(client, many_variants[:1])
    one, response = _count(client, "/cart/mini/", HTTP_HX_REQUEST="true")
    assert b'data-count="1"' in response.content

    _fill(client, many_variants[1:])
    ten, response = _count(client, "/cart/mini/", HTTP_HX_REQUEST="true")
    assert b'data-count="10"' in response.content

    assert one == ten <= budget, (one, ten)


def test_an_htmx_quantity_change_costs_the_same_for_one_line_and_ten(client, many_variants):
    from carts.models import CartLine

    _fill(client, many_variants[:1])
    first = CartLine.objects.get()
    cache.clear()
    with CaptureQueriesContext(connection) as one:
        client.post(f"/cart/lines/{first.pk}/", {"quantity": 2}, HTTP_HX_REQUEST="true")

    _fill(client, many_variants[1:])
    cache.clear()
    with CaptureQueriesContext(connection) as ten:
        response = client.post(f"/cart/lines/{first.pk}/", {"quantity": 3}, HTTP_HX_REQUEST="true")

    assert len(response.context["cart"].items) == 10
    assert len(one) == len(ten), (len(one), len(ten))
