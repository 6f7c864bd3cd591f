"""What the units a customer keeps after a return still earn from the promotions of their order.

A buy X get Y or a free gift is earned by the rest of the cart: once part of it comes back, the
items kept may no longer qualify (docs/decisions.md, "Returns of promotions"). `replayer` replays
the order's own promotions with the engine on the kept units, at the prices paid, as they were
when the order was placed: code entered, schedule, limits and the shopper's conditions (segment,
first order, signed in, country) taken as met, since they held then; only what depends on the
cart (the items, buy X get Y, the gift, minimum quantity or subtotal) is judged again.

It replays only when one of the order's promotions depends on the cart that way; and only when
replaying the whole order gives back exactly the discounts recorded on its lines (a promotion
edited or a product moved since would make the replay say something else: the recorded shares
then stay the rule, `orders.refund_shares`). Pure once built: `replay(facts, offers, context)`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from babel.numbers import get_currency_precision

from . import engine


@dataclass(frozen=True)
class Reprice:
    """Kept units (order line id -> units) -> each kept line's discount from the order's promotions."""

    reprice: Callable[[Mapping[int, int]], dict[int, Decimal]]
    names: tuple[str, ...]  # the order's promotions whose discount depends on the rest of the cart

    def __call__(self, kept: Mapping[int, int]) -> dict[int, Decimal]:
        return self.reprice(kept)


def depends_on_cart(offer: engine.Offer) -> bool:
    """The offer's discount on a unit depends on what else is bought with it."""
    return (offer.reward in (engine.BUY_X_GET_Y, engine.FREE_GIFT) or bool(offer.min_quantity)
            or offer.min_subtotal is not None)


def as_placed(offer: engine.Offer) -> engine.Offer:
    """The offer as it held when the order was placed: everything about time, limits and the shopper met."""
    return replace(offer, starts_at=None, ends_at=None, remaining_uses=None, remaining_budget=None, needs_code=False,
                   segment_id=None, first_order_only=False, signed_in_only=False, countries=frozenset())


def replay(facts: Mapping[int, engine.Line], offers: list[engine.Offer], context: engine.Context,
           recorded: Mapping[int, Decimal]) -> Reprice | None:
    """Kept units (order line id -> units) -> each kept line's discount (`Reprice`), or None.

    `facts`: order line id -> its engine line (any quantity); `recorded`: order line id -> the
    discount recorded on it at purchase. None when no offer depends on the cart, or when the
    replay of every unit does not give back `recorded` exactly.
    """
    trial = [as_placed(offer) for offer in offers]
    if not any(depends_on_cart(offer) for offer in trial):
        return None
    if len({line.key for line in facts.values()}) != len(facts):
        return None  # two lines of one variant: the engine knows one line per variant

    def reprice(kept: Mapping[int, int]) -> dict[int, Decimal]:
        cart = [replace(facts[pk], quantity=units) for pk, units in kept.items() if units > 0]
        result = engine.apply(lines=cart, offers=trial, context=context)
        return {pk: result.line_discounts[facts[pk].key] for pk, units in kept.items() if units > 0}

    whole = reprice({pk: facts[pk].quantity for pk in facts})
    if any(whole.get(pk, Decimal(0)) != recorded.get(pk, Decimal(0)) for pk in facts):
        return None
    return Reprice(reprice, tuple(offer.name for offer in trial if depends_on_cart(offer)))


def replayer(*, order, lines) -> Reprice | None:
    """`replay` for `order` and its `lines` (OrderLine, all of them), read from the database:
    its promotions (2 queries), the lines' variants (1) and, if a promotion names attribute
    values, theirs (1); nothing when its lines name no promotion."""
    from catalog.models import Product, Variant
    from catalog.selectors import category_tree

    from . import offers
    from .dryrun import order_line
    from .models import Promotion

    ids = {entry.get("promotion") for line in lines for entry in (line.discounts or ()) if entry.get("promotion")}
    if not ids:
        return None
    snapshot = offers.read(Promotion.objects.filter(pk__in=ids))
    if not any(depends_on_cart(offer) for offer in snapshot.offers):
        return None
    variants = Variant.objects.select_related("product").in_bulk([line.variant_id for line in lines if line.variant_id])
    attributes: dict[int, frozenset[int]] = {}
    if snapshot.uses_attributes:
        found: dict[int, set[int]] = {}
        for product_id, value_id in Product.attribute_values.through.objects.filter(
                product_id__in={v.product_id for v in variants.values()}).values_list("product_id", "attributevalue_id"):
            found.setdefault(product_id, set()).add(value_id)
        attributes = {pk: frozenset(values) for pk, values in found.items()}
    tree = category_tree()
    facts = {line.pk: order_line(line, variants.get(line.variant_id), tree, attributes) for line in lines}
    context = engine.Context(now=order.created_at, shipping=order.shipping_total + order.shipping_discount,
                             unit=Decimal(1).scaleb(-get_currency_precision(order.currency)))
    return replay(facts, list(snapshot.offers), context, {line.pk: line.discount_total for line in lines})
