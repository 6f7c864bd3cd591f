"""Customers: cohorts by first-order month, lifetime value by cohort and by acquisition source,
and RFM segments at each month end.

Definitions (the same as the rest of analytics, in the store's time zone):

- A customer's **cohort** is the month of their first paid order (an order that kept its payment,
  `orders.models.paid_orders`, by `paid_at`). Guests count: a customer is an email, not an account.
- **Retention**, month k after the cohort month: the share of the cohort with a paid order paid
  in that month. Month 0 is everyone; "repeat" is the share with two or more paid orders so far.
- **Lifetime value**: money from the payments ledger, what succeeded payments took minus what
  succeeded refunds gave back on the customer's orders, by the day it moved, up to the end of the
  report's last month; per customer = the cohort's (or source's) total over its size.
  (Returns give money back by refund, so they are in it already; discounts will be in it too,
  since a payment takes the discounted total.)
- **Acquisition source**: the first verified campaign click (`Event.utm_verified`, a link the
  store signed) by any browser (visitor id) the customer was ever seen with, at or before their
  first paid order; "direct" when there is none.
- **RFM segments over time**: at each month end (now, for the month in progress), every customer
  with a paid order by then is scored by the same rules the CRM uses
  (`customers.services.rfm.score_figures`) on their figures as of then: paid orders placed and
  paid by then, their totals minus the refunds made by then, first and last order. Erased
  customers are left out, as the CRM leaves them out of segments. A closed month's counts are
  kept in the cache for a day (`CLOSED_MONTH_SECONDS`): an old order cancelled, or a customer
  erased, moves a past month's count the next day; the month in progress is always live.

Cost: a fixed number of queries whatever the range or the number of customers (`customers_report`
makes 7: the paid orders, payments, refunds, the customers' browsers, their signed clicks, the
campaigns' names, the refunds for RFM); the buckets and the scores are made in Python, so the time
grows with the paid orders and, for RFM, with customers x months (see docs/architecture.md).
"""
from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.cache import cache
from django.db.models import F, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .services import day_bounds, store_zone

ZERO = Decimal("0")
CENT = Decimal("0.01")
DIRECT = "direct"
# A closed month's RFM counts are kept this long (scoring every customer at every month end is the
# report's one cost that grows with customers x months); the month in progress is always live.
CLOSED_MONTH_SECONDS = 24 * 3600


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def add_months(month: datetime.date, count: int) -> datetime.date:
    index = month.year * 12 + month.month - 1 + count
    return datetime.date(index // 12, index % 12 + 1, 1)


def months_between(first: datetime.date, last: datetime.date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


def months(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    return [add_months(first, i) for i in range(months_between(first, last) + 1)]


def month_bounds(first: datetime.date, last: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """[start of `first`'s month, start of the month after `last`'s) as store-time instants."""
    start, _end = day_bounds(month_start(first))
    end, _end = day_bounds(add_months(month_start(last), 1))
    return start, end


def percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(100) * part / whole).quantize(Decimal("0.1"))


def per_customer(amount: Decimal, count: int) -> Decimal:
    return (amount / count).quantize(CENT) if count else ZERO


@dataclass
class Cohort:
    month: datetime.date
    size: int
    active: list[int]  # customers with a paid order in month 0, 1, ... after the cohort month
    repeat: int  # customers with two or more paid orders by the end of the range
    revenue: list[Decimal]  # money moved in month 0, 1, ... (payments minus refunds)

    @property
    def label(self) -> str:
        return self.month.strftime("%Y-%m")

    @property
    def retention(self) -> list[Decimal | None]:
        return [percent(count, self.size) for count in self.active]

    @property
    def repeat_rate(self) -> Decimal | None:
        return percent(self.repeat, self.size)

    @property
    def total_revenue(self) -> Decimal:
        return sum(self.revenue, ZERO)

    @property
    def ltv(self) -> Decimal:
        return per_customer(self.total_revenue, self.size)

    @property
    def ltv_by_month(self) -> list[Decimal]:
        """Cumulative lifetime value per customer at the end of month 0, 1, ..."""
        running, found = ZERO, []
        for amount in self.revenue:
            running += amount
            found.append(per_customer(running, self.size))
        return found


@dataclass
class Source:
    key: str  # DIRECT or "<utm_source>|<utm_campaign>"
    label: str
    customers: int = 0
    repeat: int = 0
    revenue: Decimal = ZERO

    @property
    def ltv(self) -> Decimal:
        return per_customer(self.revenue, self.customers)

    @property
    def repeat_rate(self) -> Decimal | None:
        return percent(self.repeat, self.customers)


@dataclass
class SegmentMonth:
    month: datetime.date
    as_of: datetime.datetime
    counts: dict[str, int]

    @property
    def label(self) -> str:
        return self.month.strftime("%Y-%m")

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class CustomersReport:
    first: datetime.date  # first day of the first cohort month
    last: datetime.date  # first day of the last month
    cohorts: list[Cohort]
    sources: list[Source]
    segments: list[SegmentMonth]
    segment_labels: list[tuple[str, str]]  # (segment, label) in the CRM's order
    # For the drill-down (customer ids), kept out of the page: {(cohort month, k): ids}, {source key: ids}.
    cohort_members: dict[tuple[datetime.date, int], set[int]] = field(default_factory=dict, repr=False)
    source_members: dict[str, set[int]] = field(default_factory=dict, repr=False)

    @property
    def width(self) -> int:
        """Month columns in the triangle (month 0 included)."""
        return months_between(self.first, self.last) + 1

    @property
    def size(self) -> int:
        return sum(c.size for c in self.cohorts)

    @property
    def revenue(self) -> Decimal:
        return sum((c.total_revenue for c in self.cohorts), ZERO)


def customers_report(*, first: datetime.date, last: datetime.date, now: datetime.datetime | None = None,
                     members: bool = False) -> CustomersReport:
    """The report for the cohorts of the months from `first`'s to `last`'s; 6 or 7 queries.
    `members`: keep the customer ids behind each cohort cell and source (for the drill-down)."""
    from orders.models import Order, paid_orders
    from payments.models import Payment, Refund

    first, last = month_start(first), month_start(last)
    now = now or timezone.now()
    zone = store_zone()
    start, end = month_bounds(first, last)
    end = min(end, now)

    def month_of(instant: datetime.datetime) -> datetime.date:
        return month_start(instant.astimezone(zone).date())

    kept = Order.objects.filter(paid_orders(), customer__isnull=False, paid_at__isnull=False)
    # Every paid order up to the end of the range, once, in paid order: cohorts and RFM both read it.
    paid = list(kept.filter(paid_at__lt=end).order_by("paid_at", "pk")
                .values_list("paid_at", "customer_id", "created_at", "total", "customer__erased_at"))
    first_paid: dict[int, datetime.datetime] = {}
    for at, customer, *_rest in paid:
        first_paid.setdefault(customer, at)
    first_paid = {customer: at for customer, at in first_paid.items() if at >= start}
    # The same customers as a subquery, for the ledger and the events (no list of ids in the SQL).
    ids = (kept.values("customer_id").annotate(first=Min("paid_at")).order_by()
           .filter(first__gte=start, first__lt=end).values("customer_id"))

    cohort_of = {customer: month_of(at) for customer, at in first_paid.items()}
    orders = [(customer, at) for at, customer, *_rest in paid if customer in cohort_of]
    money = [(customer, amount, at) for customer, amount, at in Payment.objects.filter(
        status=Payment.Status.SUCCEEDED, order__customer_id__in=ids, succeeded_at__lt=end,
    ).values_list("order__customer_id", "amount", "succeeded_at")]
    money += [(customer, -amount, at) for customer, amount, at in Refund.objects.filter(
        status=Refund.Status.SUCCEEDED, payment__order__customer_id__in=ids, created_at__lt=end,
    ).values_list("payment__order__customer_id", "amount", "created_at")]

    width = months_between(first, last) + 1
    cohorts = {month: Cohort(month, 0, [0] * (width - i), 0, [ZERO] * (width - i))
               for i, month in enumerate(months(first, last))}
    cohort_members: dict[tuple[datetime.date, int], set[int]] = defaultdict(set)
    for customer, month in cohort_of.items():
        cohorts[month].size += 1
    order_count: Counter[int] = Counter()
    for customer, at in orders:
        month = cohort_of[customer]
        offset = months_between(month, month_of(at))
        order_count[customer] += 1
        if customer not in cohort_members[(month, offset)]:
            cohort_members[(month, offset)].add(customer)
            cohorts[month].active[offset] += 1
    for customer, count in order_count.items():
        if count >= 2:
            cohorts[cohort_of[customer]].repeat += 1
    spent: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for customer, amount, at in money:
        month = cohort_of[customer]
        # Money before the first paid order (a payment on an order later cancelled) counts in month 0.
        offset = max(months_between(month, month_of(at)), 0)
        cohorts[month].revenue[offset] += amount
        spent[customer] += amount

    sources, source_members = _sources(ids, first_paid, order_count, spent)
    living = [(at, customer, placed, total) for at, customer, placed, total, erased in paid if erased is None]
    report = CustomersReport(first, last, list(cohorts.values()), sources,
                             rfm_over_time(first=first, last=last, now=now, orders=living), _segment_labels())
    if members:
        report.cohort_members = dict(cohort_members)
        report.cohort_members.update({(month, -1): {c for c, m in cohort_of.items() if m == month}
                                      for month in cohorts})  # -1: the whole cohort
        report.source_members = source_members
    return report


def _sources(ids, first_paid: dict[int, datetime.datetime], order_count: Counter, spent: dict[int, Decimal]):
    """Each cohort customer's acquisition source, then the figures per source; 2 queries (3 with
    marketing campaigns to name)."""
    from .models import Event

    seen_with = Event.objects.filter(customer_id__in=ids).exclude(visitor_id="")
    visitors_of: dict[str, set[int]] = defaultdict(set)
    for customer, visitor in seen_with.values_list("customer_id", "visitor_id").distinct():
        visitors_of[visitor].add(customer)
    clicks = (Event.objects.filter(utm_verified=True, visitor_id__in=seen_with.values("visitor_id"))
              .order_by("occurred_at", "pk").values_list("visitor_id", "occurred_at", "utm_source", "utm_campaign"))
    source_of: dict[int, tuple[str, str]] = {}
    for visitor, at, source, campaign in clicks:  # earliest first: the first click that fits wins
        for customer in visitors_of.get(visitor, ()):
            if customer not in source_of and at <= first_paid[customer]:
                source_of[customer] = (source, campaign)

    labels = campaign_labels(set(source_of.values()))
    found: dict[str, Source] = {}
    members: dict[str, set[int]] = defaultdict(set)
    for customer in first_paid:
        pair = source_of.get(customer)
        key = f"{pair[0]}|{pair[1]}" if pair else DIRECT
        row = found.setdefault(key, Source(key, labels[pair] if pair else _("Direct (no campaign click)")))
        row.customers += 1
        row.repeat += order_count[customer] >= 2
        row.revenue += spent.get(customer, ZERO)
        members[key].add(customer)
    rows = sorted(found.values(), key=lambda s: (-s.revenue, -s.customers, s.label.lower()))
    return rows, dict(members)


def campaign_labels(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """A label for each (utm_source, utm_campaign): a marketing campaign by its name (one query),
    an order email by its kind, anything else as "source / campaign"."""
    from marketing.models import Campaign

    from .utm import CAMPAIGN_SOURCE, ORDER_EMAIL_SOURCE

    ids = {int(campaign) for source, campaign in pairs if source == CAMPAIGN_SOURCE and campaign.isdigit()}
    names = dict(Campaign.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
    labels = {}
    for source, campaign in pairs:
        if source == CAMPAIGN_SOURCE and campaign.isdigit():
            name = names.get(int(campaign))
            labels[(source, campaign)] = (_("Campaign: %(name)s") % {"name": name} if name
                                          else _("Campaign #%(id)s (deleted)") % {"id": campaign})
        elif source == ORDER_EMAIL_SOURCE:
            labels[(source, campaign)] = _("Order email: %(kind)s") % {"kind": campaign.replace("_", " ")}
        else:
            labels[(source, campaign)] = f"{source} / {campaign}"
    return labels


def _segment_labels() -> list[tuple[str, str]]:
    from customers.models import RFMSegment

    return [(value, str(label)) for value, label in RFMSegment.choices]


def rfm_over_time(*, first: datetime.date, last: datetime.date, now: datetime.datetime,
                  orders: list[tuple] | None = None) -> list[SegmentMonth]:
    """How many customers were in each built-in RFM segment at the end of each month from
    `first`'s to `last`'s (now, for a month not over yet; none for a month not begun); 2 queries,
    1 when the caller passes `orders`: every paid order of a customer not erased, paid before the
    last month's end, as (paid_at, customer_id, created_at, total) in paid order."""
    from customers.services.rfm import Figures, score_figures
    from orders.models import Order, paid_orders
    from payments.models import Refund

    ends = []
    for month in months(month_start(first), month_start(last)):
        as_of = min(day_bounds(add_months(month, 1))[0], now)
        if as_of > day_bounds(month)[0]:
            ends.append((month, as_of))
    if not ends:
        return []
    until = ends[-1][1]
    living = Q(customer__isnull=False, customer__erased_at__isnull=True)
    if orders is None:
        orders = list(Order.objects.filter(paid_orders(), living, paid_at__isnull=False, paid_at__lt=until)
                      .order_by("paid_at", "pk").values_list("paid_at", "customer_id", "created_at", "total"))
    refunds = list(Refund.objects.filter(paid_orders("payment__order__"), status=Refund.Status.SUCCEEDED,
                                         created_at__lt=until, payment__order__customer__isnull=False,
                                         payment__order__customer__erased_at__isnull=True)
                   .order_by("created_at", "pk").values_list("created_at", "payment__order__customer_id", "amount"))
    count: Counter[int] = Counter()
    gross: dict[int, Decimal] = defaultdict(lambda: ZERO)
    refunded: dict[int, Decimal] = defaultdict(lambda: ZERO)
    first_at: dict[int, datetime.datetime] = {}
    last_at: dict[int, datetime.datetime] = {}
    o = r = 0
    found = []
    known = cache.get_many([_segments_key(as_of) for _month, as_of in ends if as_of < now])
    fresh = {}
    for month, as_of in ends:  # each month adds what happened since the one before
        while o < len(orders) and orders[o][0] < as_of:
            _paid, customer, placed, total = orders[o]
            count[customer] += 1
            gross[customer] += total
            first_at[customer] = min(first_at.get(customer, placed), placed)
            last_at[customer] = max(last_at.get(customer, placed), placed)
            o += 1
        while r < len(refunds) and refunds[r][0] < as_of:
            refunded[refunds[r][1]] += refunds[r][2]
            r += 1
        key = _segments_key(as_of)
        if key not in known:  # scoring every customer is the cost: a closed month is scored once a day
            figures = {c: Figures(n, max(gross[c] - refunded[c], ZERO).quantize(CENT), first_at[c], last_at[c])
                       for c, n in count.items()}
            scores = score_figures(figures, now=as_of) if figures else {}
            known[key] = dict(Counter(segment for *_rfm, segment in scores.values()))
            if as_of < now:
                fresh[key] = known[key]
        found.append(SegmentMonth(month, as_of, known[key]))
    if fresh:
        cache.set_many(fresh, CLOSED_MONTH_SECONDS)
    return found


def _segments_key(as_of: datetime.datetime) -> str:
    return f"analytics:rfm-month-end:{as_of.isoformat()}"


# --- Drill-down --------------------------------------------------------------------------------


def customers_with(ids: set[int], *, page: int, per_page: int = 50):
    """One page of the customers `ids` (a Django Paginator page), newest first, 2 queries."""
    from django.core.paginator import Paginator

    from customers.models import Customer

    queryset = (Customer.objects.filter(pk__in=ids)
                .only("pk", "email", "first_name", "last_name", "order_count", "total_spent", "first_order_at",
                      "rfm_segment", "erased_at")
                .order_by(F("first_order_at").desc(nulls_last=True), "-pk"))
    return Paginator(queryset, per_page).get_page(page)
