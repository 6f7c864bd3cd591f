"""Marketing: the orders and revenue each campaign brought, by the last verified click.

The rule (stated on the page too): an order belongs to the campaign of the **last verified
campaign click** made by the same shopper in the **`ANALYTICS_ATTRIBUTION_WINDOW_DAYS`** (default
7) days before it was placed. A click is an event with `utm_verified` (a link the store itself
signed: a marketing campaign's email or an order email, analytics/utm.py); hand-made UTM links
never count. "The same shopper" is the browser that placed the order (the visitor id of its
`order_placed` event) or, once known, the customer (events of any browser they were signed in
on). An order with no such click is "not attributed". One order goes to one campaign, so the
campaigns' figures and "not attributed" add up to every order paid in the range.

Orders are those paid in the range (store days, by `paid_at`, as in the sales report); an order's
revenue is what its succeeded payments took minus what its succeeded refunds gave back so far
(returns are refunds; a discount is already off what the payment took).

A "campaign" is a (utm_source, utm_campaign) pair: each marketing campaign (source `campaign`,
its id), each kind of order email (source `order_email`), and any other signed pair. Marketing
campaigns sent in the range show even with nothing attributed.

Cost: 5 queries whatever the range (orders with their money, the order_placed events, the
verified clicks, the marketing campaigns sent in the range, their names).
"""
from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import DecimalField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from .services import day_bounds

ZERO = Decimal("0")
CENT = Decimal("0.01")
NOT_ATTRIBUTED = ""
# An order's order_placed event is written as it is placed; a little slack for clocks and buffering.
PLACED_SLACK = datetime.timedelta(hours=1)


def window() -> datetime.timedelta:
    return datetime.timedelta(days=settings.ANALYTICS_ATTRIBUTION_WINDOW_DAYS)


def campaign_key(source: str, campaign: str) -> str:
    return f"{source}|{campaign}"


@dataclass
class Attributed:
    order_id: int
    number: str
    placed_at: datetime.datetime
    paid_at: datetime.datetime
    revenue: Decimal
    key: str  # campaign_key(...) or NOT_ATTRIBUTED
    clicked_at: datetime.datetime | None


@dataclass
class CampaignRow:
    key: str
    source: str
    campaign: str
    label: str
    clicks: int = 0  # verified campaign_click events in the range
    orders: int = 0
    revenue: Decimal = ZERO
    campaign_id: int | None = None  # the marketing campaign, when it is one

    @property
    def conversion(self) -> Decimal | None:
        if not self.clicks:
            return None
        return (Decimal(100) * self.orders / self.clicks).quantize(Decimal("0.1"))


@dataclass
class MarketingReport:
    first: datetime.date
    last: datetime.date
    window_days: int
    rows: list[CampaignRow]
    not_attributed: CampaignRow
    orders: list[Attributed] = field(repr=False)

    @property
    def total_orders(self) -> int:
        return sum(r.orders for r in self.rows) + self.not_attributed.orders

    @property
    def total_revenue(self) -> Decimal:
        return sum((r.revenue for r in self.rows), ZERO) + self.not_attributed.revenue

    def orders_of(self, key: str) -> list[Attributed]:
        return [o for o in self.orders if o.key == key]


def marketing_report(*, first: datetime.date, last: datetime.date) -> MarketingReport:
    """Attribute the orders paid in the store days `first`..`last`; 5 queries."""
    from marketing.models import Campaign
    from orders.models import Order
    from payments.models import Payment, Refund

    from .customer_reports import campaign_labels
    from .models import Event
    from .utm import CAMPAIGN_SOURCE

    start, _end = day_bounds(first)
    _start, end = day_bounds(last)
    span = window()
    money = DecimalField(max_digits=14, decimal_places=2)
    charged = (Payment.objects.filter(order=OuterRef("pk"), status=Payment.Status.SUCCEEDED)
               .order_by().values("order").annotate(s=Sum("amount")).values("s"))
    refunded = (Refund.objects.filter(payment__order=OuterRef("pk"), status=Refund.Status.SUCCEEDED)
                .order_by().values("payment__order").annotate(s=Sum("amount")).values("s"))
    orders = list(Order.objects.filter(paid_at__gte=start, paid_at__lt=end)
                  .annotate(charged=Coalesce(Subquery(charged), Value(ZERO), output_field=money),
                            refunded=Coalesce(Subquery(refunded), Value(ZERO), output_field=money))
                  .order_by("paid_at", "pk")
                  .values_list("pk", "number", "customer_id", "created_at", "paid_at", "charged", "refunded"))

    visitor_of: dict[int, str] = {}
    clicks_by_visitor: dict[str, list] = defaultdict(list)
    clicks_by_customer: dict[int, list] = defaultdict(list)
    click_counts: dict[str, int] = defaultdict(int)
    pairs: set[tuple[str, str]] = set()
    if orders:
        placed = [row[3] for row in orders]
        wanted = {row[0] for row in orders}
        events = Event.objects.filter(name="order_placed", occurred_at__gte=min(placed) - PLACED_SLACK,
                                      occurred_at__lt=max(placed) + PLACED_SLACK).exclude(visitor_id="")
        for visitor, properties in events.values_list("visitor_id", "properties"):
            order_id = (properties or {}).get("order_id")
            if order_id in wanted:
                visitor_of[order_id] = visitor
        clicks_from, clicks_until = min(min(placed) - span, start), max(max(placed), end)
    else:
        clicks_from, clicks_until = start, end
    clicks = (Event.objects.filter(utm_verified=True, occurred_at__gte=clicks_from, occurred_at__lt=clicks_until)
              .values_list("occurred_at", "visitor_id", "customer_id", "name", "utm_source", "utm_campaign"))
    for at, visitor, customer, name, source, campaign in clicks:
        click = (at, source, campaign)
        if visitor:
            clicks_by_visitor[visitor].append(click)
        if customer:
            clicks_by_customer[customer].append(click)
        if name == "campaign_click" and start <= at < end:
            click_counts[campaign_key(source, campaign)] += 1
            pairs.add((source, campaign))

    attributed = []
    for order_id, number, customer, placed_at, paid_at, took, gave in orders:
        candidates = clicks_by_visitor.get(visitor_of.get(order_id, ""), []) + clicks_by_customer.get(customer, [])
        fitting = [c for c in candidates if placed_at - span <= c[0] <= placed_at]
        best = max(fitting, default=None, key=lambda c: c[0])
        key = campaign_key(best[1], best[2]) if best else NOT_ATTRIBUTED
        if best:
            pairs.add((best[1], best[2]))
        attributed.append(Attributed(order_id, number, placed_at, paid_at, (Decimal(took) - Decimal(gave)).quantize(CENT), key,
                                     best[0] if best else None))

    # Marketing campaigns sent in the range show even with nothing attributed to them.
    sent = Campaign.objects.filter(sent_at__gte=start, sent_at__lt=end).values_list("pk", flat=True)
    pairs |= {(CAMPAIGN_SOURCE, str(pk)) for pk in sent}
    labels = campaign_labels(pairs)
    rows = {campaign_key(s, c): CampaignRow(campaign_key(s, c), s, c, labels[(s, c)],
                                            campaign_id=int(c) if s == CAMPAIGN_SOURCE and c.isdigit() else None)
            for s, c in pairs}
    for key, count in click_counts.items():
        rows[key].clicks = count
    none = CampaignRow(NOT_ATTRIBUTED, "", "", "")
    for order in attributed:
        row = rows[order.key] if order.key else none
        row.orders += 1
        row.revenue += order.revenue
    ordered = sorted(rows.values(), key=lambda r: (-r.revenue, -r.orders, -r.clicks, r.label.lower()))
    return MarketingReport(first, last, settings.ANALYTICS_ATTRIBUTION_WINDOW_DAYS, ordered, none, attributed)

