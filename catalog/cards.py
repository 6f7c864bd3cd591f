"""What a product card shows, computed once per grid in Python (issue 9, "a cold page is cheap").

A grid used to render each card through an `{% include %}`, the `picture` inclusion tag and the
wishlist form's own include with four `{% url %}`s: about a millisecond per card on a cold page.
`product_cards` computes every value a card prints (its link, picture, prices as text) in one
pass, building URLs from a prefix reversed once, and `catalog/_product_grid.html` prints them in
one loop. The HTML is the same as before (`bench/cold_render.py --compare-html`).

The products come from `selectors.with_card_data` (and, in a listing, `pick_card_pictures`).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.files.storage import default_storage
from django.urls import reverse

from shop.money import format_money

_SLUG = "card-slug-placeholder"


@dataclass(slots=True)
class CardPicture:
    src: str
    srcset: str
    width: int | None
    height: int | None


@dataclass(slots=True)
class Card:
    pk: int
    url: str  # the product page, with the colour a filtered listing chose (`card_query`)
    title: str
    brand: str
    in_stock: bool
    on_sale: bool  # a compare-at price above the price
    from_price: bool  # variants at different prices: "from $12.00"
    price: str  # formatted, "" without a price
    was: str  # the compare-at price, formatted, when on sale
    picture: CardPicture | None
    labels: tuple[str, ...] = ()  # sale labels every shopper gets ("15% off": promotions/labels.py)


def _greater(a: Decimal | None, b: Decimal | None) -> bool:
    """`a > b` as the template's `{% if a and a > b %}` read it: false when either is missing."""
    return bool(a) and b is not None and a > b


def card_picture(image) -> CardPicture | None:
    """What `{% picture %}` printed for `image`: the largest rendition as src, all as a srcset."""
    if image is None:
        return None
    renditions = image.renditions
    if renditions:
        pairs = sorted((int(width), path) for width, path in renditions.items())
        srcset = ", ".join(f"{default_storage.url(path)} {width}w" for width, path in pairs)
        src = default_storage.url(pairs[-1][1])
    else:
        srcset, src = "", image.image.url
    return CardPicture(src, srcset, image.width or None, image.height or None)


def product_cards(products) -> list[Card]:
    """A card for each product, in order."""
    prefix, _, suffix = reverse("catalog:product", kwargs={"slug": _SLUG}).partition(_SLUG)
    money: dict[Decimal | None, str] = {}

    def formatted(amount: Decimal | None) -> str:
        if amount not in money:
            money[amount] = format_money(amount)
        return money[amount]

    # Sale prices and labels, from the promotions checkout applies (none: no query, nothing changes).
    from promotions.labels import card_promotions

    promoted = card_promotions(products)
    cards = []
    for product in products:
        if hasattr(product, "card_image"):
            image = product.card_image
        else:
            images = getattr(product, "ordered_images", None)
            image = images[0] if images else None
        query = getattr(product, "card_query", "")
        price, compare_at, max_price = product.price, product.compare_at_price, product.max_price
        promotion = promoted.get(product.pk)
        if promotion is not None and _greater(price, promotion.price):
            # The price after the promotion, struck through from the higher of price and compare-at.
            compare_at = compare_at if _greater(compare_at, price) else price
            price, max_price = promotion.price, promotion.max_price
        on_sale = _greater(compare_at, price)
        brand = product.brand
        cards.append(Card(
            pk=product.pk,
            url=f"{prefix}{product.slug}{suffix}{'?' + query if query else ''}",
            title=product.title,
            brand=brand.name if brand is not None else "",
            in_stock=bool(product.in_stock),
            on_sale=on_sale,
            from_price=bool(max_price) and max_price != price,
            price=formatted(price),
            was=formatted(compare_at) if on_sale else "",
            picture=card_picture(image),
            labels=promotion.labels if promotion is not None else (),
        ))
    return cards
