"""What a cart page, the checkout steps and placing read of a cart's lines, from precompiled SQL
(issue 9: the personal pages' budgets).

The lines used to be one queryset with `select_related` (variant, product, its publication and
gift card) and prefetches (option values with their option, the products' pictures), built and
compiled by the ORM on every request: on the checkout details step, ~3 ms of CPU for four queries
that run in a fraction of that. Here each statement is compiled once per process and shape
(`catalog.precompiled`: the number of variants or products is part of the shape) and the rows
become the same model instances, relations cached and prefetches filled in as the ORM fills them,
so `variant.option_values.all()` and `product.images.all()` ask nothing more.
"""
from __future__ import annotations

from django.db import router

from catalog import precompiled
from catalog.models import Option, OptionValue, Product, ProductImage, Variant
from giftcards.models import GiftCardProduct
from saleschannels.models import Publication

from .models import CartLine


def _attnames(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


def _prefixed(prefix: str, model) -> list[str]:
    return [f"{prefix}__{name}" for name in _attnames(model)]


LINE_FIELDS = _attnames(CartLine)
VARIANT_FIELDS = _attnames(Variant)
PRODUCT_FIELDS = _attnames(Product)
PUBLICATION_FIELDS = _attnames(Publication)
_COLUMNS = (*LINE_FIELDS, *_prefixed("variant", Variant), *_prefixed("variant__product", Product),
            *_prefixed("variant__product__publication", Publication),
            *_prefixed("variant__product__gift_card", GiftCardProduct))


def _customer_lines(user_id: int):
    return CartLine.objects.filter(cart__user=user_id).order_by("created_at", "pk").values_list(*_COLUMNS)


def _guest_lines(cart_id: int):
    return (CartLine.objects.filter(cart=cart_id, cart__user__isnull=True).order_by("created_at", "pk")
            .values_list(*_COLUMNS))


def _option_values(variant_ids: list[int]):
    through = Variant.option_values.through
    return (
        through.objects.filter(variant_id__in=variant_ids)
        # The order `OptionValue.Meta.ordering` gives the prefetch (through the option's position).
        .order_by(*[f"optionvalue__{name}" if not name.startswith("-") else f"-optionvalue__{name[1:]}"
                    for name in OptionValue._meta.ordering], "optionvalue__pk")
        .values_list("variant_id", *_prefixed("optionvalue", OptionValue), *_prefixed("optionvalue__option", Option))
    )


def _images(product_ids: list[int]):
    return (ProductImage.objects.filter(product_id__in=product_ids).order_by("position", "pk")
            .values_list(*_attnames(ProductImage)))


def cart_lines(*, user_id: int | None, guest_cart_id: int | None, images: bool) -> list[CartLine]:
    """The cart's lines, oldest first, each with its variant, product (publication, gift card),
    option values (with their option) and, with `images`, the product's pictures: two queries,
    three with pictures. The customer's cart when `user_id` is given, else the guest cart
    `guest_cart_id` (only if it belongs to no customer)."""
    alias = router.db_for_read(CartLine)
    if user_id is not None:
        rows = precompiled.rows("carts:customer-lines", _customer_lines, user_id, model=CartLine)
    else:
        rows = precompiled.rows("carts:guest-lines", _guest_lines, guest_cart_id, model=CartLine)
    if not rows:
        return []
    variant_at = len(LINE_FIELDS)
    product_at = variant_at + len(VARIANT_FIELDS)
    publication_at = product_at + len(PRODUCT_FIELDS)
    gift_card_at = publication_at + len(PUBLICATION_FIELDS)
    variant_field = CartLine._meta.get_field("variant")
    product_field = Variant._meta.get_field("product")
    publication_field = Product._meta.get_field("publication")
    gift_card_field = Product._meta.get_field("gift_card")
    lines, variants, products = [], {}, {}
    for row in rows:
        line = CartLine.from_db(alias, None, row[:variant_at])
        variant = variants.get(row[variant_at])
        if variant is None:
            variant = variants[row[variant_at]] = Variant.from_db(alias, None, row[variant_at:product_at])
        product = products.get(row[product_at])
        if product is None:
            product = products[row[product_at]] = Product.from_db(alias, None, row[product_at:publication_at])
            # LEFT JOINed one-to-ones: NULLs when the product has none (then `product.publication`
            # raises DoesNotExist without a query, as after `select_related`).
            publication, gift_card = row[publication_at:gift_card_at], row[gift_card_at:]
            publication_field.set_cached_value(
                product, Publication.from_db(alias, None, publication) if publication[0] is not None else None)
            gift_card_field.set_cached_value(
                product, GiftCardProduct.from_db(alias, None, gift_card) if gift_card[0] is not None else None)
        product_field.set_cached_value(variant, product)
        variant_field.set_cached_value(line, variant)
        lines.append(line)

    values_of: dict[int, list[OptionValue]] = {pk: [] for pk in variants}
    split = 1 + len(_attnames(OptionValue))
    options: dict[int, Option] = {}
    option_field = OptionValue._meta.get_field("option")
    for row in precompiled.rows("carts:option-values", _option_values, list(variants), model=Variant):
        value = OptionValue.from_db(alias, None, row[1:split])
        option = options.get(row[split])
        if option is None:
            option = options[row[split]] = Option.from_db(alias, None, row[split:])
        option_field.set_cached_value(value, option)
        values_of[row[0]].append(value)
    for pk, variant in variants.items():
        precompiled.set_prefetched(variant, "option_values", values_of[pk])

    if images:
        pictures: dict[int, list[ProductImage]] = {pk: [] for pk in products}
        image_product = ProductImage._meta.get_field("product")
        for row in precompiled.rows("carts:images", _images, list(products), model=ProductImage):
            image = ProductImage.from_db(alias, None, row)
            image_product.set_cached_value(image, products[image.product_id])
            pictures[image.product_id].append(image)
        for pk, product in products.items():
            precompiled.set_prefetched(product, "images", pictures[pk])
    return lines
