"""Reports: the Funnel page (/admin/reports/funnel/), and the period form and bar chart the
Products page shares.

Like Sales over time: no JavaScript, a GET form picks the store days, the charts are SVG drawn
here, each followed by the table that holds its numbers, and the CSV is those tables.
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

from . import funnel
from .services import store_today, store_zone
from .views import PALETTE, REPORTS_PERMISSION

DEFAULT_DAYS = 30
MAX_DAYS = 366
CHART_WIDTH, LABEL_WIDTH, BAR_AREA = 720, 170, 400
BAR_HEIGHT, BAR_GAP, GROUP_GAP = 16, 4, 12


class PeriodForm(forms.Form):
    first = forms.DateField(label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    @classmethod
    def with_defaults(cls, query) -> PeriodForm:
        """Bound to `query`, a missing date taking its default (the last DEFAULT_DAYS store days)."""
        data = query.copy()
        today = store_today()
        for name, default in (("last", today), ("first", today - datetime.timedelta(days=DEFAULT_DAYS - 1))):
            if not data.get(name):
                data[name] = str(default)
        return cls(data)

    def clean(self):
        data = super().clean()
        first, last = data.get("first"), data.get("last")
        if not (first and last):
            return data
        if first > last:
            raise forms.ValidationError(_("The start date is after the end date."))
        if (last - first).days + 1 > MAX_DAYS:
            raise forms.ValidationError(_("At most %(most)s days fit in one report: pick a shorter range.")
                                        % {"most": MAX_DAYS})
        return data


@dataclass
class HBar:
    y: int
    width: float
    colour: str
    label: str  # left of the bar
    text: str  # right of the bar
    link: str = ""

    @property
    def text_x(self) -> float:
        return round(LABEL_WIDTH + self.width + 6, 1)


@dataclass
class HChart:
    """Horizontal bars in groups (a heading line, then one bar per item)."""

    headings: list[tuple[int, str]]  # (y, text)
    bars: list[HBar]
    height: int
    width: int = CHART_WIDTH
    label_width: int = LABEL_WIDTH


def hbar_chart(groups: list[tuple[str, list[tuple[str, float, str, str]]]], *, scale: float) -> HChart:
    """`groups`: [(heading, [(label, value, text, link)])]; a bar's length is value / scale of
    the bar area. A heading of "" takes no line."""
    headings, bars, y = [], [], 0
    scale = scale or 1.0
    for heading, items in groups:
        if heading:
            y += 14
            headings.append((y, heading))
            y += 4
        for i, (label, value, text, link) in enumerate(items):
            bars.append(HBar(y, round(max(value, 0) / scale * BAR_AREA, 1), PALETTE[i % len(PALETTE)], label, text,
                             link))
            y += BAR_HEIGHT + BAR_GAP
        y += GROUP_GAP
    return HChart(headings, bars, max(y, 1))


def _percent_text(value) -> str:
    return "–" if value is None else f"{value}%"


def funnel_chart(segments: list[funnel.Segment]) -> HChart:
    """Each segment's steps as bars the length of their share of the segment's sessions, so a
    small segment's funnel compares with a large one's."""
    groups = []
    for segment in segments:
        items = [(figure.label, float(figure.of_sessions or 0),
                  f"{figure.count:,} ({_percent_text(figure.of_sessions)})", "") for figure in segment.figures]
        groups.append((segment.label if len(segments) > 1 else "", items))
    return hbar_chart(groups, scale=100.0)


def funnel_page(request: HttpRequest) -> HttpResponse:
    """The funnel (admin_view: staff only); only with the Reports permission. No customer data:
    counts of sessions only."""
    if not request.user.has_perm(REPORTS_PERMISSION):
        raise PermissionDenied
    form = PeriodForm.with_defaults(request.GET)
    report = None
    if form.is_valid():
        report = funnel.funnel_report(first=form.cleaned_data["first"], last=form.cleaned_data["last"])
        if request.GET.get("format") == "csv":
            return funnel_csv(report)
    context = {
        **admin.site.each_context(request),
        "title": _("Funnel"),
        "form": form,
        "report": report,
        "csv_query": csv_query(request),
        "zone": store_zone().key,
        "gap": int(funnel.SESSION_GAP.total_seconds() // 60),
    }
    if report:
        context.update(
            total_chart=funnel_chart([report.total]),
            total_segments=[report.total],
            device_chart=funnel_chart(report.devices),
            channel_chart=funnel_chart(report.channels),
            steps=[str(label) for _name, label, _event in funnel.STEPS],
        )
    return TemplateResponse(request, "analytics/reports/funnel.html", context)


def csv_query(request: HttpRequest) -> str:
    query = request.GET.copy()
    query["format"] = "csv"
    return f"{request.path}?{query.urlencode()}"


def funnel_csv(report: funnel.FunnelReport) -> HttpResponse:
    """Every segment's steps: one row per step, with its count, share of sessions and drop-off."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="funnel-{report.first}-{report.last}.csv"'
    writer = csv.writer(response)
    writer.writerow([_("From"), _("To"), _("Split"), _("Segment"), _("Step"), _("Sessions"), _("% of sessions"),
                     _("Drop-off from the step before (%)")])
    for kind, segments in ((_("All"), [report.total]), (_("Device"), report.devices),
                           (_("Channel"), report.channels)):
        for segment in segments:
            for figure in segment.figures:
                writer.writerow([report.first, report.last, kind, safe_text(segment.label), figure.label,
                                 figure.count, "" if figure.of_sessions is None else figure.of_sessions,
                                 "" if figure.drop_off is None else figure.drop_off])
    return response
