"""Segment membership and figures.

`segment_customers` turns a segment into a queryset of its members, evaluated when asked (a rule
segment is always current). `segment_figures` gives the size and revenue of any number of
segments in one aggregate query. Erased customers are in no segment.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from catalog.models import Category
from orders.models import Order, OrderLine, paid_orders

from ..models import Customer, Segment

# What "bought from a category" counts: paid orders not wholly refunded (a returned purchase is
# no sign of interest to market to).
def bought_orders(prefix: str = "") -> Q:
    return paid_orders(prefix) & ~Q(**{f"{prefix}payment_status": Order.PaymentStatus.REFUNDED})


def category_and_descendant_ids(category_id: int, *, parents: dict[int, int | None] | None = None) -> list[int]:
    """The category and every category below it, active or not.

    Not catalog.selectors.category_tree: that tree holds only active categories (it is what
    shoppers may see), but a purchase from a category hidden since still counts. One small
    query over the category table, or none when `parents` (id -> parent id) is given.
    """
    if parents is None:
        parents = dict(Category.objects.values_list("id", "parent_id"))
    children: dict[int | None, list[int]] = {}
    for pk, parent in parents.items():
        children.setdefault(parent, []).append(pk)
    ids, stack = [], [category_id]
    while stack:
        current = stack.pop()
        ids.append(current)
        stack.extend(children.get(current, []))
    return ids


def segment_filter(segment: Segment, *, now: datetime | None = None,
                   category_parents: dict[int, int | None] | None = None) -> Q:
    """The condition a (not erased) customer must meet to be in `segment`.

    Related rows are tested with `pk__in` subqueries, never joins, so the condition can also
    filter an aggregate without multiplying rows (segment_figures relies on it).

    Rules (kind RULES), all that are set must hold; a rule segment with no rule set matches every
    customer:
    - min/max_total_spent, min_orders: the stored figures (refresh_customer_stats).
    - bought_from_category: a paid, not wholly refunded order with a line whose variant's product is in the category
      or any category below it.
    - no_order_for_days: no paid order in the last N days, including customers who never had one.
    - ordered_within_days: a paid order in the last N days.
    - has_marketing_consent, has_account, tag: as named.
    - used_promotion, used_code: a paid, not wholly refunded order whose promotion was not given
      back (`promotions.Redemption`, `released_at` empty) used the promotion / the code.
    """
    if segment.kind == Segment.Kind.RFM:
        return Q(rfm_segment=segment.rfm_segment)
    if segment.kind == Segment.Kind.MANUAL:
        return Q(pk__in=Segment.members.through.objects.filter(segment_id=segment.pk).values("customer_id"))
    now = now or timezone.now()
    q = Q()
    if segment.min_total_spent is not None:
        q &= Q(total_spent__gte=segment.min_total_spent)
    if segment.max_total_spent is not None:
        q &= Q(total_spent__lte=segment.max_total_spent)
    if segment.min_orders is not None:
        q &= Q(order_count__gte=segment.min_orders)
    if segment.bought_from_category_id is not None:
        categories = category_and_descendant_ids(segment.bought_from_category_id, parents=category_parents)
        q &= Q(pk__in=OrderLine.objects.filter(
            bought_orders("order__"), variant__product__category_id__in=categories,
            order__customer_id__isnull=False,
        ).values("order__customer_id"))
    if segment.no_order_for_days is not None:
        since = now - timedelta(days=segment.no_order_for_days)
        q &= Q(last_order_at__isnull=True) | Q(last_order_at__lt=since)
    if segment.ordered_within_days is not None:
        q &= Q(last_order_at__gte=now - timedelta(days=segment.ordered_within_days))
    if segment.has_marketing_consent is not None:
        q &= Q(accepts_marketing=segment.has_marketing_consent)
    if segment.has_account is not None:
        q &= Q(user__isnull=not segment.has_account)
    if segment.tag_id is not None:
        q &= Q(pk__in=Customer.tags.through.objects.filter(tag_id=segment.tag_id).values("customer_id"))
    if segment.used_promotion_id is not None or segment.used_code:
        from promotions.models import Redemption

        used = Redemption.objects.filter(bought_orders("order__"), released_at__isnull=True,
                                         order__customer_id__isnull=False)
        if segment.used_promotion_id is not None:
            q &= Q(pk__in=used.filter(promotion_id=segment.used_promotion_id).values("order__customer_id"))
        if segment.used_code:
            q &= Q(pk__in=used.filter(code__code=segment.used_code).values("order__customer_id"))
    return q


def segment_customers(segment: Segment, *, now: datetime | None = None) -> QuerySet[Customer]:
    """The segment's members (never erased customers), in the default customer ordering.

    One query when evaluated (plus one over the category table for a category rule).
    """
    return Customer.objects.active().filter(segment_filter(segment, now=now))


@dataclass(frozen=True)
class SegmentFigures:
    size: int
    revenue: Decimal
    # The segment's share of every customer's lifetime value, 0 to 1 (0 when nobody spent).
    revenue_share: Decimal


def segment_figures(segments: Iterable[Segment], *, now: datetime | None = None) -> dict[int, SegmentFigures]:
    """Size and revenue of each segment, by segment pk.

    A constant number of queries, however many segments: one aggregate query computes every
    segment's count and sum at once (a filtered Count/Sum per segment) together with all
    customers' total, plus one read of the category table when a segment has a category rule.
    """
    segments = list(segments)
    now = now or timezone.now()
    parents = None
    if any(s.kind == Segment.Kind.RULES and s.bought_from_category_id for s in segments):
        parents = dict(Category.objects.values_list("id", "parent_id"))
    active = Q(erased_at__isnull=True)
    aggregates = {"all_spent": Sum("total_spent")}
    for segment in segments:
        condition = active & segment_filter(segment, now=now, category_parents=parents)
        aggregates[f"n_{segment.pk}"] = Count("pk", filter=condition)
        aggregates[f"s_{segment.pk}"] = Sum("total_spent", filter=condition)
    totals = Customer.objects.aggregate(**aggregates)
    everyone = Decimal(totals["all_spent"] or 0).quantize(Decimal("0.01"))
    figures = {}
    for segment in segments:
        # SQLite sums decimals as floats: round to cents, as the figures are stored.
        revenue = Decimal(totals[f"s_{segment.pk}"] or 0).quantize(Decimal("0.01"))
        share = (revenue / everyone).quantize(Decimal("0.0001")) if everyone else Decimal("0")
        figures[segment.pk] = SegmentFigures(size=totals[f"n_{segment.pk}"], revenue=revenue, revenue_share=share)
    return figures
