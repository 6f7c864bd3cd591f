"""Sale labels on product pages ("10% off", "Buy 2 get 1 free"), from the rules checkout applies.

Only what every shopper gets can be on a page the shared cache serves to everyone: automatic
product discounts with no condition about the shopper or the rest of the cart (no segment,
first order, signed-in, country, minimum subtotal). Each label comes from the same engine
`Offer` the cart prices with, and shows only while the offer's schedule holds.

The product page depends on its product's version (catalog/versions.py); what changes a label
bumps exactly the products it is about (`products_of`), after commit: staff saving or deleting
a promotion (`admin.py`), and a promotion's start or end passing (`bump_due_labels`, run every
minute by beat: it bumps only the promotions whose start or end fell since its last run).

Product cards (listings, search, home, related products) show the same labels and the price after
them (`card_promotions`, called by `catalog.cards.product_cards`): each variant priced by
`engine.apply` alone, as a cart of one unit would be. What changes a label bumps the products'
cards and their categories' listings too (`catalog.invalidation.products_changed`), and a page
showing a product a public promotion starts or ends on is kept in the shared cache only until
that moment (`catalog.versions.valid_until`), so no cached page shows a label past its end, even
between two beat runs. Cards cost no query beyond the cached offers, except one per grid when a
live public offer names variants or attribute values or leaves out sale items (their variants).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import invalidation, versions
from shop.money import format_money

from . import engine, offers
from .models import Promotion

LABELLED = (engine.PERCENT_LINES, engine.FIXED_LINES, engine.FIXED_PRICE, engine.BUY_X_GET_Y)
CHECKED_KEY = "promotions:labels:checked"


def is_public(offer: engine.Offer) -> bool:
    """The offer applies to any shopper on the product alone: it may be shown on a shared page."""
    return (not offer.needs_code and offer.reward in LABELLED and offer.segment_id is None
            and not offer.first_order_only and not offer.signed_in_only and not offer.countries
            and offer.min_subtotal is None and (offer.remaining_uses is None or offer.remaining_uses > 0)
            and (offer.remaining_budget is None or offer.remaining_budget > 0))


def label_text(offer: engine.Offer) -> str:
    value = offer.value.normalize()
    if offer.reward == engine.PERCENT_LINES:
        return _("%(percent)s%% off") % {"percent": f"{value:f}"}
    if offer.reward == engine.FIXED_LINES:
        return _("%(amount)s off each") % {"amount": format_money(offer.value)}
    if offer.reward == engine.FIXED_PRICE:
        return _("Now %(amount)s") % {"amount": format_money(offer.value)}
    if offer.value >= 100:
        return _("Buy %(buy)d, get %(get)d free") % {"buy": offer.buy_quantity, "get": offer.get_quantity}
    return _("Buy %(buy)d, get %(get)d at %(percent)s%% off") % {
        "buy": offer.buy_quantity, "get": offer.get_quantity, "percent": f"{value:f}"}


def _public_offers(now: datetime) -> list[engine.Offer]:
    """The public offers not ended at `now` (those not started yet too: see `_next_change`)."""
    return [offer for offer in offers.live().offers
            if is_public(offer) and not (offer.ends_at and now >= offer.ends_at)]


def _started(offer: engine.Offer, now: datetime) -> bool:
    return not (offer.starts_at and now < offer.starts_at)


def _next_change(matched: list[engine.Offer], now: datetime) -> datetime | None:
    """When the labels of a product matched by `matched` change by themselves: the first start or end ahead."""
    moments = [moment for offer in matched for moment in (offer.starts_at, offer.ends_at)
               if moment is not None and moment > now]
    return min(moments, default=None)


def product_labels(*, product, variants, attribute_value_ids, category_ids, now: datetime | None = None) -> list[tuple[str, str]]:
    """(promotion name, label) for each public offer on `product` now (no query when offers are cached)."""
    now = now or timezone.now()
    lines = [engine.Line(key=variant.pk, product_id=product.pk, unit_price=variant.price, quantity=1,
                         category_ids=frozenset(category_ids), brand_id=product.brand_id,
                         attribute_value_ids=frozenset(attribute_value_ids), on_sale=variant.on_sale)
             for variant in variants]
    matched = [offer for offer in _public_offers(now) if any(offer.matches(line) for line in lines)]
    change = _next_change(matched, now)
    if change is not None:
        versions.valid_until(change)
    shown, _prices = _priced(lines, [offer for offer in matched if _started(offer, now)], engine.Context(now=now))
    return [(offer.name, label_text(offer)) for offer in shown]


def _priced(lines: list[engine.Line], live: list[engine.Offer], context: engine.Context
            ) -> tuple[list[engine.Offer], list[Decimal]]:
    """The offers checkout would apply to some line of one unit (a buy X get Y: of X + Y units),
    in their order, and each line's unit price after them."""
    applied: set[int] = set()
    prices = []
    for line in lines:
        priced = engine.apply(lines=[line], offers=live, context=context)
        applied.update(a.offer_id for a in priced.applied)
        prices.append(line.unit_price - priced.line_discounts[line.key])
        for offer in live:
            if offer.reward == engine.BUY_X_GET_Y and offer.id not in applied:
                group = replace(line, quantity=offer.buy_quantity + offer.get_quantity)
                if any(a.offer_id == offer.id for a in engine.apply(lines=[group], offers=live, context=context).applied):
                    applied.add(offer.id)
    return [offer for offer in live if offer.id in applied], prices


@dataclass(frozen=True)
class CardPromotion:
    """What a product card shows of the public promotions on it now."""

    labels: tuple[str, ...]
    price: Decimal  # the cheapest variant after its discounts (one unit, as checkout prices it)
    max_price: Decimal  # the dearest variant after its discounts


def _needs_variants(public: list[engine.Offer]) -> bool:
    """Whether matching needs each variant (its id, attributes, sale flag) rather than the card's cheapest."""
    return any(offer.variant_ids or offer.attribute_value_ids or offer.exclude_sale_items for offer in public)


def _category_chains(category_ids: set[int]) -> dict[int, frozenset[int]]:
    """Each category with every one above it, from the cached category tree (the page reads it anyway)."""
    from catalog.selectors import category_tree

    parents = {node.id: node.parent_id for node in category_tree().by_id.values()}
    chains = {}
    for category_id in category_ids:
        chain, current = set(), category_id
        while current is not None and current not in chain:
            chain.add(current)
            current = parents.get(current)
        chains[category_id] = frozenset(chain)
    return chains


def _card_lines(products, public: list[engine.Offer]) -> dict[int, list[engine.Line]]:
    """Product id -> a one-unit line per variant a card stands for.

    From the card alone (its cheapest and dearest prices: no query) unless an offer needs the
    variants themselves; then one query for all of `products` (two if one names attribute values).
    """
    from catalog.models import Product, Variant

    chains = _category_chains({product.category_id for product in products})
    ids = [product.pk for product in products]
    if not _needs_variants(public):
        result = {}
        for product in products:
            if product.price is None:
                continue
            common = {"product_id": product.pk, "quantity": 1, "brand_id": getattr(product, "brand_id", None),
                      "category_ids": chains[product.category_id]}
            lines = [engine.Line(key=0, unit_price=product.price,
                                 on_sale=bool(product.compare_at_price and product.compare_at_price > product.price),
                                 **common)]
            if product.max_price is not None and product.max_price != product.price:
                lines.append(engine.Line(key=1, unit_price=product.max_price, **common))
            result[product.pk] = lines
        return result
    attributes: dict[int, set[int]] = {}
    if any(offer.attribute_value_ids for offer in public):
        through = Product.attribute_values.through
        for product_id, value_id in through.objects.filter(product_id__in=ids).values_list(
                "product_id", "attributevalue_id").order_by():
            attributes.setdefault(product_id, set()).add(value_id)
    chain_of = {product.pk: chains[product.category_id] for product in products}
    result: dict[int, list[engine.Line]] = {}
    for product_id, variant_id, price, compare_at, brand_id in Variant.objects.filter(
            product_id__in=ids, is_active=True).values_list(
            "product_id", "pk", "price", "compare_at_price", "product__brand_id").order_by("product_id", "pk"):
        result.setdefault(product_id, []).append(engine.Line(
            key=variant_id, product_id=product_id, unit_price=price, quantity=1, category_ids=chain_of[product_id],
            brand_id=brand_id, attribute_value_ids=frozenset(attributes.get(product_id, ())),
            on_sale=bool(compare_at and compare_at > price)))
    return result


def card_promotions(products, *, now: datetime | None = None) -> dict[int, CardPromotion]:
    """Product id -> its labels and prices after the public promotions on it now, for `products`
    (objects with a card's fields: `catalog.card_rows.CardProduct`, or products `with_card_data`).

    Priced by the engine as checkout prices one unit of each variant (a buy X get Y needs more
    units: it is labelled, the price stays). Products no public offer is about are left out.
    Records on the page being rendered when any shown label starts or ends (`versions.valid_until`).
    """
    products = list(products)
    if products and all(hasattr(product, "card_promotion") for product in products):
        return {product.pk: product.card_promotion for product in products if product.card_promotion is not None}
    now = now or timezone.now()
    public = _public_offers(now) if products else []
    if not public:
        return {}
    context = engine.Context(now=now)
    result = {}
    changes = []
    for product_id, lines in _card_lines(products, public).items():
        matched = [offer for offer in public if any(offer.matches(line) for line in lines)]
        changes.append(_next_change(matched, now))
        live = [offer for offer in matched if _started(offer, now)]
        if not live:
            continue
        shown, prices = _priced(lines, live, context)
        if shown:
            result[product_id] = CardPromotion(labels=tuple(label_text(offer) for offer in shown),
                                               price=min(prices), max_price=max(prices))
    change = min((moment for moment in changes if moment is not None), default=None)
    if change is not None:
        versions.valid_until(change)
    return result


def products_of(promotion: Promotion) -> set[int] | None:
    """Ids of the products `promotion`'s labels are about; None for "every product" (no item list)."""
    from catalog.models import Category, Product, Variant

    if not (promotion.products.exists() or promotion.variants.exists() or promotion.categories.exists()
            or promotion.brands.exists() or promotion.attribute_values.exists()):
        return None
    from customers.selectors.segments import category_and_descendant_ids

    parents = dict(Category.objects.values_list("id", "parent_id"))
    categories = {c for pk in promotion.categories.values_list("pk", flat=True)
                  for c in category_and_descendant_ids(pk, parents=parents)}
    match = (Q(pk__in=promotion.products.values("pk")) | Q(category_id__in=categories)
             | Q(brand__in=promotion.brands.values("pk")) | Q(attribute_values__in=promotion.attribute_values.values("pk"))
             | Q(pk__in=Variant.objects.filter(pk__in=promotion.variants.values("pk")).values("product_id")))
    return set(Product.objects.filter(match).values_list("pk", flat=True).distinct())


def bump_products_of(promotions) -> int:
    """Bump (after commit) the product pages, cards and their categories' listings the labels of
    `promotions` are on; return how many products. A promotion with no item list is on every
    product: that bumps the structure version (every page) instead of every product's keys."""
    from catalog.models import Product

    ids: set[int] = set()
    for promotion in promotions:
        if promotion.reward not in LABELLED or promotion.trigger != Promotion.Trigger.AUTOMATIC:
            continue
        found = products_of(promotion)
        if found is None:
            versions.bump_on_commit({versions.VERSION_KEY})
            return Product.objects.count()
        ids |= found
    invalidation.products_changed(ids)
    return len(ids)


def bump_due_labels(*, now: datetime | None = None) -> int:
    """Bump the product pages of promotions that started or ended since the last run (beat, every
    minute; the first run looks back two minutes). Idempotent: a second run finds nothing new."""
    now = now or timezone.now()
    since = cache.get(CHECKED_KEY) or now - timedelta(minutes=2)
    due = Promotion.objects.filter(Q(starts_at__gt=since, starts_at__lte=now) | Q(ends_at__gt=since, ends_at__lte=now),
                                   is_active=True, trigger=Promotion.Trigger.AUTOMATIC, reward__in=LABELLED)
    bumped = bump_products_of(list(due))
    cache.set(CHECKED_KEY, now, None)
    if bumped:
        offers.forget()
    return bumped


def attach_card_promotions(products, *, now: datetime | None = None) -> None:
    """Price the cards of a page's several grids at once (the home page's two), so that
    `card_promotions` finds them on each product (`card_promotion`) and asks nothing more."""
    products = list(products)
    found = card_promotions(products, now=now)
    for product in products:
        product.card_promotion = found.get(product.pk)
