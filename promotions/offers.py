"""The live promotions as engine `Offer`s: read in two queries, kept in the shared cache.

Kept until a promotion, its conditions or its codes change (`promotions/signals.py`) or an order
moves a limited promotion's counters (`services.redeem`), at most `OFFERS_SECONDS`. Promotions
that have not started yet are included: the engine checks the schedule against the clock, so a
promotion starts and ends on time without anyone forgetting anything.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from django.core.cache import cache
from django.db import router
from django.db.models import CharField, Q, Value
from django.utils import timezone

from catalog import precompiled

from . import engine
from .models import Promotion

CACHE_KEY = "promotions:offers:v1"
OFFERS_SECONDS = 300


@dataclass(frozen=True)
class Snapshot:
    offers: tuple[engine.Offer, ...]
    per_customer_limit: dict[int, int]  # offer id -> uses allowed per customer

    @property
    def uses_attributes(self) -> bool:
        return any(offer.attribute_value_ids for offer in self.offers)

    @property
    def segment_ids(self) -> set[int]:
        return {offer.segment_id for offer in self.offers if offer.segment_id is not None}

    @property
    def asks_first_order(self) -> bool:
        return any(offer.first_order_only for offer in self.offers)


def forget() -> None:
    cache.delete(CACHE_KEY)


def live() -> Snapshot:
    """Every active promotion not ended yet (two queries on a cache miss, none otherwise).

    The queries are compiled once per process (`catalog.precompiled`): on a cold storefront page
    building them through the ORM cost more than running them.
    """
    snapshot = cache.get(CACHE_KEY)
    if snapshot is None:
        alias = router.db_for_read(Promotion)
        rows = [Promotion.from_db(alias, None, values)
                for values in precompiled.rows("promotions:live", _live, timezone.now(), model=Promotion)]
        snapshot = _snapshot(rows)
        cache.set(CACHE_KEY, snapshot, OFFERS_SECONDS)
    return snapshot


def _live(now):
    return (Promotion.objects.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now), is_active=True)
            .order_by("priority", "pk").values_list(*(f.attname for f in Promotion._meta.concrete_fields)))


def read(promotions) -> Snapshot:
    """`promotions` (a queryset) as a snapshot: the rows, then every condition list in one UNION."""
    return _snapshot(list(promotions.order_by("priority", "pk")))


def _condition_lists(ids: list[int]):
    parts = []
    for name, column in (("products", "product_id"), ("variants", "variant_id"), ("categories", "category_id"),
                         ("brands", "brand_id"), ("attribute_values", "attributevalue_id")):
        through = getattr(Promotion, name).through
        parts.append(through.objects.filter(promotion_id__in=ids).annotate(list=Value(name, output_field=CharField()))
                     .values_list("promotion_id", "list", column).order_by())
    return parts[0].union(*parts[1:], all=True)


def _snapshot(rows: list[Promotion]) -> Snapshot:
    if not rows:
        return Snapshot(offers=(), per_customer_limit={})
    lists: dict[tuple[int, str], set[int]] = {}
    found = precompiled.rows("promotions:lists", _condition_lists, [row.pk for row in rows], model=Promotion)
    for promotion_id, name, value in found:
        lists.setdefault((promotion_id, name), set()).add(value)
    return Snapshot(
        offers=tuple(to_offer(row, lists) for row in rows),
        per_customer_limit={row.pk: row.per_customer_limit for row in rows if row.per_customer_limit},
    )


def to_offer(row: Promotion, lists: dict[tuple[int, str], set[int]]) -> engine.Offer:
    def ids(name: str) -> frozenset[int]:
        return frozenset(lists.get((row.pk, name), ()))

    combines = frozenset(kind for kind, flag in ((engine.PRODUCT, row.combines_with_product),
                                                 (engine.ORDER, row.combines_with_order),
                                                 (engine.SHIPPING, row.combines_with_shipping)) if flag)
    return engine.Offer(
        id=row.pk, name=row.name, reward=row.reward, value=row.value, priority=row.priority,
        needs_code=row.trigger == Promotion.Trigger.CODE, combines_with=combines,
        starts_at=row.starts_at, ends_at=row.ends_at,
        product_ids=ids("products"), variant_ids=ids("variants"), category_ids=ids("categories"),
        brand_ids=ids("brands"), attribute_value_ids=ids("attribute_values"),
        exclude_sale_items=row.exclude_sale_items, min_subtotal=row.min_subtotal, min_quantity=row.min_quantity,
        segment_id=row.segment_id, first_order_only=row.first_order_only, signed_in_only=row.signed_in_only,
        countries=frozenset(row.country_list()), buy_quantity=row.buy_quantity, get_quantity=row.get_quantity,
        max_applications=row.max_applications, gift_variant_id=row.gift_variant_id,
        remaining_uses=None if row.usage_limit is None else max(row.usage_limit - row.uses, 0),
        remaining_budget=None if row.budget is None else max(row.budget - row.spent, 0),
    )


def with_counters(offer: engine.Offer, row: Promotion) -> engine.Offer:
    """`offer` with the counters of `row` as just read (a code's promotion, read fresh)."""
    return replace(
        offer,
        remaining_uses=None if row.usage_limit is None else max(row.usage_limit - row.uses, 0),
        remaining_budget=None if row.budget is None else max(row.budget - row.spent, 0),
    )
