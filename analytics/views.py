"""The back office's Reports section (admin URLs added by analytics/admin.py): Sales over time.

The page works without JavaScript: a GET form picks the range, the grain and the dimension; the
chart is SVG drawn here (its bars link to the orders behind them); the table beside it holds the
same numbers; the CSV is that table.
"""
from __future__ import annotations

import csv
import datetime
from dataclasses import dataclass

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shop.spreadsheets import safe_text
from shop.money import format_money

from . import reports
from .services import store_today, store_zone

REPORTS_PERMISSION = "analytics.view_reports"
ORDERS_PERMISSION = "orders.view_order"
DEFAULT_DAYS = 30
# Longest range per grain: a table and a chart people can still read (and a bounded page).
MAX_BUCKETS = {reports.DAY: 366, reports.WEEK: 260, reports.MONTH: 120}
# Dimension values drawn in the chart; the rest are one "Other" series (the table has them all).
CHART_SERIES = 6
# Rows in the whole-range table; the rest are one "Other" row (the CSV has them all).
TABLE_ROWS = 50
# Okabe–Ito: told apart by people with the common colour blindnesses.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999999")
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 720, 240, 8


class SalesForm(forms.Form):
    first = forms.DateField(label=gettext_lazy("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    grain = forms.ChoiceField(label=gettext_lazy("By"), choices=reports.GRAINS, required=False)
    dimension = forms.ChoiceField(label=gettext_lazy("Split by"), choices=reports.DIMENSIONS, required=False)

    @classmethod
    def with_defaults(cls, query) -> SalesForm:
        """The form bound to `query`, a missing field taking its default (the last DEFAULT_DAYS
        store days, by day, split by category), so the page shows what it reports on."""
        data = query.copy()
        today = store_today()
        for name, default in (("last", today), ("first", today - datetime.timedelta(days=DEFAULT_DAYS - 1)),
                              ("grain", reports.DAY), ("dimension", "category")):
            if not data.get(name):
                data[name] = str(default)
        return cls(data)

    def clean(self):
        data = super().clean()
        if not all(data.get(name) for name in ("first", "last", "grain", "dimension")):
            return data  # a field's own error says which
        if data["first"] > data["last"]:
            raise forms.ValidationError(_("The start date is after the end date."))
        count = len(reports.buckets(data["first"], data["last"], data["grain"]))
        if count > MAX_BUCKETS[data["grain"]]:
            raise forms.ValidationError(
                _("That range has %(count)s %(grain)s periods; at most %(most)s fit in one report: pick a "
                  "shorter range or a longer period.")
                % {"count": count, "grain": data["grain"], "most": MAX_BUCKETS[data["grain"]]})
        return data


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str
    link: str


@dataclass
class Chart:
    bars: list[Bar]  # series by series, so each series' bars share one <g fill> (a lighter page)
    legend: list[tuple[str, str]]  # (colour, label)
    zero: float  # the zero line's y
    high: str  # the top of the scale, as money
    low: str  # its bottom (below zero when refunds outweigh sales in a period)
    first: str  # the first and last periods, under the bars
    last: str
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    axis_y: int = CHART_HEIGHT + 14

    @property
    def groups(self) -> list[tuple[str, list[Bar]]]:
        """The bars by colour, in the legend's order: one <g fill> each instead of a fill per bar."""
        found: dict[str, list[Bar]] = {}
        for bar in self.bars:
            found.setdefault(bar.colour, []).append(bar)
        return list(found.items())


def chart_bars(report: reports.SalesReport, top: tuple[list[reports.Row], reports.Row | None] | None = None) -> Chart:
    """Stacked bars of net sales per period, one colour per dimension value (the largest
    CHART_SERIES, then "Other"): gains stack up from zero, refund-heavy negatives down.
    `top`: `report.top(CHART_SERIES)` when the caller has it already (it counts "Other"'s orders)."""
    shown, other = top or report.top(CHART_SERIES)
    series = [(row.label, PALETTE[i], row.cells) for i, row in enumerate(shown)]
    if other:
        series.append((other.label, PALETTE[-1], other.cells))
    ups = [sum((c[i].net_sales for _l, _c, c in series if c[i].net_sales > 0), reports.ZERO)
           for i in range(len(report.buckets))]
    downs = [sum((c[i].net_sales for _l, _c, c in series if c[i].net_sales < 0), reports.ZERO)
             for i in range(len(report.buckets))]
    high, low = float(max(ups, default=0) or 0), float(min(downs, default=0) or 0)
    span = (high - low) or 1.0
    inner = CHART_HEIGHT - 2 * CHART_PAD
    zero = CHART_PAD + high / span * inner
    slot = CHART_WIDTH / max(len(report.buckets), 1)
    width = max(slot * 0.8, 1.0)
    stacks = [(zero, zero) for _bucket in report.buckets]  # (top of the gains, bottom of the losses)
    bars = []
    for label, colour, cells in series:
        for i, bucket in enumerate(report.buckets):
            amount = float(cells[i].net_sales)
            if not amount:
                continue
            height = abs(amount) / span * inner
            up, down = stacks[i]
            if amount > 0:
                up -= height
                y = up
            else:
                y = down
                down += height
            stacks[i] = (up, down)
            bars.append(Bar(round(i * slot + (slot - width) / 2, 1), round(y, 1), round(width, 1), round(height, 1),
                            colour, f"{bucket.label}, {label}: {format_money(cells[i].net_sales)}",
                            cells[i].net_link))
    return Chart(bars, [(colour, label) for label, colour, _c in series], round(zero, 1),
                 format_money(max(ups, default=reports.ZERO)), format_money(min(downs, default=reports.ZERO)),
                 report.buckets[0].label, report.buckets[-1].label)


def sales(request: HttpRequest) -> HttpResponse:
    """Sales over time (admin_view: staff only); only with the Reports permission."""
    if not request.user.has_perm(REPORTS_PERMISSION):
        raise PermissionDenied
    form = SalesForm.with_defaults(request.GET)
    report = None
    if form.is_valid():
        data = form.cleaned_data
        report = reports.sales_over_time(first=data["first"], last=data["last"], grain=data["grain"],
                                         dimension=data["dimension"],
                                         links=request.user.has_perm(ORDERS_PERMISSION))
        if request.GET.get("format") == "csv":
            return sales_csv(report)
    context = {
        **admin.site.each_context(request),
        "title": _("Sales over time"),
        "form": form,
        "report": report,
        "csv_query": _csv_query(request),
        "zone": store_zone().key,
    }
    if report:
        # The period table is the chart's text: a row per period, a column per series ("Other"
        # included) with its net sales, then the period's totals. Orders and units by value and
        # period are in the CSV: as a long table (a row per period and value) 90 days weighed
        # 480 KB, most of it links (test_page_weight.py holds the page under 300 KB).
        top = report.top(CHART_SERIES)
        series = top[0] + ([top[1]] if top[1] else [])
        periods = [(bucket, [(row.key or "other", row.cells[i]) for row in series], report.totals[i])
                   for i, bucket in enumerate(report.buckets)]
        table_rows, table_other = report.top(TABLE_ROWS)
        context.update(series=series, periods=periods, table_rows=table_rows, table_other=table_other,
                       chart=chart_bars(report, top))
        if report.dimension == "handover":
            # The click-and-collect share in words above the table (the rows have the amounts).
            context["collect_share"] = report.share(reports.COLLECT)
    return TemplateResponse(request, "analytics/reports/sales.html", context)


def _csv_query(request: HttpRequest) -> str:
    query = request.GET.copy()
    query["format"] = "csv"
    return f"{request.path}?{query.urlencode()}"


def sales_csv(report: reports.SalesReport) -> HttpResponse:
    """The table as CSV: one row per period and dimension value with figures, then the totals.
    Names go through safe_text (a product called "=cmd()" stays text); amounts are plain decimals."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"sales-{report.dimension}-{report.grain}-{report.first}-{report.last}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow([_("Period start"), _("Period end"), str(report.dimension_label), _("Net sales"), _("Orders"),
                     _("Units")])
    for i, bucket in enumerate(report.buckets):
        for row in report.rows:
            cell = row.cells[i]
            if not cell.empty:
                writer.writerow([bucket.first, bucket.last, safe_text(row.label), cell.net_sales, cell.orders,
                                 cell.units])
        total = report.totals[i]
        writer.writerow([bucket.first, bucket.last, _("All"), total.net_sales, total.orders, total.units])
    return response
