"""Which of a product's pictures to show: pictures follow the option that changes the look.

A picture belongs to the whole product or to one value of an option marked `changes_look`
(Colour: Navy). These choose among pictures already loaded; they run no query.
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

if TYPE_CHECKING:
    from .models import Product, ProductImage
    from .selectors import ListingFilters


def pick_picture(images: list[ProductImage], value_ids: set[int]) -> ProductImage | None:
    """The picture to show for a choice of look values (e.g. the variant's colour).

    First a picture of one of `value_ids`, then one of the whole product, then any other; each
    in the staff's order. `images` is in position order.
    """
    return min(images, key=lambda image: _picture_rank(image, value_ids)) if images else None


def pictures_in_order(images: list[ProductImage], value_ids: set[int]) -> list[ProductImage]:
    """Every picture, those of `value_ids` first, then the whole product's, then the other looks'."""
    return sorted(images, key=lambda image: _picture_rank(image, value_ids))


def _picture_rank(image: ProductImage, value_ids: set[int]) -> int:
    if image.option_value_id in value_ids:
        return 0
    return 1 if image.option_value_id is None else 2


def pick_card_pictures(products: list[Product], filters: ListingFilters) -> None:
    """Set each card's `card_image` (and `card_query`, the product page's matching choice).

    In a listing filtered by a value of an option pictures follow (Colour: Navy), a card shows a
    picture of that value and links to the product in it; otherwise the product's main picture.
    The products come from `with_card_data` (their images are already loaded).
    """
    wanted = {(option, value) for option, values in filters.options.items() for value in values}
    for product in products:
        images = product.ordered_images
        product.card_image, product.card_query = (images[0] if images else None), ""
        looks = {image.option_value.option.slug for image in images if image.option_value_id}
        if not wanted or not looks & set(filters.options):
            continue
        matching = {
            image.option_value_id: image.option_value
            for image in images
            if image.option_value_id and (image.option_value.option.slug, image.option_value.slug) in wanted
        }
        product.card_image = pick_picture(images, set(matching))
        value = matching.get(product.card_image.option_value_id)
        if value is not None:
            product.card_query = urlencode({value.option.slug: value.slug})
