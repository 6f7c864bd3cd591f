"""The dry run: replay the last N days of paid orders against a promotion, before it starts.

Each order is rebuilt as the engine's cart (its lines at the prices paid, its delivery country
and shipping, whether its buyer was signed in and had ordered before) and the promotion applied
alone, as if its code had been entered and its schedule and limits did not matter. The other
live promotions are replayed the same way on the orders it touches: those that would also apply
overlap it. Reads only: nothing is written. Queries: the orders with their lines (3), the buyers'
earlier orders (1), one per segment named, the products' attribute values if an offer names
some (1), the live offers (cached) and the promotion's conditions (2).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

from django.db.models import Min, Prefetch
from django.utils import timezone

from catalog.selectors import category_tree
from orders.models import Order, OrderLine, paid_orders

from . import engine, offers
from .models import Promotion

MAX_ORDERS = 20_000


@dataclass(frozen=True)
class Overlap:
    name: str
    orders: int


@dataclass(frozen=True)
class DryRun:
    days: int
    orders: int  # paid orders in the period
    touched: int  # orders the promotion would have applied to
    cost: Decimal  # what it would have taken off them
    revenue: Decimal  # those orders' totals as they were paid
    overlaps: list[Overlap]
    examples: list[tuple[str, Decimal]]  # (order number, discount), the first 20
    truncated: bool  # more than MAX_ORDERS in the period: the latest were replayed

    @property
    def share(self) -> Decimal:
        return (self.cost / self.revenue * 100).quantize(Decimal("0.1")) if self.revenue else Decimal(0)


def _as_trial(offer: engine.Offer) -> engine.Offer:
    """The offer as if it ran at any time, without limits, its code entered."""
    return replace(offer, starts_at=None, ends_at=None, remaining_uses=None, remaining_budget=None, needs_code=False,
                   combines_with=frozenset({engine.PRODUCT, engine.ORDER, engine.SHIPPING}))


def dry_run(*, promotion: Promotion, days: int, now=None) -> DryRun:
    now = now or timezone.now()
    since = now - timedelta(days=days)
    target = _as_trial(offers.read(Promotion.objects.filter(pk=promotion.pk)).offers[0])
    others = [_as_trial(o) for o in offers.live().offers if o.id != promotion.pk]
    orders = list(
        Order.objects.filter(paid_orders(), created_at__gte=since, created_at__lt=now).order_by("-created_at")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.select_related("variant__product")))
        [:MAX_ORDERS + 1]
    )
    truncated = len(orders) > MAX_ORDERS
    orders = orders[:MAX_ORDERS]
    first_order = _first_orders(orders)
    segment_ids = {o.segment_id for o in [target, *others] if o.segment_id}
    members = _segment_members(segment_ids, {o.customer_id for o in orders if o.customer_id})
    tree = category_tree()
    attributes = _attribute_values(orders) if any(o.attribute_value_ids for o in [target, *others]) else {}
    touched, cost, revenue, examples = 0, Decimal(0), Decimal(0), []
    overlap_counts: dict[int, int] = {}
    names = {o.id: o.name for o in others}
    for order in orders:
        lines = [_line(line, tree, attributes) for line in order.lines.all()]
        if not lines:
            continue
        context = engine.Context(
            now=order.created_at, country=(order.shipping_address or {}).get("country", "").upper(),
            signed_in=order.user_id is not None,
            first_order=first_order.get(order.customer_id) in (None, order.pk),
            segment_ids=frozenset(s for s in segment_ids if order.customer_id in members.get(s, ())),
            shipping=order.shipping_total + order.shipping_discount,
        )
        result = engine.apply(lines=lines, offers=[target], context=context)
        if not result.applied:
            continue
        touched += 1
        cost += result.discount_total
        revenue += order.total
        if len(examples) < 20:
            examples.append((order.number, result.discount_total))
        for other in others:
            if engine.apply(lines=lines, offers=[other], context=context).applied:
                overlap_counts[other.id] = overlap_counts.get(other.id, 0) + 1
    overlaps = sorted((Overlap(names[pk], n) for pk, n in overlap_counts.items()), key=lambda o: (-o.orders, o.name))
    return DryRun(days=days, orders=len(orders), touched=touched, cost=cost, revenue=revenue, overlaps=overlaps,
                  examples=examples, truncated=truncated)


def _attribute_values(orders: list[Order]) -> dict[int, frozenset[int]]:
    from catalog.models import Product

    product_ids = {line.variant.product_id for order in orders for line in order.lines.all() if line.variant}
    found: dict[int, set[int]] = {}
    for product_id, value_id in Product.attribute_values.through.objects.filter(
            product_id__in=product_ids).values_list("product_id", "attributevalue_id"):
        found.setdefault(product_id, set()).add(value_id)
    return {pk: frozenset(values) for pk, values in found.items()}


def _line(line: OrderLine, tree, attributes: dict[int, frozenset[int]]) -> engine.Line:
    return order_line(line, line.variant, tree, attributes)


def order_line(line: OrderLine, variant, tree, attributes: dict[int, frozenset[int]]) -> engine.Line:
    """An order line as the engine's cart line, at the price it was bought at (`variant`: its
    variant with its product, None when deleted; the category tree; product id -> attribute values)."""
    product = variant.product if variant is not None else None
    node = tree.by_id.get(product.category_id) if product is not None else None
    categories = frozenset(c.id for c in tree.ancestors(node)) if node else frozenset()
    return engine.Line(
        key=line.variant_id or -line.pk, product_id=product.pk if product is not None else 0,
        unit_price=line.unit_price, quantity=line.quantity, category_ids=categories,
        brand_id=product.brand_id if product is not None else None,
        attribute_value_ids=attributes.get(product.pk, frozenset()) if product is not None else frozenset(),
        on_sale=bool(variant is not None and variant.on_sale),
    )


def _first_orders(orders: list[Order]) -> dict[int, int]:
    """customer id -> the pk of their first paid order (one query)."""
    customers = {o.customer_id for o in orders if o.customer_id}
    firsts = (Order.objects.filter(paid_orders(), customer_id__in=customers).values("customer_id")
              .annotate(first=Min("pk")).values_list("customer_id", "first"))
    return dict(firsts)


def _segment_members(segment_ids: set[int], customer_ids: set[int]) -> dict[int, set[int]]:
    if not segment_ids or not customer_ids:
        return {}
    from customers.models import Customer, Segment
    from customers.selectors.segments import segment_filter

    return {
        segment.pk: set(Customer.objects.filter(segment_filter(segment), pk__in=customer_ids).values_list("pk", flat=True))
        for segment in Segment.objects.filter(pk__in=segment_ids)
    }
