"""carts.cart_rows: the cart's lines from precompiled SQL are what the ORM's queryset reads, with
every relation and prefetch a caller reads already there (no query behind an attribute)."""
from decimal import Decimal

import pytest
from django.db.models import Prefetch

from carts.cart_rows import cart_lines
from carts.models import Cart, CartLine
from catalog.models import OptionValue, ProductImage
from catalog.tests import factories as f
from customers.tests.factories import UserFactory
from saleschannels.models import Publication

from conftest import png_file

pytestmark = pytest.mark.django_db


def _orm_lines(cart):
    return list(
        CartLine.objects.filter(cart=cart)
        .select_related("variant__product__publication", "variant__product__gift_card")
        .prefetch_related(
            Prefetch("variant__option_values", queryset=OptionValue.objects.select_related("option")),
            Prefetch("variant__product__images", queryset=ProductImage.objects.order_by("position", "pk")),
        )
        .order_by("created_at", "pk")
    )


def _seen(lines) -> list:
    """Everything a cart page, a checkout step or placing reads of the lines."""
    seen = []
    for line in lines:
        variant, product = line.variant, line.variant.product
        try:
            sold_in = product.publication.sold_in
        except Publication.DoesNotExist:
            sold_in = None
        seen.append((
            line.pk, line.quantity, line.unit_price, variant.pk, variant.sku, variant.price, variant.is_active,
            product.pk, product.title, product.status, product.category_id, sold_in, hasattr(product, "gift_card"),
            [(v.pk, v.option.name, v.value) for v in variant.option_values.all()],
            [(image.pk, image.position, image.product.title) for image in product.images.all()],
        ))
    return seen


@pytest.mark.parametrize("customer", [False, True])
def test_the_precompiled_lines_read_what_the_queryset_reads_and_nothing_more(customer, django_assert_num_queries):
    # given a cart: a product in two variants (colour and size), with pictures in shuffled
    # positions; another sold in shops only; added in an order that is not the ids'
    colour = f.OptionFactory(name="Colour", slug="colour", position=0)
    size = f.OptionFactory(name="Size", slug="size", position=1)
    tent = f.ProductFactory(title="Tent")
    red = f.VariantFactory(product=tent, sku="T-R-S", price=Decimal("99.50"), option_values=[
        f.OptionValueFactory(option=size, slug="s", value="S"),
        f.OptionValueFactory(option=colour, slug="red", value="Red")])
    blue = f.VariantFactory(product=tent, sku="T-B-L", price=Decimal("101.00"), option_values=[
        f.OptionValueFactory(option=colour, slug="blue", value="Blue"),
        f.OptionValueFactory(option=size, slug="l", value="L")])
    for position in (2, 0, 1):
        ProductImage.objects.create(product=tent, image=png_file(f"tent-{position}.png"), position=position)
    stove = f.ProductFactory(title="Stove")
    Publication.objects.create(product=stove, sold_in=Publication.SoldIn.SHOPS)
    single = f.VariantFactory(product=stove, sku="S-1", price=Decimal("20.00"))
    user = UserFactory() if customer else None
    cart = Cart.objects.create(user=user)
    for variant, quantity in ((blue, 2), (single, 1), (red, 3)):
        CartLine.objects.create(cart=cart, variant=variant, quantity=quantity, unit_price=variant.price)
    expected = _seen(_orm_lines(cart))

    # when: lines, option values, pictures (three queries), then nothing more to read them all
    with django_assert_num_queries(3):
        lines = cart_lines(user_id=user.pk if customer else None, guest_cart_id=None if customer else cart.pk,
                           images=True)
    with django_assert_num_queries(0):
        seen = _seen(lines)

    # then
    assert seen == expected
    assert [line.variant.sku for line in lines] == ["T-B-L", "S-1", "T-R-S"]
    assert [v.value for v in lines[0].variant.option_values.all()] == ["Blue", "L"]  # the option's position first
    assert [image.position for image in lines[0].variant.product.images.all()] == [0, 1, 2]


def test_a_guest_never_reads_a_customers_cart():
    cart = Cart.objects.create(user=UserFactory())
    CartLine.objects.create(cart=cart, variant=f.VariantFactory(), quantity=1, unit_price=Decimal("1.00"))

    assert cart_lines(user_id=None, guest_cart_id=cart.pk, images=False) == []
