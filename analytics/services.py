"""Writes: the buffered events into the database, the daily rollup, the purge of old events."""
from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, DecimalField, Exists, OuterRef, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import recorder
from .models import WEB, DailyMetric, Event, FunnelDay

logger = logging.getLogger(__name__)

FLUSHED_KEY = "analytics:flushed"
GAP_KEY = "analytics:gap"
LOCK_KEY = "analytics:flush-lock"
BATCH = 1000
M = DailyMetric.Metric
ZERO = Decimal("0")


# --- Buffer -> events --------------------------------------------------------------------------


def flush_events(*, batch: int = BATCH) -> int:
    """Write the buffered events (recorder.py) in batches of `batch`; return how many were written.

    Reads the numbered cache entries after the last flushed number up to the counter, in order.
    An entry missing from the middle is an event whose INCR ran but whose SET has not landed yet:
    the flush stops before it and comes back next time; missing twice in a row, it is lost (the
    process died, or the cache evicted it) and skipped. One flush at a time (a cache lock); a batch
    written twice inserts once (unique `uid`, conflicts ignored).
    """
    recorder.push_pending()  # this process's own, so a single process (make run) never waits on them
    if not cache.add(LOCK_KEY, 1, timeout=300):
        return 0
    written = 0
    try:
        top = cache.get(recorder.SEQ_KEY) or 0
        last = cache.get(FLUSHED_KEY) or 0
        if last > top:  # the counter was evicted and started again
            last = 0
        while last < top:
            numbers = range(last + 1, min(top, last + batch) + 1)
            keys = [recorder.EVENT_KEY.format(n) for n in numbers]
            found = cache.get_many(keys)
            payloads, stop, gap = [], numbers[-1], False
            for number, key in zip(numbers, keys):
                if key in found:  # a list of one process's events (a single event before batching)
                    entry = found[key]
                    payloads.extend(entry if isinstance(entry, list) else [entry])
                elif cache.get(GAP_KEY) == number:
                    logger.warning("Analytics event %s lost before it was flushed", number)
                else:
                    cache.set(GAP_KEY, number, recorder.EVENT_TTL)
                    stop, gap = number - 1, True
                    break
            written += write_events(payloads)
            cache.set(FLUSHED_KEY, stop, timeout=None)
            cache.delete_many(keys[: stop - last])
            last = stop
            if gap:
                break
    finally:
        cache.delete(LOCK_KEY)
    return written


def write_events(payloads: list[dict]) -> int:
    """Turn recorder payloads into Event rows: one query for the customers behind the signed-in
    users, one for the viewed products' ids, then one INSERT."""
    payloads = recorder.drop_forgotten(payloads)  # erased customers' events still in the buffer
    if not payloads:
        return 0
    from catalog.models import Product

    from .funnel import carry_placement_device

    carry_placement_device(payloads)  # a paid order splits by the device that placed it
    from customers.models import Customer

    user_ids = {p["user"] for p in payloads if p.get("user")}
    customers = dict(Customer.objects.filter(user_id__in=user_ids).values_list("user_id", "pk")) if user_ids else {}
    slugs = {p["properties"].get("slug") for p in payloads if p["name"] == "product_viewed"} - {None, ""}
    products = dict(Product.objects.filter(slug__in=slugs).values_list("slug", "pk")) if slugs else {}
    queries = {p["properties"]["query"] for p in payloads if p["name"] == "search" and "results" not in p["properties"]}
    counts = _search_counts(queries)
    rows = []
    for p in payloads:
        properties = dict(p.get("properties") or {})
        if p["name"] == "product_viewed" and "product_id" not in properties and properties.get("slug") in products:
            properties["product_id"] = products[properties["slug"]]
        if p["name"] == "search" and "results" not in properties and counts.get(properties.get("query")) is not None:
            properties["results"] = counts[properties["query"]]
        rows.append(Event(
            uid=p["uid"], name=p["name"][:40], occurred_at=parse_datetime(p["at"]),
            visitor_id=p.get("visitor", ""), customer_id=properties.pop("customer_id", None) or customers.get(p.get("user")),
            channel=p.get("channel", WEB), device=p.get("device", ""),
            utm_source=p.get("utm_source", ""), utm_medium=p.get("utm_medium", ""),
            utm_campaign=p.get("utm_campaign", ""), utm_verified=bool(p.get("utm_verified")),
            properties=properties,
        ))
    Event.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _search_counts(queries: set[str]) -> dict[str, int]:
    if not queries:
        return {}
    keys = {recorder.search_results_key(q): q for q in queries}
    return {keys[key]: count for key, count in cache.get_many(list(keys)).items()}


PURGE_BATCH = 10_000


def purge_events(*, now: datetime.datetime | None = None, batch: int = PURGE_BATCH) -> int:
    """Delete events older than ANALYTICS_EVENT_RETENTION_DAYS, oldest first, `batch` at a time;
    return how many went. Daily figures are kept: only the raw events go.

    Each batch is one DELETE of the `batch` oldest ids (through the (occurred_at, name) index) in
    its own short transaction (autocommit): at 10 million events a month past the retention is
    some 750,000 rows, which one statement would hold locked and write to the WAL in one go,
    while the flush keeps inserting. A purge stopped half-way keeps what it deleted; the next
    night's goes on. bench/analytics_events.py times it.
    """
    cutoff = (now or timezone.now()) - datetime.timedelta(days=settings.ANALYTICS_EVENT_RETENTION_DAYS)
    total = 0
    while True:
        oldest = Event.objects.filter(occurred_at__lt=cutoff).order_by("occurred_at").values("pk")[:batch]
        _count, by_model = Event.objects.filter(pk__in=oldest).delete()
        deleted = by_model.get(Event._meta.label, 0)
        total += deleted
        if deleted < batch:
            return total


# --- Daily rollup ------------------------------------------------------------------------------


def store_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """The store-time-zone day as [start, end) instants (23 or 25 hours long on a clock change)."""
    zone = store_zone()
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone)
    return start, end


def store_today(now: datetime.datetime | None = None) -> datetime.date:
    return (now or timezone.now()).astimezone(store_zone()).date()


def _money(queryset, field: str) -> Decimal:
    return queryset.aggregate(
        total=Coalesce(Sum(field), Value(ZERO), output_field=DecimalField(max_digits=14, decimal_places=2))
    )["total"]


def _by_channel(queryset, channel_field: str, field: str) -> dict[str, Decimal]:
    """{channel code: sum of `field`} over `queryset`, one query."""
    return {row[channel_field]: row["total"] for row in queryset.values(channel_field).annotate(
        total=Coalesce(Sum(field), Value(ZERO), output_field=DecimalField(max_digits=14, decimal_places=2))
    ).order_by()}


def day_figures(day: datetime.date, *, events: bool = True) -> dict[tuple[str, str], Decimal]:
    """Every figure for `day` (store time zone), keyed by (channel, metric).

    Money comes from the payments ledger, by the day it moved: charged = succeeded payments by
    `succeeded_at`, refunded = succeeded refunds by `created_at` (a refund has no separate
    completion time), net sales = charged - refunded. Orders, their value and units are orders by
    `paid_at` (never by status), each on its order's channel. Visitors and conversion come from
    the events, each on its event's channel. `events=False`: the ledger's figures only (the dashboard's
    today, whose event figures it reads from the rollup `flush_events_task` keeps).
    """
    from orders.models import Order, OrderLine
    from payments.models import Payment, Refund

    start, end = day_bounds(day)
    figures: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)

    # Gift card payments are not money coming in (it came when the card was sold), nor their refunds going out.
    # Every figure goes to the channel of its order (`Order.channel`, "web" for the web store).
    charged = _by_channel(Payment.objects.filter(status=Payment.Status.SUCCEEDED, succeeded_at__gte=start,
                                                 succeeded_at__lt=end).exclude(provider="gift_card"),
                          "order__channel_id", "amount")
    refunded = _by_channel(Refund.objects.filter(status=Refund.Status.SUCCEEDED, created_at__gte=start,
                                                 created_at__lt=end).exclude(payment__provider="gift_card"),
                           "payment__order__channel_id", "amount")
    paid = Order.objects.filter(paid_at__gte=start, paid_at__lt=end)
    orders = {row["channel_id"]: row for row in paid.values("channel_id").annotate(
        count=Count("pk"),
        value=Coalesce(Sum("total"), Value(ZERO), output_field=DecimalField(max_digits=14, decimal_places=2)),
    ).order_by()}
    units = {row["order__channel_id"]: row["units"] for row in OrderLine.objects.filter(
        order__paid_at__gte=start, order__paid_at__lt=end).values("order__channel_id").annotate(
        units=Coalesce(Sum("quantity"), Value(0))).order_by()}
    # A customer is new on the day of their first paid order, returning on any later one (on any
    # channel: one customer across channels); counted on each channel they bought on that day.
    earlier = Order.objects.filter(customer_id=OuterRef("customer_id"), paid_at__lt=start)
    buyers = (paid.exclude(customer=None).annotate(returning=Exists(earlier))
              .values("channel_id", "customer_id", "returning").distinct())
    new: dict[str, set] = defaultdict(set)
    returning: dict[str, set] = defaultdict(set)
    for row in buyers:
        (returning if row["returning"] else new)[row["channel_id"]].add(row["customer_id"])

    # Returns and discounts are already in these: a return's money goes back by refund, a payment
    # takes the discounted total. A discounts *figure* would be added here.
    figures[(WEB, M.CHARGED)] = ZERO  # the web store always has its row, zero on a quiet day
    for channel in {WEB} | set(charged) | set(refunded) | set(orders):
        figures[(channel, M.CHARGED)] = charged.get(channel, ZERO)
        figures[(channel, M.REFUNDED)] = refunded.get(channel, ZERO)
        figures[(channel, M.NET_SALES)] = charged.get(channel, ZERO) - refunded.get(channel, ZERO)
        figures[(channel, M.ORDERS)] = Decimal(orders[channel]["count"] if channel in orders else 0)
        figures[(channel, M.ORDER_VALUE)] = orders[channel]["value"] if channel in orders else ZERO
        figures[(channel, M.UNITS)] = Decimal(units.get(channel, 0))
        figures[(channel, M.NEW_CUSTOMERS)] = Decimal(len(new[channel]))
        figures[(channel, M.RETURNING_CUSTOMERS)] = Decimal(len(returning[channel] - new[channel]))
    if not events:
        return dict(figures)

    events = Event.objects.filter(occurred_at__gte=start, occurred_at__lt=end).exclude(visitor_id="")
    for row in events.values("channel").annotate(visitors=Count("visitor_id", distinct=True)):
        figures[(row["channel"], M.VISITORS)] = Decimal(row["visitors"])
    counted = {"product_viewed": M.PRODUCT_VIEWS, "added_to_cart": M.ADDS_TO_CART, "checkout_started": M.CHECKOUTS}
    for row in events.filter(name__in=counted).values("channel", "name").annotate(n=Count("pk")):
        figures[(row["channel"], counted[row["name"]])] = Decimal(row["n"])
    for row in events.filter(name="order_placed").values("channel").annotate(n=Count("visitor_id", distinct=True)):
        figures[(row["channel"], M.CONVERTED_VISITORS)] = Decimal(row["n"])
    return dict(figures)


@transaction.atomic
def rollup_day(*, day: datetime.date) -> int:
    """Recompute `day`'s DailyMetric rows: delete them and insert them again in one transaction.

    Idempotent: running it twice leaves the same rows. Every web-channel figure gets a row, zero
    included, so a day that was rolled up is told apart from one that never was. Returns the row count.
    """
    figures = day_figures(day)
    for metric in M.values:
        figures.setdefault((WEB, metric), ZERO)
    DailyMetric.objects.filter(day=day).delete()
    DailyMetric.objects.bulk_create(
        DailyMetric(day=day, channel=channel, metric=metric, value=value)
        for (channel, metric), value in sorted(figures.items())
    )
    from .funnel import rollup_funnel_day  # the funnel's and the products' own rows, in this transaction
    from .product_reports import rollup_product_day

    rollup_funnel_day(day=day)
    rollup_product_day(day=day)
    return len(figures)


def rollup_recent(*, now: datetime.datetime | None = None, backfill_days: int = 90) -> list[datetime.date]:
    """Roll up yesterday (again: late events and refunds land there) and any day of the last
    `backfill_days` that has no rows yet; return the days done."""
    today = store_today(now)
    first = today - datetime.timedelta(days=backfill_days)
    done = set(DailyMetric.objects.filter(day__gte=first, day__lt=today).values_list("day", flat=True).distinct())
    done &= set(FunnelDay.objects.filter(day__gte=first, day__lt=today).values_list("day", flat=True))
    yesterday = today - datetime.timedelta(days=1)
    days = sorted({yesterday} | {first + datetime.timedelta(days=i) for i in range(backfill_days)} - done)
    for day in days:
        rollup_day(day=day)
    return days
