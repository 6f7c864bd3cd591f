"""Reads for the back office's dashboard: Today and the last 7/30/90 days against the period before.

Past days come from `DailyMetric` (one query for 180 days); today's money, orders and customers are
computed live from the ledger (`services.day_figures(events=False)`, a fixed handful of queries)
and today's visitors from the rollup the flush task keeps, so the page costs the same however many
orders or events there are, and never reads a raw event.
"""
from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shop.money import format_money

from .models import DailyMetric
from .services import day_figures, store_today

M = DailyMetric.Metric
ZERO = Decimal("0")
PERIODS = (("today", _("Today"), 1), ("7d", _("Last 7 days"), 7), ("30d", _("Last 30 days"), 30),
           ("90d", _("Last 90 days"), 90))
# Today's trend line shows the week up to today: one day has no line of its own.
TODAY_TREND_DAYS = 7
SPARK_WIDTH, SPARK_HEIGHT = 120, 28


@dataclass
class Figure:
    key: str
    label: str
    value: Decimal | None
    previous: Decimal | None
    kind: str  # money, count or percent
    series: list[Decimal | None]
    link: str = ""

    @property
    def change(self) -> Decimal | None:
        """Percent change from the period before; None when there is nothing to compare with."""
        if self.value is None or not self.previous:
            return None
        return ((self.value - self.previous) / self.previous * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)

    def show(self, amount: Decimal | None) -> str:
        if amount is None:
            return "–"
        if self.kind == "money":
            return format_money(amount)
        if self.kind == "percent":
            return f"{amount.quantize(Decimal('0.01'), ROUND_HALF_UP)}%"
        return f"{int(amount):,}"

    @property
    def shown(self) -> str:
        return self.show(self.value)

    @property
    def shown_previous(self) -> str:
        return self.show(self.previous)

    @property
    def sparkline(self) -> str:
        return sparkline_points(self.series)


@dataclass
class Period:
    key: str
    label: str
    days: list[datetime.date]
    previous_days: list[datetime.date]
    trend_days: list[datetime.date]
    figures: list[Figure] = field(default_factory=list)
    orders_link: str = ""

    @property
    def daily_rows(self) -> list[tuple[datetime.date, list[str]]]:
        """The sparklines' numbers as a table: one row per day, one column per figure."""
        return [(day, [f.show(f.series[i]) for f in self.figures]) for i, day in enumerate(self.trend_days)]


def sparkline_points(values: list[Decimal | None]) -> str:
    """The `points` of an SVG polyline drawing `values` in a SPARK_WIDTH × SPARK_HEIGHT box
    (a missing value is drawn as zero; a flat series as a line across the middle)."""
    numbers = [float(v or 0) for v in values]
    if not numbers:
        return ""
    low, high = min(numbers), max(numbers)
    step = SPARK_WIDTH / max(len(numbers) - 1, 1)
    span = high - low
    points = []
    for i, number in enumerate(numbers):
        y = SPARK_HEIGHT / 2 if span == 0 else (SPARK_HEIGHT - 2) - (number - low) / span * (SPARK_HEIGHT - 4)
        points.append(f"{i * step:.1f},{y:.1f}")
    return " ".join(points)


def _ratio(numerator: Decimal, denominator: Decimal, scale: int = 1) -> Decimal | None:
    if not denominator:
        return None
    return (numerator * scale / denominator).quantize(Decimal("0.01"), ROUND_HALF_UP)


def orders_url(first: datetime.date, last: datetime.date, *, money_moved: bool = False) -> str:
    """The admin's order list filtered to the orders paid from `first` to `last` (store days), or,
    with `money_moved`, to the orders whose money moved then (a payment or a refund: what net sales
    count, so a refund today of an order paid last month is among today's net-sales orders)."""
    key = "moved" if money_moved else "paid"
    query = urlencode({key: f"{first.isoformat()}..{last.isoformat()}"})
    return f"{reverse('admin:orders_order_changelist')}?{query}"


def daily_totals(first: datetime.date, last: datetime.date, *, now: datetime.datetime | None = None) -> dict:
    """{metric: {day: value}} over every channel, from DailyMetric; today's money, orders, units
    and customers live from the ledger (a few indexed queries), today's event figures (visitors,
    conversion) from the rows `flush_events_task` rolls up after each flush (a minute behind,
    at most), so no page load counts raw events: at 10 million events that cost a second."""
    today = store_today(now)
    totals: dict[str, dict[datetime.date, Decimal]] = defaultdict(dict)
    live = day_figures(today, events=False) if first <= today <= last else {}
    live_metrics = {metric for _channel, metric in live}
    rows = (DailyMetric.objects.filter(day__gte=first, day__lte=min(last, today))
            .values_list("day", "metric").annotate(total=Sum("value")).order_by())
    for day, metric, total in rows:
        if day != today or metric not in live_metrics:
            totals[metric][day] = total
    for (_channel, metric), value in live.items():
        totals[metric][today] = totals[metric].get(today, ZERO) + value
    return totals


def dashboard(*, now: datetime.datetime | None = None) -> list[Period]:
    now = now or timezone.now()
    today = store_today(now)
    longest = max(days for _, _, days in PERIODS)
    totals = daily_totals(today - datetime.timedelta(days=2 * longest - 1), today, now=now)

    def total(metric: str, days: list[datetime.date]) -> Decimal:
        return sum((totals[metric].get(day, ZERO) for day in days), ZERO)

    def per_day(metric: str, days: list[datetime.date]) -> list[Decimal]:
        return [totals[metric].get(day, ZERO) for day in days]

    periods = []
    for key, label, length in PERIODS:
        days = [today - datetime.timedelta(days=i) for i in range(length - 1, -1, -1)]
        previous = [day - datetime.timedelta(days=length) for day in days]
        trend = days if length > 1 else [today - datetime.timedelta(days=i) for i in range(TODAY_TREND_DAYS - 1, -1, -1)]
        link = orders_url(days[0], days[-1])

        def both(metric: str) -> tuple[Decimal, Decimal]:
            return total(metric, days), total(metric, previous)

        def ratio(numerator: str, denominator: str, scale: int = 1, *, over=days) -> Decimal | None:
            return _ratio(total(numerator, over), total(denominator, over), scale)

        def ratio_series(numerator: str, denominator: str, scale: int = 1) -> list[Decimal | None]:
            return [_ratio(totals[numerator].get(d, ZERO), totals[denominator].get(d, ZERO), scale) for d in trend]

        figures = [
            Figure("net_sales", _("Net sales"), *both(M.NET_SALES), "money", per_day(M.NET_SALES, trend),
                   orders_url(days[0], days[-1], money_moved=True)),
            Figure("orders", _("Orders"), *both(M.ORDERS), "count", per_day(M.ORDERS, trend), link),
            Figure("aov", _("Average order value"), ratio(M.ORDER_VALUE, M.ORDERS),
                   ratio(M.ORDER_VALUE, M.ORDERS, over=previous), "money", ratio_series(M.ORDER_VALUE, M.ORDERS), link),
            Figure("units", _("Units"), *both(M.UNITS), "count", per_day(M.UNITS, trend), link),
            Figure("new_customers", _("New customers"), *both(M.NEW_CUSTOMERS), "count",
                   per_day(M.NEW_CUSTOMERS, trend), link),
            Figure("returning_customers", _("Returning customers"), *both(M.RETURNING_CUSTOMERS), "count",
                   per_day(M.RETURNING_CUSTOMERS, trend), link),
            Figure("conversion", _("Conversion rate"), ratio(M.CONVERTED_VISITORS, M.VISITORS, 100),
                   ratio(M.CONVERTED_VISITORS, M.VISITORS, 100, over=previous), "percent",
                   ratio_series(M.CONVERTED_VISITORS, M.VISITORS, 100)),
        ]
        periods.append(Period(key, label, days, previous, trend, figures, link))
    return periods
