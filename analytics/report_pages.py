"""The Reports section's Customers and Marketing pages (admin URLs added by analytics/admin.py).

Like Sales over time (views.py): a GET form, SVG charts drawn here, each chart's numbers in a
table, each table as CSV (`?format=csv&table=<name>`). Figures come from customer_reports.py and
attribution.py. Who sees what:

- the pages: `analytics.view_reports` (the Reports group), others get 403;
- the customers behind a cohort cell or a source: also `customers.view_customer` (the CRM's
  permission); without it the page shows aggregates only and the drill-down is refused;
- the orders behind a campaign: also `orders.view_order`.
"""
from __future__ import annotations

import csv
import datetime
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shop.money import format_money
from shop.spreadsheets import safe_text

from . import attribution, customer_reports, promotion_reports
from .services import store_today, store_zone
from .views import PALETTE, REPORTS_PERMISSION

CUSTOMERS_PERMISSION = "customers.view_customer"
ORDERS_PERMISSION = "orders.view_order"
DEFAULT_MONTHS = 12
MAX_MONTHS = 36
DEFAULT_DAYS = 30
MAX_DAYS = 366
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 720, 220, 8
CHART_COHORTS = 6  # retention lines drawn: the latest cohorts (the table has them all)


def _allowed(request: HttpRequest, *extra: str) -> None:
    if not request.user.has_perm(REPORTS_PERMISSION) or not all(request.user.has_perm(p) for p in extra):
        raise PermissionDenied


def _with_defaults(form_class, query, defaults: dict):
    data = query.copy()
    for name, default in defaults.items():
        if not data.get(name):
            data[name] = default
    return form_class(data)


class MonthsForm(forms.Form):
    first = forms.DateField(label=gettext_lazy("First cohort"), input_formats=["%Y-%m", "%Y-%m-%d"],
                            widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"))
    last = forms.DateField(label=gettext_lazy("Last month"), input_formats=["%Y-%m", "%Y-%m-%d"],
                           widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"))

    @classmethod
    def with_defaults(cls, query) -> MonthsForm:
        """Bound to `query`; by default the last DEFAULT_MONTHS store months, this one included."""
        this = customer_reports.month_start(store_today())
        first = customer_reports.add_months(this, 1 - DEFAULT_MONTHS)
        return _with_defaults(cls, query, {"first": first.strftime("%Y-%m"), "last": this.strftime("%Y-%m")})

    def clean(self):
        data = super().clean()
        if not (data.get("first") and data.get("last")):
            return data
        data["first"], data["last"] = (customer_reports.month_start(data["first"]),
                                       customer_reports.month_start(data["last"]))
        if data["first"] > data["last"]:
            raise forms.ValidationError(_("The first month is after the last month."))
        count = customer_reports.months_between(data["first"], data["last"]) + 1
        if count > MAX_MONTHS:
            raise forms.ValidationError(_("That range has %(count)s months; at most %(most)s fit in one report.")
                                        % {"count": count, "most": MAX_MONTHS})
        return data


class DaysForm(forms.Form):
    first = forms.DateField(label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"}))

    @classmethod
    def with_defaults(cls, query) -> DaysForm:
        today = store_today()
        return _with_defaults(cls, query, {"first": str(today - datetime.timedelta(days=DEFAULT_DAYS - 1)),
                                           "last": str(today)})

    def clean(self):
        data = super().clean()
        if not (data.get("first") and data.get("last")):
            return data
        if data["first"] > data["last"]:
            raise forms.ValidationError(_("The start date is after the end date."))
        if (data["last"] - data["first"]).days + 1 > MAX_DAYS:
            raise forms.ValidationError(_("At most %(most)s days fit in one report.") % {"most": MAX_DAYS})
        return data


def _csv(name: str, header: list, rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


def _csv_link(request: HttpRequest, table: str) -> str:
    query = request.GET.copy()
    query["format"], query["table"] = "csv", table
    return f"{request.path}?{query.urlencode()}"


# --- Customers ---------------------------------------------------------------------------------


@dataclass
class TriangleCell:
    count: int
    percent: object  # Decimal | None
    shade: str  # a CSS class, "heat-1" (faint) to "heat-10" (strong), or ""
    link: str


def _shade(value, high) -> str:
    """A cell's background: the Okabe–Ito blue, stronger with the share (the number is printed too),
    as one of ten classes in admin-reports.css (no style attribute: shop/tests/test_templates.py)."""
    if value is None or not high:
        return ""
    step = round(min(float(value) / float(high), 1.0) * 10)
    return f"heat-{step}" if step else ""


@dataclass
class Line:
    points: str
    colour: str
    label: str


def retention_lines(report: customer_reports.CustomersReport) -> tuple[list[Line], str]:
    """One line per cohort (the latest CHART_COHORTS with a month after their first): retention in
    month 1, 2, ... from the left; the top of the scale is the highest share drawn (at least 10%)."""
    drawn = [c for c in report.cohorts if c.size and len(c.active) > 1][-CHART_COHORTS:]
    high = max([float(p) for c in drawn for p in c.retention[1:] if p is not None] + [10.0])
    columns = max(report.width - 1, 1)
    step = CHART_WIDTH / max(columns - 1, 1)
    inner = CHART_HEIGHT - 2 * CHART_PAD
    lines = []
    for i, cohort in enumerate(drawn):
        points = [f"{round(k * step, 1)},{round(CHART_PAD + inner - float(p) / high * inner, 1)}"
                  for k, p in enumerate(cohort.retention[1:])]
        if len(points) == 1:  # one month: a short flat mark rather than an invisible point
            x, y = points[0].split(",")
            points.append(f"{float(x) + 6},{y}")
        lines.append(Line(" ".join(points), PALETTE[i % len(PALETTE)], cohort.label))
    return lines, f"{high:.1f}%"


def segment_bars(report: customer_reports.CustomersReport) -> tuple[list, list, int]:
    """Stacked bars: customers per RFM segment at each month end."""
    high = max([m.total for m in report.segments] + [1])
    slot = CHART_WIDTH / max(len(report.segments), 1)
    width = max(slot * 0.8, 1.0)
    inner = CHART_HEIGHT - 2 * CHART_PAD
    colours = {segment: PALETTE[i % len(PALETTE)] for i, (segment, _l) in enumerate(report.segment_labels)}
    bars = []
    for i, month in enumerate(report.segments):
        top = CHART_PAD + inner
        for segment, label in report.segment_labels:
            count = month.counts.get(segment, 0)
            if not count:
                continue
            height = count / high * inner
            top -= height
            bars.append({"x": round(i * slot + (slot - width) / 2, 1), "y": round(top, 1), "width": round(width, 1),
                         "height": round(height, 1), "colour": colours[segment],
                         "title": f"{month.label}, {label}: {count}"})
    legend = [(colours[s], label) for s, label in report.segment_labels]
    return bars, legend, high


def customers(request: HttpRequest) -> HttpResponse:
    """Customers: cohorts, lifetime value, RFM segments over time (the Reports permission)."""
    _allowed(request)
    form = MonthsForm.with_defaults(request.GET)
    context = {**admin.site.each_context(request), "title": _("Customers"), "form": form,
               "zone": store_zone().key}
    if form.is_valid():
        report = customer_reports.customers_report(first=form.cleaned_data["first"], last=form.cleaned_data["last"])
        if request.GET.get("format") == "csv":
            return customers_csv(report, request.GET.get("table", "cohorts"))
        drill = request.user.has_perm(CUSTOMERS_PERMISSION)
        base = (f"{reverse('admin:reports_customers_members')}?first={report.first:%Y-%m}&last={report.last:%Y-%m}"
                if drill else "")
        high = max([p for c in report.cohorts for p in c.retention[1:] if p is not None], default=None)
        triangle = []
        for cohort in report.cohorts:
            cells = []
            for k, (count, share) in enumerate(zip(cohort.active, cohort.retention)):
                link = f"{base}&cohort={cohort.label}&month={k}" if drill and count else ""
                cells.append(TriangleCell(count, share, _shade(share, high) if k else "", link))
            whole = f"{base}&cohort={cohort.label}" if drill and cohort.size else ""
            triangle.append((cohort, cells, whole))
        lines, line_high = retention_lines(report)
        bars, legend, bar_high = segment_bars(report)
        sources = [(source, f"{base}&{urlencode({'source': source.key})}" if drill else "") for source in report.sources]
        context.update(
            segment_rows=[(m, [m.counts.get(s, 0) for s, _l in report.segment_labels]) for m in report.segments],
            report=report, triangle=triangle, offsets=range(report.width), sources=sources, drill=drill,
            lines=lines, line_high=line_high, bars=bars, legend=legend, bar_high=bar_high,
            chart_width=CHART_WIDTH, chart_height=CHART_HEIGHT, axis_y=CHART_HEIGHT + 14,
            csv={name: _csv_link(request, name) for name in ("cohorts", "ltv", "sources", "segments")},
        )
    return TemplateResponse(request, "analytics/reports/customers.html", context)


def customers_csv(report: customer_reports.CustomersReport, table: str) -> HttpResponse:
    name = f"customers-{table}-{report.first:%Y-%m}-{report.last:%Y-%m}"
    offsets = [_("Month %(k)s") % {"k": k} for k in range(report.width)]
    if table == "cohorts":
        return _csv(name, [_("Cohort"), _("Customers"), _("Repeat customers"), *offsets],
                    [[c.label, c.size, c.repeat, *c.active] for c in report.cohorts])
    if table == "ltv":
        return _csv(name, [_("Cohort"), _("Customers"), _("Net revenue"), _("Lifetime value"), *offsets],
                    [[c.label, c.size, c.total_revenue, c.ltv, *c.ltv_by_month] for c in report.cohorts])
    if table == "sources":
        return _csv(name, [_("Source"), _("Customers"), _("Repeat customers"), _("Net revenue"), _("Lifetime value")],
                    [[safe_text(s.label), s.customers, s.repeat, s.revenue, s.ltv] for s in report.sources])
    if table == "segments":
        return _csv(name, [_("Month"), _("As of"), *[label for _s, label in report.segment_labels], _("All")],
                    [[m.label, m.as_of.astimezone(store_zone()).isoformat(),
                      *[m.counts.get(s, 0) for s, _l in report.segment_labels], m.total] for m in report.segments])
    raise Http404("No such table.")


def customer_members(request: HttpRequest) -> HttpResponse:
    """The customers behind a cohort cell (`cohort=YYYY-MM` and `month=k`, or the whole cohort
    without `month`) or an acquisition source (`source=<key>`) of the report for `first`..`last`:
    the Reports permission and the CRM's view permission."""
    _allowed(request, CUSTOMERS_PERMISSION)
    form = MonthsForm.with_defaults(request.GET)
    cohort, source = request.GET.get("cohort", ""), request.GET.get("source")
    try:
        month = datetime.datetime.strptime(cohort, "%Y-%m").date() if cohort else None
        offset = int(request.GET.get("month", "-1"))
    except ValueError:
        raise Http404("Not a cohort.") from None
    if not form.is_valid() or (month is None and source is None):
        raise Http404("Pick a range, and a cohort or a source.")
    report = customer_reports.customers_report(first=form.cleaned_data["first"], last=form.cleaned_data["last"],
                                               members=True)
    if month is not None:
        ids = report.cohort_members.get((month, offset), set())
        what = (_("Cohort %(cohort)s, every customer") % {"cohort": cohort} if offset < 0 else
                _("Cohort %(cohort)s, customers who bought in month %(k)s") % {"cohort": cohort, "k": offset})
    else:
        ids = report.source_members.get(source, set())
        label = next((s.label for s in report.sources if s.key == source), source)
        what = _("Acquired through: %(source)s") % {"source": label}
    page = customer_reports.customers_with(ids, page=request.GET.get("page", 1))
    query = request.GET.copy()
    query.pop("page", None)
    context = {**admin.site.each_context(request), "title": _("Customers"), "what": what, "page": page,
               "count": len(ids), "query": query.urlencode(), "back": f"{reverse('admin:reports_customers')}?"
               f"first={report.first:%Y-%m}&last={report.last:%Y-%m}"}
    return TemplateResponse(request, "analytics/reports/customer_members.html", context)


# --- Marketing ---------------------------------------------------------------------------------


def marketing(request: HttpRequest) -> HttpResponse:
    """Revenue per campaign by last verified click (the Reports permission)."""
    _allowed(request)
    form = DaysForm.with_defaults(request.GET)
    context = {**admin.site.each_context(request), "title": _("Marketing"), "form": form,
               "zone": store_zone().key, "window_days": attribution.window().days}
    if form.is_valid():
        report = attribution.marketing_report(first=form.cleaned_data["first"], last=form.cleaned_data["last"])
        if request.GET.get("format") == "csv":
            name = f"marketing-{report.first}-{report.last}"
            rows = [[safe_text(r.label), safe_text(r.source), safe_text(r.campaign), r.clicks, r.orders, r.revenue]
                    for r in report.rows]
            rows.append([_("Not attributed"), "", "", "", report.not_attributed.orders, report.not_attributed.revenue])
            return _csv(name, [_("Campaign"), "utm_source", "utm_campaign", _("Clicks"), _("Orders"), _("Revenue")],
                        rows)
        links = request.user.has_perm(ORDERS_PERMISSION)
        base = reverse("admin:reports_marketing_orders")
        dates = f"first={report.first}&last={report.last}"
        rows = [(row, f"{base}?{dates}&{urlencode({'campaign': row.key})}" if links and row.orders else "",
                 reverse("admin:marketing_campaign_change", args=[row.campaign_id]) if row.campaign_id else "")
                for row in report.rows]
        high = max([r.revenue for r in report.rows] + [report.not_attributed.revenue], default=0) or 1
        bars = [{"label": row.label, "width": round(float(max(row.revenue, 0) / high) * 100, 1),
                 "value": format_money(row.revenue)} for row in report.rows[:10]]
        context.update(report=report, rows=rows, bars=bars, csv_link=_csv_link(request, "campaigns"),
                       none_link=f"{base}?{dates}&campaign=" if links and report.not_attributed.orders else "")
    return TemplateResponse(request, "analytics/reports/marketing.html", context)


def marketing_orders(request: HttpRequest) -> HttpResponse:
    """The orders attributed to one campaign (`campaign=<source>|<campaign>`, empty: not
    attributed) in the range: the Reports permission and the orders' view permission."""
    _allowed(request, ORDERS_PERMISSION)
    form = DaysForm.with_defaults(request.GET)
    if not form.is_valid() or "campaign" not in request.GET:
        raise Http404("Pick a range and a campaign.")
    report = attribution.marketing_report(first=form.cleaned_data["first"], last=form.cleaned_data["last"])
    key = request.GET["campaign"]
    row = next((r for r in report.rows if r.key == key), report.not_attributed if not key else None)
    if row is None:
        raise Http404("No such campaign in that range.")
    change = reverse("admin:orders_order_change", args=[0]).replace("/0/", "/{}/")
    orders = [(o, change.format(o.order_id)) for o in report.orders_of(key)]
    context = {**admin.site.each_context(request), "title": _("Marketing"), "report": report, "row": row,
               "label": row.label or _("Not attributed"), "orders": orders, "zone": store_zone().key}
    return TemplateResponse(request, "analytics/reports/marketing_orders.html", context)


# --- Promotions --------------------------------------------------------------------------------


def promotions(request: HttpRequest) -> HttpResponse:
    """Discount cost and revenue per promotion over the orders paid in the range (the Reports
    permission). Three queries plus the admin's own."""
    _allowed(request)
    form = DaysForm.with_defaults(request.GET)
    context = {**admin.site.each_context(request), "title": _("Promotions"), "form": form, "zone": store_zone().key}
    if form.is_valid():
        report = promotion_reports.promotions_report(first=form.cleaned_data["first"], last=form.cleaned_data["last"])
        change = reverse("admin:promotions_promotion_change", args=[0]).replace("/0/", "/{}/")
        context.update(report=report, rows=[(row, change.format(row.promotion_id)) for row in report.rows])
    return TemplateResponse(request, "analytics/reports/promotions.html", context)
