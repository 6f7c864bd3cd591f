"""Sale labels on product pages ("10% off", "Buy 2 get 1 free"), from the rules checkout applies.

Only what every shopper gets can be on a page the shared cache serves to everyone: automatic
product discounts with no condition about the shopper or the rest of the cart (no segment,
first order, signed-in, country, minimum subtotal). Each label comes from the same engine
`Offer` the cart prices with, and shows only while the offer's schedule holds.

The product page depends on its product's version (catalog/versions.py); what changes a label
bumps exactly the products it is about (`products_of`), after commit: staff saving or deleting
a promotion (`admin.py`), and a promotion's start or end passing (`bump_due_labels`, run every
minute by beat: it bumps only the promotions whose start or end fell since its last run).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import versions
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


def product_labels(*, product, variants, attribute_value_ids, category_ids, now: datetime | None = None) -> list[tuple[str, str]]:
    """(promotion name, label) for each public offer on `product` now (no query when offers are cached)."""
    now = now or timezone.now()
    result = []
    for offer in offers.live().offers:
        if not is_public(offer):
            continue
        if (offer.starts_at and now < offer.starts_at) or (offer.ends_at and now >= offer.ends_at):
            continue
        for variant in variants:
            line = engine.Line(key=variant.pk, product_id=product.pk, unit_price=variant.price, quantity=1,
                               category_ids=frozenset(category_ids), brand_id=product.brand_id,
                               attribute_value_ids=frozenset(attribute_value_ids), on_sale=variant.on_sale)
            if offer.matches(line):
                result.append((offer.name, label_text(offer)))
                break
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
    """Bump (after commit) the product pages the labels of `promotions` are on; return how many."""
    from catalog.models import Product

    ids: set[int] = set()
    for promotion in promotions:
        if promotion.reward not in LABELLED or promotion.trigger != Promotion.Trigger.AUTOMATIC:
            continue
        found = products_of(promotion)
        if found is None:
            ids = set(Product.objects.values_list("pk", flat=True))
            break
        ids |= found
    if ids:
        versions.bump_on_commit({versions.product_key(pk) for pk in ids})
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
